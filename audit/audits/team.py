"""Team assignment rules (ISO 19011 clause 7, ISO 9001 9.2.2 c), shared by services and the planner.

Every rule returns plain-language problems instead of raising, so the planner can try many
candidates cheaply and the services can raise the first problem as a DomainError
(``check_team`` does it for a change of dates or scope, with the travel-day waiver).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    AuditTeamMember,
    QualificationLevel,
    Role,
    TeamRole,
    Unit,
    User,
    UserRole,
)

#: Statuses in which the team must already cover every standard in scope.
STAFFED_STATUSES = (AuditStatus.SCHEDULED, AuditStatus.PLAN_ISSUED, AuditStatus.IN_PROGRESS)
#: Statuses whose audits no longer occupy anybody's calendar.


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``rule`` is a stable code (tests, planner), ``message`` is for people."""

    rule: str
    message: str


def _fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y")


def audit_days(audit: Audit, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days an assignment must be valid on: the audit's dates, else its planned date, else today."""
    local = audit.local_dates()
    if local:
        return local
    day = audit.planned_date or today
    return day, day + dt.timedelta(days=max((audit.planned_days or 1) - 1, 0))


def _valid_levels(user: User, standard_id: int, first: dt.date, last: dt.date) -> list[QualificationLevel]:
    return [q.level for q in user.qualifications
            if q.standard_id == standard_id and q.is_valid_on(first) and q.is_valid_on(last)]


def covered_standards(user: User, standards, first: dt.date, last: dt.date,
                      level: QualificationLevel = QualificationLevel.AUDITOR) -> set[int]:
    """Ids of the ``standards`` ``user`` holds a qualification of at least ``level`` for, valid on
    every audit day."""
    return {s.id for s in standards
            if any(lv.rank >= level.rank for lv in _valid_levels(user, s.id, first, last))}


def qualification_problems(user: User, role: TeamRole, standards, first: dt.date, last: dt.date) -> list[Problem]:
    """Competence of one member (ISO 19011 7.2.3, ISO/IEC 17021-1 7.2): a member contributes a
    valid qualification for at least one standard in scope (trainees at trainee level); the lead
    holds a lead qualification for at least one. That the team *together* covers every standard
    is ``coverage_problems``."""
    if not role.is_auditing:
        return []
    if not standards:
        return [Problem("no_standard", "Add the standards in scope before assigning auditors: "
                                       "qualifications are checked per standard.")]
    needed = QualificationLevel.TRAINEE if role is TeamRole.TRAINEE else QualificationLevel.AUDITOR
    if role is TeamRole.LEAD and covered_standards(user, standards, first, last, QualificationLevel.LEAD):
        return []
    if role is not TeamRole.LEAD and covered_standards(user, standards, first, last, needed):
        return []
    problems: list[Problem] = []
    for standard in standards:
        levels = _valid_levels(user, standard.id, first, last)
        if not levels:
            held = [q for q in user.qualifications if q.standard_id == standard.id]
            if held:
                until = max((q.valid_until for q in held if q.valid_until), default=None)
                detail = f" (expired {_fmt(until)})" if until and until < last else ""
                problems.append(Problem(
                    "qualification_expired",
                    f"{user.name}'s {standard.code} qualification is not valid on the audit dates "
                    f"{_fmt(first)} – {_fmt(last)}{detail}."))
            else:
                problems.append(Problem(
                    "not_qualified", f"{user.name} holds no {standard.code} auditor qualification."))
            continue
        best = max(levels, key=lambda lv: lv.rank)
        if best.rank < needed.rank:
            problems.append(Problem(
                "level_too_low",
                f"{user.name} is only qualified as {best.label} for {standard.code}; "
                f"the {role.label.lower()} role needs {needed.label}."))
    if role is TeamRole.LEAD and not problems:
        codes = " or ".join(s.code for s in standards)
        problems.append(Problem(
            "lead_not_qualified",
            f"{user.name} cannot lead: no valid lead-auditor qualification for {codes}."))
    return problems


#: The roles whose qualifications cover a standard in scope. Trainees, technical experts,
#: observers and guides never do (ISO 19011 7.2: they support, they do not audit alone).
COVERING_ROLES = (TeamRole.LEAD, TeamRole.AUDITOR)


def team_coverage(audit: Audit, first: dt.date, last: dt.date, extra: list[User] = ()) -> set[int]:
    """Ids of the standards in scope that the team's leads and auditors (plus ``extra`` people)
    hold a valid auditor qualification for on every day of [first, last]; deactivated accounts
    do not count. The one coverage rule: the services check it, the planner builds teams with it."""
    people = [m.user for m in audit.team if m.role in COVERING_ROLES] + list(extra)
    covered: set[int] = set()
    for user in filter(lambda person: person.is_active, people):
        covered |= covered_standards(user, audit.standards, first, last)
    return covered


def uncovered_standards(audit: Audit, *, today: dt.date, extra: list[User] = ()) -> list:
    """Standards in scope that no lead or auditor of the team (plus ``extra`` people) holds a
    valid auditor qualification for on the audit days (``team_coverage``)."""
    first, last = audit_days(audit, today)
    covered = team_coverage(audit, first, last, extra)
    return [s for s in audit.standards if s.id not in covered]


def coverage_problems(audit: Audit, *, today: dt.date) -> list[Problem]:
    """The team as a whole must hold a valid qualification for every standard in scope."""
    if not audit.team or audit.kind.value == "third_party":
        return []
    missing = uncovered_standards(audit, today=today)
    if not missing:
        return []
    codes = ", ".join(s.code for s in missing)
    return [Problem("standard_not_covered",
                    f"No lead or auditor in the team is qualified for {codes}: add an auditor who is.")]


def impartiality_problems(user: User, role: TeamRole, units, justification: str | None) -> list[Problem]:
    """Objectivity: no auditing a unit you own or belong to, unless a justification is recorded."""
    if not role.is_auditing or (justification or "").strip():
        return []
    problems = []
    for unit in units:
        if unit.owner_id == user.id:
            why = "owns"
        elif any(m.id == user.id for m in unit.members):
            why = "belongs to"
        else:
            continue
        problems.append(Problem(
            "impartiality",
            f"{user.name} {why} {unit.name} and may not audit it. A coordinator may record a "
            f"justification (e.g. a small organisation) to allow it."))
    return problems


def overlapping_audits(user_ids, starts_at: dt.datetime | None, ends_at: dt.datetime | None,
                       *, exclude_audit_id: int | None = None) -> dict[int, list[Audit]]:
    """Other live audits of each user that overlap the interval (one query)."""
    if starts_at is None or ends_at is None or not user_ids:
        return {}
    stmt = (
        select(AuditTeamMember.user_id, Audit)
        .join(Audit, AuditTeamMember.audit_id == Audit.id)
        .where(AuditTeamMember.user_id.in_(list(user_ids)),
               AuditTeamMember.role != TeamRole.GUIDE,
               Audit.status.not_in(AuditStatus.inactive()),
               Audit.starts_at < ends_at, Audit.ends_at > starts_at)
    )
    if exclude_audit_id is not None:
        stmt = stmt.where(Audit.id != exclude_audit_id)
    result: dict[int, list[Audit]] = {}
    for user_id, other in db.session.execute(stmt):
        result.setdefault(user_id, []).append(other)
    return result


def double_booking_problems(user: User, role: TeamRole, audit: Audit) -> list[Problem]:
    """Nobody (guides aside: the auditee appoints them) is in two overlapping audits."""
    if role is TeamRole.GUIDE:
        return []
    clashes = overlapping_audits([user.id], audit.starts_at, audit.ends_at,
                                 exclude_audit_id=audit.id).get(user.id, [])
    return [Problem("double_booking",
                    f"{user.name} is already booked on {other.reference} ({other.title}) at that time.")
            for other in clashes]


def travel_problems(user: User, role: TeamRole, audit: Audit) -> list[Problem]:
    """A travel day between audits in different countries (DOMAIN planning practice): nobody
    audits in one country on the working day before or after an audit in another. The planner's
    pool keeps the same rule while it searches (``programme.pool.Pool.free``); this is it for a
    team change or a reschedule, where a recorded reason may override it (``reschedule_audit``).
    """
    span = audit.local_dates()
    if role is TeamRole.GUIDE or span is None:
        return []
    # Imported here: ``dates`` builds on this module's ``Problem``.
    from audit.audits.dates import audit_country, next_working_day, previous_working_day

    before, after = previous_working_day(span[0]), next_working_day(span[1])
    # Other audits near those days; a day's margin either side covers any zone offset.
    window = (audit.starts_at - dt.timedelta(days=(span[0] - before).days + 1),
              audit.ends_at + dt.timedelta(days=(after - span[1]).days + 1))
    country = audit_country(audit)
    problems = []
    for other in overlapping_audits([user.id], *window, exclude_audit_id=audit.id).get(user.id, []):
        other_span, other_country = other.local_dates(), audit_country(other)
        near = [d for d in (before, after) if other_span and other_span[0] <= d <= other_span[1]]
        if near and other_country != country:
            problems.append(Problem(
                "travel", f"{user.name} audits {other.reference} in {other_country} on {near[0]:%a %d %b %Y}: "
                          f"leave a travel day between audits in different countries ({country} here)."))
    return problems


def inactive_problems(user: User) -> list[Problem]:
    """A deactivated account cannot take part: it can no longer log in to do its part."""
    return [] if user.is_active else [Problem("inactive", f"{user.name}'s account is deactivated.")]


def member_problems(audit: Audit, user: User, role: TeamRole, *, justification: str | None = None,
                    today: dt.date) -> list[Problem]:
    """Every rule for putting ``user`` in ``audit``'s team as ``role``."""
    first, last = audit_days(audit, today)
    problems = inactive_problems(user)
    problems += qualification_problems(user, role, audit.standards, first, last)
    problems += impartiality_problems(user, role, audit.units, justification)
    problems += double_booking_problems(user, role, audit)
    problems += travel_problems(user, role, audit)
    return problems


def team_problems(audit: Audit, *, today: dt.date) -> list[Problem]:
    """Re-check the whole current team (after dates, scope or standards change)."""
    problems: list[Problem] = []
    leads = [m for m in audit.team if m.role is TeamRole.LEAD]
    if len(leads) > 1:
        problems.append(Problem("two_leads", "An audit has exactly one lead auditor."))
    for member in audit.team:
        problems += member_problems(audit, member.user, member.role,
                                    justification=member.impartiality_justification, today=today)
    if audit.status in STAFFED_STATUSES:
        # A scheduled audit's team must cover its scope; while planned, the team is being built.
        problems += coverage_problems(audit, today=today)
    return problems


def load_candidates() -> list[User]:
    """Active auditors with qualifications loaded (the planner's pool, one query each)."""

    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.is_active.is_(True), UserRole.role == Role.AUDITOR)
        .options(selectinload(User.qualifications))
        .order_by(User.id)
        .distinct()
    )
    return list(db.session.scalars(stmt))


