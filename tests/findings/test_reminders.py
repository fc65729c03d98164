"""The deadline sweep: reminders before due, overdue flags, escalation; never twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import (
    REMIND_DAYS_BEFORE,
    sweep_finding_deadlines,
)
from audit.models import Grade, Notification, Role, TrailEntry
from tests.findings.helpers import draft, world


def _notes(kind=None):
    stmt = select(Notification).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def _issued_major(make, library, now):
    w = world(make, library)
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.query(Notification).delete()  # the "issued" notice is not the sweep's
    return w, f


def test_reminder_before_response_due_sent_once(app, make, library, now):
    """Within the reminder window the owner is reminded once, however often the sweep runs."""
    w, f = _issued_major(make, library, now)
    early = now + dt.timedelta(days=14 - REMIND_DAYS_BEFORE - 1)
    assert sweep_finding_deadlines(early)["reminders"] == 0
    clock = now + dt.timedelta(days=14 - REMIND_DAYS_BEFORE)
    assert sweep_finding_deadlines(clock)["reminders"] == 1
    assert sweep_finding_deadlines(clock)["reminders"] == 0
    assert sweep_finding_deadlines(clock + dt.timedelta(days=2))["reminders"] == 0
    notes = _notes("finding_due_soon")
    assert [n.user_id for n in notes] == [w.owner.id]
    assert "response due" in notes[0].title


def test_escalation_climbs_the_ladder_once_per_step_with_history(app, make, library, now, login):
    """Overdue: the owner on the day; then the unit owner, the coordinators and top management,
    each at their configured step and only once; each step is in the finding's trail."""
    w, f = _issued_major(make, library, now)
    w.unit.owner = w.other_auditee  # unit owner differs from the finding owner
    top = make.user(roles=(Role.VIEWER,), name="Tom Management")
    app.config["FINDING_ESCALATION_LADDER"] = [(3, "unit_owner"), (6, "coordinators"), (9, "top_management")]
    db.session.flush()
    due = f.response_due_on

    def escalated():
        return sorted(n.user_id for n in _notes("finding_escalated"))

    day = lambda n: dt.datetime.combine(due + dt.timedelta(days=n), dt.time(9), tzinfo=dt.UTC)  # noqa: E731
    counts = sweep_finding_deadlines(day(1))
    assert counts["overdue"] == 1 and counts["escalations"] == 0
    assert sweep_finding_deadlines(day(3))["escalations"] == 1
    assert escalated() == [w.other_auditee.id]
    assert sweep_finding_deadlines(day(5))["escalations"] == 0
    assert sweep_finding_deadlines(day(6))["escalations"] == 1
    assert sweep_finding_deadlines(day(12))["escalations"] == 1
    assert sweep_finding_deadlines(day(20))["escalations"] == 0
    assert escalated() == sorted([w.other_auditee.id, w.coordinator.id, top.id])
    history = db.session.scalars(select(TrailEntry.summary).where(
        TrailEntry.object_id == f.id, TrailEntry.action == "escalate").order_by(TrailEntry.id)).all()
    assert history == ["Escalated to the unit owner: response overdue by 3 days",
                       "Escalated to the coordinators: response overdue by 6 days",
                       "Escalated to top management: response overdue by 12 days"]
    db.session.commit()
    page = login(w.coordinator).get(f"/findings/{f.id}").text
    assert all(h in page for h in history)


def test_extension_restarts_reminders(app, make, library, now):
    """An approved extension is a new due date: it gets its own reminder."""
    w, f = _issued_major(make, library, now)
    clock = now + dt.timedelta(days=10)
    sweep_finding_deadlines(clock)
    ext = fs.request_extension(f, deadline="response", new_due_on=f.response_due_on
                               + dt.timedelta(days=10), reason="Audit of sub-supplier first",
                               actor=w.owner, now=clock)
    fs.decide_extension(ext, approve=True, note=None, actor=w.coordinator, now=clock)
    assert sweep_finding_deadlines(clock + dt.timedelta(days=2))["reminders"] == 0
    assert sweep_finding_deadlines(now + dt.timedelta(days=18))["reminders"] == 1


def test_closed_and_ofi_findings_are_left_alone(app, make, library, now):
    """No reminders for closed findings or OFIs without deadlines."""
    w = world(make, library)
    ofi = draft(w, Grade.OFI, now=now)
    fs.issue_finding(ofi, actor=w.auditor, now=now)
    gp = draft(w, Grade.GOOD_PRACTICE, now=now)
    fs.issue_finding(gp, actor=w.auditor, now=now)
    counts = sweep_finding_deadlines(now + dt.timedelta(days=400))
    assert counts == {"reminders": 0, "overdue": 0, "escalations": 0, "action_reminders": 0,
                      "suppliers_changed": 0}


def test_action_owner_reminded_before_action_due(app, make, library, now):
    """Open actions due soon remind their owner once."""
    from tests.findings.helpers import to_status

    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "action_in_progress", now=now)
    due = f.actions[0].due_on
    clock = dt.datetime.combine(due - dt.timedelta(days=2), dt.time(6), tzinfo=dt.UTC)
    assert sweep_finding_deadlines(clock)["action_reminders"] == 1
    assert sweep_finding_deadlines(clock)["action_reminders"] == 0


def test_job_commits_and_is_idempotent(app, make, library, now):
    """The scheduler-shaped job commits its notifications; a second run adds none."""
    from audit.core.registry import registry

    finding_deadlines = next(j.function for j in registry(app).jobs if j.id == "finding_deadlines")

    w, f = _issued_major(make, library, now)
    db.session.commit()
    later = now + dt.timedelta(days=30)
    first = finding_deadlines(app, later)["sweep_finding_deadlines"]
    assert first["overdue"] == 1 and first["escalations"] >= 1
    second = finding_deadlines(app, later)["sweep_finding_deadlines"]
    assert second["overdue"] == 0 and second["escalations"] == 0
    assert db.session.query(Notification).filter_by(kind="finding_overdue").count() == 1


def test_overdue_counts_in_the_sites_calendar_not_utc(app, make, library, now):
    """At 20:00 UTC on the due day it is already the next day in Shanghai: overdue there."""
    w, f = _issued_major(make, library, now)
    w.audit.site.timezone = "Asia/Shanghai"
    db.session.flush()
    due = f.current_due_on()
    evening_utc = dt.datetime.combine(due, dt.time(20), dt.UTC)  # 04:00 next day in Shanghai
    assert sweep_finding_deadlines(evening_utc)["overdue"] == 1
    w.audit.site.timezone = "America/Los_Angeles"
    db.session.query(Notification).delete()
    next_morning_utc = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(6), dt.UTC)  # 22:00/23:00 on the due day
    assert sweep_finding_deadlines(next_morning_utc)["overdue"] == 0
