"""Audits in "waiting for me" (``core.todo``): the audits the coordinators must act on.

An audit waits for the coordinators -- the people whose own role holds MANAGE_PROGRAMME, never an
administrator because of blanket rights (as with programmes and reports) -- when:

- it is overdue: its dates, or undated its planned day, passed before it started (the overdue
  sweep's rule, ``overdue_clause`` / ``overdue_day``); the item carries the day the sweep names;
- it must happen by a deadline (``due_by``: a trigger, a major NC's follow-up, a certification
  cycle step) and still has no dates or no lead; the item carries that deadline;
- it is planned, without a deadline, with no dates or no lead, and its planned day is within
  ``PLACING_DAYS``: nobody else places it (the planner only proposes); the item carries that day;
- it is staffed and starts within ``staffing_watch.WATCH_DAYS`` but its team no longer covers
  its scope on its days (``staffing_watch.lapses``, the rule of the staffing sweep); the item
  carries the audit's first day;
- its report is issued (or it is in follow-up) and nothing raised in it is still open: it is the
  coordinators' to close; the item carries the day it became ready (the report's or the last
  finding's closing day at the audit's site). While a finding is open the audit waits on that
  finding, which is its owner's turn (``findings.waiting``).

One item per audit, the most pressing. The candidates and everything the rules read come in a
fixed number of queries whatever the number of audits; none for people who do not coordinate.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from audit.audits.staffing_watch import lapses, team_loading, watched_clause
from audit.auth.permissions import Permission, permissions_for
from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Finding,
    FindingStatus,
    Role,
    TeamRole,
)

#: At most this many audits are examined (the earliest planned first).
LIMIT = 300
#: A planned audit still without dates or lead waits for the coordinators from this many days
#: before its planned day: time to find a qualified team and agree the days before the longest
#: reminder lead (``reminders.DEFAULT_LEAD_DAYS``: 30 days) and the certification warnings'
#: first stage (``programme.deadlines.WARN_DAYS``: 60 days) come due.
PLACING_DAYS = 60
#: What each item asks of the coordinator, as the list says it.
LABELS = {
    "overdue": "Overdue audit: hold, reschedule or postpone it",
    "restaff": "Team no longer qualified: renew or re-staff",
    "staff_and_date": "Audit to staff and date",
    "name_lead": "Lead auditor to name",
    "set_dates": "Audit dates to set",
    "close": "Audit to close: its findings are closed",
}
#: After the report: the audit is followed up until nothing raised in it is open.
REPORTED = (AuditStatus.REPORT_ISSUED, AuditStatus.FOLLOW_UP)


def coordinator_roles() -> list[Role]:
    """Roles whose own job holds MANAGE_PROGRAMME (programmes, audits, teams). An administrator
    may act too, with blanket rights, but audits are not their turn."""
    return [r for r in Role if r is not Role.ADMIN and Permission.MANAGE_PROGRAMME in permissions_for({r})]


def coordinates(user) -> bool:
    """Whether audits that need a coordinator wait for ``user``."""
    return bool(set(coordinator_roles()) & user.roles)


def overdue_clause(now: dt.datetime):
    """SQL: audits not started whose dates are over, or undated whose planned day may be over
    somewhere (``overdue_day`` decides in the audit's own zone). The overdue sweep's rule."""
    return Audit.status.in_(AuditStatus.not_started()) & (
        (Audit.ends_at.is_not(None) & (Audit.ends_at < now))
        | (Audit.starts_at.is_(None) & (Audit.planned_date < now.date() + dt.timedelta(days=1))))


def overdue_day(audit: Audit, now: dt.datetime) -> dt.date | None:
    """The day an overdue audit was planned for -- its last local day, or undated its planned
    day once that day is over at its own site -- or None when it is not overdue at ``now``."""
    if audit.status not in AuditStatus.not_started():
        return None
    if audit.ends_at is not None:
        return audit.local_dates()[1] if audit.ends_at < now else None
    if (audit.starts_at is None and audit.planned_date is not None
            and audit.planned_date < audit.local_today(now)):
        return audit.planned_date
    return None


def _without_lead(audit: Audit) -> bool:
    # Third-party audits are staffed by the certification body (``workflow.staffing_problem``).
    return audit.lead is None and audit.kind is not AuditKind.THIRD_PARTY


def _to_staff_clause(now: dt.datetime):
    """SQL: audits not started, still without dates or without a lead, due by a deadline or
    planned within ``PLACING_DAYS`` (a day more: ``_placing_day`` decides at the audit's site)."""
    no_lead = (Audit.kind != AuditKind.THIRD_PARTY) & ~Audit.team.any(AuditTeamMember.role == TeamRole.LEAD)
    near = ((Audit.status == AuditStatus.PLANNED) & Audit.planned_date.is_not(None)
            & (Audit.planned_date <= now.date() + dt.timedelta(days=PLACING_DAYS + 1)))
    return (Audit.status.in_(AuditStatus.not_started()) & (Audit.due_by.is_not(None) | near)
            & (Audit.starts_at.is_(None) | no_lead))


def _placing_day(audit: Audit, today: dt.date) -> dt.date | None:
    """The day by which ``audit`` must be placed: its deadline, or for a planned audit without
    one its planned day once within ``PLACING_DAYS`` of ``today`` (the audit's local day)."""
    if audit.due_by is not None:
        return audit.due_by
    if (audit.status is AuditStatus.PLANNED and audit.planned_date is not None
            and (audit.planned_date - today).days <= PLACING_DAYS):
        return audit.planned_date
    return None


def _to_close_clause():
    """SQL: audits past their report with no finding open (drafts never count: the report's
    issue refuses them)."""
    open_finding = select(Finding.id).where(
        Finding.audit_id == Audit.id, Finding.status.not_in((FindingStatus.CLOSED, FindingStatus.DRAFT)))
    return Audit.status.in_(REPORTED) & ~open_finding.exists()


def _ready_days(audits) -> dict[int, dt.date]:
    """The day each reported audit became ready to close, at its site: its report's issue or its
    last finding's closing, whichever came later (one query)."""
    reported = [audit for audit in audits if audit.status in REPORTED]
    if not reported:
        return {}
    last_closed = dict(db.session.execute(
        select(Finding.audit_id, func.max(Finding.closed_at))
        .where(Finding.audit_id.in_([audit.id for audit in reported])).group_by(Finding.audit_id)).all())
    days = {}
    for audit in reported:
        moments = [m for m in (audit.report_issued_at, last_closed.get(audit.id)) if m is not None]
        days[audit.id] = audit.local_today(max(moments) if moments else audit.updated_at)
    return days


def _item(audit: Audit, step: str, title: str, due: dt.date, overdue: bool) -> ToDo:
    # A plain path: the list is also computed outside requests (sweeps, tests).
    return ToDo("audits", step, LABELS[step], audit.reference, title, f"/audits/{audit.id}", due, "Audit",
                overdue)


def _item_for(audit: Audit, now: dt.datetime, ready_day: dt.date | None) -> ToDo | None:
    """The most pressing thing ``audit`` waits for from a coordinator, if any (``ready_day``: the
    day a reported audit with nothing open became ready to close)."""
    if ready_day is not None:
        return _item(audit, "close", f"{audit.title}: {audit.status.label.lower()}, no finding open",
                     ready_day, False)
    today = audit.local_today(now)
    day = overdue_day(audit, now)
    if day is not None:
        return _item(audit, "overdue", f"{audit.title}: still {audit.status.label.lower()}", day, True)
    if audit.status in (AuditStatus.SCHEDULED, AuditStatus.PLAN_ISSUED) and audit.starts_at is not None:
        problems = lapses(audit)
        if problems:
            first = audit.local_dates()[0]
            return _item(audit, "restaff", problems[0][1].message, first, first < today)
    due = _placing_day(audit, today)
    if due is not None and audit.status in AuditStatus.not_started():
        undated, unled = audit.starts_at is None, _without_lead(audit)
        step = ("staff_and_date" if undated and unled else "set_dates" if undated
                else "name_lead" if unled else None)
        if step is not None:
            return _item(audit, step, audit.title, due, due < today)
    return None


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """The audits waiting for ``user`` as coordinator, each linked to the audit page."""
    if not user.is_active or not coordinates(user):
        return []
    audits = db.session.scalars(
        select(Audit).where(or_(overdue_clause(now), _to_staff_clause(now), watched_clause(now),
                                _to_close_clause()))
        .options(*team_loading())
        .order_by(Audit.planned_date.is_(None), Audit.planned_date, Audit.id).limit(LIMIT)).unique().all()
    ready = _ready_days(audits)
    return [item for audit in audits if (item := _item_for(audit, now, ready.get(audit.id))) is not None]
