"""Scheduler: database lease, idempotent sweeps, catch-up after downtime, e-mail over real SMTP,
and two real scheduler processes against one database sending each reminder exactly once."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from audit.audits.reminders import send_audit_reminders
from audit.core.registry import Job, registry
from audit.extensions import db
from audit.models import JobRun, Notification
from audit.scheduling.lease import acquire_lease, release_lease
from audit.scheduling.runner import SchedulerProcess

ROOT = Path(__file__).resolve().parents[2]


def test_features_register_their_jobs(app):
    """Each feature's init_app registers its sweeps as (id, function, interval) in the app's registry."""
    jobs = registry(app).jobs
    assert {j.id for j in jobs} == {"extend_programme_horizons", "certification_deadlines", "audit_reminders",
                                    "finding_deadlines", "deliver_email", "management_review_reminders",
                                    "stage2_major_nc_deadlines", "prune_applied_mutations",
                                    "qualification_renewals", "coverage_gaps"}
    assert all(isinstance(j, Job) and j.interval > 0 and callable(j.function) and j.function.__doc__
               for j in jobs)


def test_lease_is_exclusive_until_expiry(app, now):
    """One holder at a time; the holder renews; another takes over only after expiry or release."""
    assert acquire_lease("a", now=now, ttl_seconds=60)
    assert not acquire_lease("b", now=now + dt.timedelta(seconds=30), ttl_seconds=60)
    assert acquire_lease("a", now=now + dt.timedelta(seconds=30), ttl_seconds=60)  # renewal
    assert not acquire_lease("b", now=now + dt.timedelta(seconds=80), ttl_seconds=60)
    assert acquire_lease("b", now=now + dt.timedelta(seconds=91), ttl_seconds=60)  # expired
    release_lease("b", now=now + dt.timedelta(seconds=92))
    assert acquire_lease("a", now=now + dt.timedelta(seconds=93), ttl_seconds=60)


def test_reminders_are_idempotent(app, reminder_audit):
    """A sweep run twice creates each reminder once: prepare to the team, plan to the owner."""
    T0 = reminder_audit["T0"]
    assert send_audit_reminders(now=T0) == 3
    db.session.commit()
    assert send_audit_reminders(now=T0) == 0
    kinds = {(n.user.name, n.kind) for n in db.session.scalars(select(Notification))}
    assert kinds == {("Lena Lead", "audit_prepare"), ("Arno Auditor", "audit_prepare"),
                     ("Otto Owner", "audit_plan")}


def test_day_before_after_downtime_supersedes_earlier_stages(app, reminder_audit):
    """A scheduler down until the eve of the audit sends only the day-before reminder, once."""
    T0 = reminder_audit["T0"]
    eve = T0 + dt.timedelta(days=4, hours=12)
    assert send_audit_reminders(now=eve) == 3
    db.session.commit()
    assert {n.kind for n in db.session.scalars(select(Notification))} == {"audit_day_before"}
    assert send_audit_reminders(now=eve + dt.timedelta(hours=1)) == 0


def test_catch_up_after_downtime(app, reminder_audit):
    """A scheduler that was down runs its overdue jobs once at start and sends what is due, once."""
    T0 = reminder_audit["T0"]
    db.session.add(JobRun(job_id="audit_reminders", last_run_at=T0 - dt.timedelta(days=20)))
    db.session.commit()
    jobs = [j for j in registry(app).jobs if j.id == "audit_reminders"]
    process = SchedulerProcess(app, clock=lambda: T0, jobs=jobs)
    process.start()
    try:
        deadline = time.monotonic() + 10
        while not process.runs and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.stop()
    assert process.runs == ["audit_reminders"]  # caught up once, next run an interval later
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Notification.id))) == 3
    assert db.session.get(JobRun, "audit_reminders").last_run_at == T0
    db.session.rollback()  # end the test's read transaction: SQLite writers queue behind it
    again = SchedulerProcess(app, clock=lambda: T0 + dt.timedelta(minutes=1), jobs=jobs)
    again.run_all_once()
    again.stop()
    assert again.runs == ["audit_reminders"]
    assert db.session.scalar(select(func.count(Notification.id))) == 3


def test_email_over_local_smtp(app, reminder_audit, smtp_server):
    """The outbox is sent over SMTP as text + HTML, each message once; opted-out mail is not sent."""
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, BASE_URL="http://audit.test")
    from audit.notifications.email import deliver_outbox
    from audit.notifications.services import save_preferences

    save_preferences(reminder_audit["owner"], {"audit_plan": (True, False)}, actor=None, now=reminder_audit["T0"])
    send_audit_reminders(now=reminder_audit["T0"])
    db.session.commit()
    assert deliver_outbox(now=reminder_audit["T0"]) == 2
    assert deliver_outbox(now=reminder_audit["T0"]) == 0
    assert sorted(m["To"] for m in inbox.messages) == ["arno@example.com", "lena@example.com"]
    message = inbox.messages[0]
    assert message["Subject"].startswith("Prepare for audit")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"http://audit.test/audits/{reminder_audit['audit'].id}" in text and "<a href=" in html


def _scheduler_env(db_url: str, tmp_path: Path, port: int) -> dict:
    env = dict(os.environ)
    env.update({
        "AUDIT_CONFIG": "development", "DATABASE_URL": db_url, "AUDIT_INSTANCE_PATH": str(tmp_path),
        "AUDIT_SECRET_KEY": "scheduler-test-" + "x" * 32, "AUDIT_MAIL_SERVER": "127.0.0.1",
        "AUDIT_MAIL_PORT": str(port), "AUDIT_SCHEDULER_LEASE_SECONDS": "60", "PYTHONPATH": str(ROOT),
    })
    return env


def test_two_scheduler_processes_send_each_reminder_once(app, db_url, reminder_audit, smtp_server, tmp_path):
    """Two real `flask scheduler run` processes on one database: one acts, the other stands by,
    and each reminder e-mail arrives exactly once."""
    port, inbox = smtp_server
    env = _scheduler_env(db_url, tmp_path, port)
    cmd = [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run", "--interval", "1",
           "--duration", "6", "--now", reminder_audit["T0"].isoformat()]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = [int(out.strip().rsplit("after ", 1)[1].split()[0]) for out, _ in outputs]
    assert sum(runs) >= 3, outputs
    # While one acted the other stood by (it may take over once the first released the lease).
    assert any("another scheduler holds the lease" in err for _, err in outputs), outputs
    assert sorted(m["To"] for m in inbox.messages) == ["arno@example.com", "lena@example.com", "otto@example.com"]
    db.session.expire_all()
    notes = db.session.scalars(select(Notification)).all()
    assert len(notes) == 3 and all(n.emailed_at is not None for n in notes)


def test_second_scheduler_takes_over_when_first_stops(app, db_url, reminder_audit, smtp_server, tmp_path):
    """After the active scheduler stops (releasing its lease), a standby acts on the next run."""
    port, inbox = smtp_server
    env = _scheduler_env(db_url, tmp_path, port)
    base = [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run", "--once", "--now"]
    first = subprocess.run(base + [reminder_audit["T0"].isoformat()], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and "ran:" in first.stdout, first
    later = (reminder_audit["T0"] + dt.timedelta(days=4, hours=12)).isoformat()
    second = subprocess.run(base + [later], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "ran:" in second.stdout, second
    assert len(inbox.messages) == 6  # 3 first reminders, then 3 day-before reminders


def test_scheduler_never_starts_outside_the_dev_server(tmp_path):
    """Web workers (no `flask run` command context), tests and production never start it in-process."""
    from audit import create_app
    from audit.scheduling import runner

    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                                     "SECRET_KEY": "k" * 40})
    assert app.config["SCHEDULER_IN_PROCESS"] is True
    assert runner._in_process is None


def test_a_guide_is_reminded_with_the_auditees(app, make, reminder_audit):
    """A guide (appointed by the auditee, on the team) gets the auditees' plan reminder, not
    the auditors' preparation one — and is never left out of both."""
    from audit.models import AuditTeamMember, TeamRole

    guide = make.user(name="Gina Guide", email="gina@example.com")
    db.session.add(AuditTeamMember(audit=reminder_audit["audit"], user=guide, role=TeamRole.GUIDE))
    db.session.commit()
    send_audit_reminders(now=reminder_audit["T0"])
    kinds = {n.kind for n in db.session.scalars(select(Notification).where(Notification.user_id == guide.id))}
    assert kinds == {"audit_plan"}
