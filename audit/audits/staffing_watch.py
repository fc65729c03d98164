"""A staffed audit's team can stop covering its scope while nobody touches the audit: a lead's or
an auditor's qualification lapses before the audit days, or a member's account is deactivated.
The life cycle then refuses to start the audit (``workflow.staffing_problem``) on the very day it
is held.

This watch applies the team rules of ``audits.team`` that a change elsewhere can break -- each
member's account still active (``inactive_problems``), each auditing member's competence on the
audit days (``qualification_problems``) and the team's coverage of every standard in scope
(``coverage_problems``) -- to the audits scheduled or plan-issued that
start within ``WATCH_DAYS``. The sweep (``send_staffing_warnings``, in the audit reminders' job)
tells the coordinators and the lead once per audit, problems and dates; the coordinators'
"waiting for me" (``audits.waiting``) lists the audit until the team is fixed.

Both read only what one query per relation loads (no per-audit query): double bookings and
travel days, which only a change to some audit can create, are checked by that change.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.team import Problem, coverage_problems, inactive_problems, qualification_problems
from audit.extensions import db
from audit.models import Audit, AuditStatus, AuditTeamMember, User
from audit.notifications.services import notify
from audit.people.services import coordinators

#: How far ahead the watch looks: time enough to renew a qualification or re-staff.
WATCH_DAYS = 30
#: Staffed audits whose fieldwork has not started (the team must already cover the scope).
WATCHED = (AuditStatus.SCHEDULED, AuditStatus.PLAN_ISSUED)
#: The notification kind of the warnings (and of ``conduct.lifecycle``'s refused moves).
KIND = "audit_staffing"
KINDS = {KIND: "Team problem: a coming audit's team no longer covers its scope (a qualification "
               "lapsed, an account was deactivated), or an audit could not move on because of its team"}

#: What each audience is expected to do about a lapsed team.
EXPECTED = {
    "coordinator": "Record the renewed qualification if it was renewed, or change the team on the audit page so "
                   "that it covers the scope on the audit days; otherwise postpone the audit with a reason.",
    "lead": "Renew your qualification, or agree a change of team with the audit coordinator: the audit "
            "cannot start with this team.",
}


def watched_clause(now: dt.datetime):
    """SQL: the audits the watch looks at -- staffed, not started, starting within WATCH_DAYS
    and not over yet."""
    return (Audit.status.in_(WATCHED) & Audit.starts_at.is_not(None)
            & (Audit.starts_at <= now + dt.timedelta(days=WATCH_DAYS)) & (Audit.ends_at >= now))


def team_loading():
    """Loader options for what ``lapses`` reads: team, people, qualifications, standards, zone."""
    return (joinedload(Audit.site), joinedload(Audit.supplier), selectinload(Audit.standards),
            selectinload(Audit.team).joinedload(AuditTeamMember.user).selectinload(User.qualifications))


def lapses(audit: Audit) -> list[tuple[int | None, Problem]]:
    """The problems of ``audit``'s team on its days: ``(member's user id, problem)`` per member
    whose account is deactivated or whose qualification no longer holds, then ``(None, problem)``
    when the team no longer covers every standard in scope. Empty for an audit without dates."""
    span = audit.local_dates()
    if span is None:
        return []
    first, last = span
    found: list[tuple[int | None, Problem]] = []
    for member in audit.team:
        found += [(member.user_id, p) for p in inactive_problems(member.user)]
        found += [(member.user_id, p) for p in qualification_problems(member.user, member.role,
                                                                      audit.standards, first, last)]
    # ``today`` only matters for an undated audit, which has no lapse to find.
    found += [(None, p) for p in coverage_problems(audit, today=first)]
    return found


def _headline(problems: list[tuple[int | None, Problem]]) -> str:
    if any(problem.rule == "inactive" for _subject, problem in problems):
        return "Team member deactivated"
    return "Team no longer qualified"


def send_staffing_warnings(*, now: dt.datetime) -> int:
    """Tell the coordinators and the lead, once per audit, problems and dates, that a coming
    audit's team no longer covers its scope. Returns notifications made."""
    audits = db.session.scalars(select(Audit).where(watched_clause(now)).options(*team_loading())
                                .order_by(Audit.starts_at, Audit.id)).unique().all()
    found = [(audit, problems) for audit in audits if (problems := lapses(audit))]
    if not found:
        return 0
    staff = coordinators()
    made = 0
    for audit, problems in found:
        first = audit.local_dates()[0]
        audience = [(person, "coordinator") for person in staff]
        if audit.lead is not None:
            audience.append((audit.lead, "lead"))
        # One notice per person for the problems found together (a lapsed qualification usually
        # leaves a standard uncovered too); a new problem later is told again.
        found_key = ",".join(sorted(f"{p.rule}:{subject or 'team'}" for subject, p in problems))
        digest = hashlib.sha1(found_key.encode()).hexdigest()[:12]
        happened = " ".join(p.message for _, p in problems)
        for person, role in audience:
            body = "\n".join([f"What happened: {happened}",
                              f"What is expected of you: {EXPECTED[role]}",
                              f"By: {first:%d %b %Y} (the audit's first day)"])
            title = f"{_headline(problems)}: {audit.reference} on {first:%d %b %Y}"
            if notify(person, kind=KIND, title=title,
                      body=body, link=f"/audits/{audit.id}", now=now,
                      dedupe_key=f"audit:{audit.id}:staffing:{audit.starts_at:%Y%m%d%H%M}:{digest}:{person.id}"):
                made += 1
    return made