def units_with_people(unit_ids) -> list[Unit]:
    """Units with owner and members loaded, for impartiality checks."""
    if not unit_ids:
        return []
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(list(unit_ids)))
                                   .options(selectinload(Unit.members))))


#: The reschedule form's way past the travel-day rule (its reason field).
TRAVEL_OVERRIDE_HINT = "Choose other days, or give a reason to skip the travel day."
#: The same on the audit's edit form, whose reason field is the dates' override reason.
TRAVEL_FORM_HINT = "Choose other days, or give a reason for the dates to skip the travel day."


def check_team(audit: Audit, *, today: dt.date, reason: str | None, changes: dict, hint: str,
                reason_field: str, reason_key: str, travel: bool = True) -> None:
    """The team rules after a change of dates or scope (``team_problems``), raised first.

    The travel day is planning practice, not a norm (DOMAIN): a recorded ``reason`` skips it and
    is kept in ``changes`` under ``reason_key``; refused over the travel day alone, the message
    ends with ``hint`` and names ``reason_field``. ``travel=False`` leaves the travel day out
    (the audit's days did not move).
    """
    issues = team_problems(audit, today=today)
    travel_issues = [p for p in issues if p.rule == "travel"]
    reason = (reason or "").strip() or None
    if travel_issues and (reason or not travel):
        issues = [p for p in issues if p.rule != "travel"]
        if reason and travel:
            changes[reason_key] = reason
    elif travel_issues and len(travel_issues) == len(issues):
        _raise([*travel_issues, Problem("override", hint)], reason_field)
    if issues:
        _raise(issues, "starts_local")


def _raise(problems: list[Problem], field: str) -> None:
    raise DomainError(" ".join(p.message for p in problems), field=field)
