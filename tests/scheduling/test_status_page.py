"""The scheduler page: in coordinators' navigation, upcoming runs, the reminders of the next 14
days (the sweep's own rules), readable results, constant queries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.audits.reminders import send_audit_reminders, upcoming_reminders
from audit.extensions import db
from audit.models import AuditStatus, JobRun, Notification, Role, TeamRole
from audit.scheduling.jobs import describe_result

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


def _audit(make, start: dt.datetime):
    lead, owner = make.user(name="Lea Lead"), make.user(name="Olga Owner")
    unit = make.unit(owner=owner)
    audit = make.audit(starts_at=start, ends_at=start + dt.timedelta(hours=8), status=AuditStatus.SCHEDULED,
                       team=[(lead, TeamRole.LEAD)])
    audit.units.append(unit)
    db.session.flush()
    return audit


def test_upcoming_reminders_are_the_ones_the_sweep_sends(app, make):
    """Each reminder listed for the next 14 days is sent by the sweep at that time, to those people."""
    audit = _audit(make, NOW + dt.timedelta(days=10))
    rows = upcoming_reminders(now=NOW, days=14)
    # internal audit: prepare (14 days before) is already past; plan (7) and day-before (1) are ahead;
    # the plan is not issued, so its stage is the lead's turn to issue it, not news for the auditees
    assert [(r["stage"], r["at"]) for r in rows] == [
        ("Issue the plan (lead)", audit.starts_at - dt.timedelta(days=7)),
        ("Audit tomorrow", audit.starts_at - dt.timedelta(days=1))]
    assert rows[0]["people"] == ["Lea Lead"] and rows[1]["people"] == ["Lea Lead", "Olga Owner"]
    assert send_audit_reminders(now=NOW) == 1  # the "prepare" stage already due: sent now, not listed
    for row in rows:
        before = db.session.scalar(select(db.func.count(Notification.id)))
        assert send_audit_reminders(now=row["at"] - dt.timedelta(minutes=1)) == 0
        assert send_audit_reminders(now=row["at"]) == len(row["people"])
        names = {n.user.name for n in db.session.scalars(select(Notification).order_by(Notification.id)
                                                          .offset(before))}
        assert names == set(row["people"])
    assert db.session.scalar(select(db.func.count(Notification.id))) == 4
    assert upcoming_reminders(now=NOW + dt.timedelta(days=11), days=14) == []


def test_results_read_as_text():
    """Job results read as words and counts, not Python dict reprs."""
    assert describe_result({"send_audit_reminders": 3, "send_overdue_audits": 0}) == \
        "audit reminders: 3; overdue audits: 0"
    assert describe_result({}) == "nothing to do"


def test_coordinator_finds_the_page_in_the_navigation(app, make, login, count_queries, monkeypatch):
    """A coordinator sees "Scheduler" in the menu; the page shows next runs, readable results and
    the coming reminders with as many queries for five audits as for one; auditors are refused."""
    import audit.scheduling.views as views

    monkeypatch.setattr(views, "utcnow", lambda: NOW)
    coordinator = make.user(roles=(Role.COORDINATOR,))
    auditor = make.user(roles=(Role.AUDITOR,))
    _audit(make, NOW + dt.timedelta(days=5))
    db.session.add(JobRun(job_id="audit_reminders", last_run_at=NOW - dt.timedelta(minutes=5),
                          result=str({"send_audit_reminders": 2, "send_report_reminders": 0})))
    db.session.commit()
    client = login(coordinator)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/scheduler/"' in home
    with count_queries() as one:
        page = client.get("/admin/scheduler/").get_data(as_text=True)
    assert "audit reminders: 2; report reminders: 0" in page and "{" not in page.split("<h1>")[1]
    assert "Audit tomorrow" in page and "Lea Lead" in page
    assert "as soon as a scheduler runs" in page  # jobs that never ran
    for _ in range(4):
        _audit(make, NOW + dt.timedelta(days=6))
    db.session.commit()
    client.get("/admin/scheduler/")  # same footing as the first count: the session's user is loaded
    with count_queries() as five:
        page = client.get("/admin/scheduler/").get_data(as_text=True)
    assert page.count("Audit tomorrow") == 5
    assert five.count == one.count
    assert login(auditor).get("/admin/scheduler/").status_code == 403
    assert 'href="/admin/scheduler/"' not in login(auditor).get("/").get_data(as_text=True)
