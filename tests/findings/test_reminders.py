"""The deadline sweep: reminders before due, overdue flags, escalation; never twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import (
    ESCALATE_AFTER_DAYS,
    REMIND_DAYS_BEFORE,
    sweep_finding_deadlines,
)
from audit.models import Grade, Notification
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


def test_overdue_flag_then_escalation_to_coordinators_and_unit_owner(app, make, library, now):
    """Overdue: owner told; after the grace days, coordinators and the unit owner too; once."""
    w, f = _issued_major(make, library, now)
    w.unit.owner = w.other_auditee  # unit owner differs from the finding owner
    db.session.flush()
    overdue = now + dt.timedelta(days=15)
    counts = sweep_finding_deadlines(overdue)
    assert counts["overdue"] == 1 and counts["escalations"] == 0
    assert f.is_overdue(overdue.date())
    late = now + dt.timedelta(days=14 + ESCALATE_AFTER_DAYS + 1)
    counts = sweep_finding_deadlines(late)
    assert counts["overdue"] == 0 and counts["escalations"] == 2
    assert {n.user_id for n in _notes("finding_escalated")} == {w.coordinator.id,
                                                                 w.other_auditee.id}
    again = sweep_finding_deadlines(late + dt.timedelta(days=1))
    assert again["escalations"] == 0 and again["overdue"] == 0


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
