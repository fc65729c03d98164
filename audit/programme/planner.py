"""The automatic planner: dates and teams for a programme's unplaced audits, every rule kept.

For each audit without dates or without a lead (third-party audits need dates only: the CB
brings its team) it searches working days near the planned date (no weekends, no site holidays,
inside the programme period, not in the past), and picks the least-loaded lead who is
qualified on those days, impartial for the audited units, and free (existing bookings and the
planner's own proposals). Load is spread by preferring auditors and months with fewer audits.
Audits it cannot place are reported with the reasons. Nothing is written to audits until the
coordinator accepts the run (``accept_planner_run``), which goes through the audit services so
every rule is checked again.

Entry point for benchmarks: ``plan_programme(programme, now=..., actor=None)`` → ``PlannerRun``
(``run.duration`` in seconds, ``run.proposals``, ``run.unplaced``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.team import impartiality_problems, load_candidates, qualification_problems
from audit.core.errors import DomainError
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    PlannerRun,
    Site,
    TeamRole,
    Unit,
    User,
)
from audit.trail.services import record

#: Days searched before and after the planned date (DEFAULT).
WINDOW_BEFORE, WINDOW_AFTER = 14, 28
DAY_START, DAY_END = dt.time(8, 30), dt.time(16, 30)
#: Penalty (in days of distance) per audit already in that month for that auditor.
LOAD_WEIGHT = 3


@dataclass
class Proposal:
    audit_id: int
    reference: str
    day: dt.date | None
    lead_id: int | None
    auditor_ids: list[int] = field(default_factory=list)
    note: str = ""
    #: No day before the audit's deadline was left: accepting may date it after ``due_by``.
    late: bool = False


def _working_days(start: dt.date, days: int, holidays: set[dt.date]) -> list[dt.date] | None:
    """``days`` consecutive working days from ``start``, or None if ``start`` is not one."""
    out, day = [], start
    while len(out) < days:
        if day.weekday() >= 5 or day in holidays:
            if not out:
                return None
            day += dt.timedelta(days=1)
            continue
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _busy_days(user_ids, first: dt.date, last: dt.date) -> dict[int, set[dt.date]]:
    """Local days each person is already booked on (one query)."""
    lo = dt.datetime.combine(first - dt.timedelta(days=2), dt.time(), dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
    rows = db.session.execute(
        select(AuditTeamMember.user_id, Audit)
        .join(Audit, AuditTeamMember.audit_id == Audit.id)
        .where(Audit.starts_at.is_not(None), Audit.starts_at < hi, Audit.ends_at > lo,
               Audit.status.not_in(AuditStatus.inactive()),
               AuditTeamMember.role != TeamRole.GUIDE)
        .options(selectinload(Audit.site), selectinload(Audit.supplier))
    ).all()
    busy: dict[int, set[dt.date]] = defaultdict(set)
    for user_id, audit in rows:
        span = audit.local_dates()
        day = span[0]
        while day <= span[1]:
            busy[user_id].add(day)
            day += dt.timedelta(days=1)
    return busy


def _load(user_ids, first: dt.date, last: dt.date) -> Counter:
    """Audits per (user, year, month) already staffed, to spread the new ones."""
    rows = db.session.execute(
        select(AuditTeamMember.user_id, Audit.planned_date, Audit.starts_at)
        .join(Audit, AuditTeamMember.audit_id == Audit.id)
        .where(Audit.status.not_in(AuditStatus.inactive()),
               AuditTeamMember.role.in_((TeamRole.LEAD, TeamRole.AUDITOR)))
    ).all()
    load: Counter = Counter()
    for user_id, planned, starts in rows:
        day = starts.date() if starts else planned
        if day and first <= day <= last:
            load[(user_id, day.year, day.month)] += 1
    return load


def _audits_to_place(programme) -> list[Audit]:
    stmt = (
        select(Audit).where(Audit.programme_id == programme.id, Audit.status == AuditStatus.PLANNED)
        .options(selectinload(Audit.team), selectinload(Audit.standards),
                 selectinload(Audit.units).selectinload(Unit.members),
                 selectinload(Audit.site).selectinload(Site.holidays), selectinload(Audit.supplier))
        .order_by(Audit.planned_date, Audit.id)
    )
    audits = []
    for audit in db.session.scalars(stmt).unique():
        has_lead = any(m.role is TeamRole.LEAD for m in audit.team)
        needs_lead = audit.kind is not AuditKind.THIRD_PARTY and not has_lead
        if audit.starts_at is None or needs_lead:
            audits.append(audit)
    return audits


def propose_plan(programme, *, now: dt.datetime) -> tuple[list[Proposal], list[dict]]:
    """Proposals for every unplaced audit of ``programme``, and the unplaceable ones with reasons."""
    today = now.date()
    audits = _audits_to_place(programme)
    if not audits:
        return [], []
    # Audits with a deadline (triggers, major NCs) take their pick of days and auditors first.
    audits.sort(key=lambda a: (a.due_by is None, a.due_by or dt.date.max))
    first = max(today + dt.timedelta(days=1), programme.period_start)
    last = programme.period_end
    candidates = load_candidates()
    ids = [u.id for u in candidates]
    busy = _busy_days(ids, first, last + dt.timedelta(days=WINDOW_AFTER))
    load = _load(ids, first - dt.timedelta(days=31), last + dt.timedelta(days=31))
    proposals: list[Proposal] = []
    unplaced: list[dict] = []
    for audit in audits:
        result = _place(audit, candidates, busy, load, first, last)
        if isinstance(result, Proposal):
            proposals.append(result)
            for uid in [result.lead_id, *result.auditor_ids]:
                if uid is None:
                    continue
                for d in _working_days(result.day, audit.planned_days or 1, _holidays(audit)) or []:
                    busy[uid].add(d)
                load[(uid, result.day.year, result.day.month)] += 1
        else:
            unplaced.append({"audit_id": audit.id, "reference": audit.reference, "title": audit.title,
                             "reasons": result})
    return proposals, unplaced


def _holidays(audit: Audit) -> set[dt.date]:
    return {h.day for h in audit.site.holidays} if audit.site is not None else set()


def _place(audit: Audit, candidates, busy, load, first: dt.date, last: dt.date) -> Proposal | list[str]:
    """One audit: a proposal, or the reasons it cannot be placed."""
    holidays = _holidays(audit)
    length = audit.planned_days or 1
    needs_lead = audit.kind is not AuditKind.THIRD_PARTY and not any(m.role is TeamRole.LEAD for m in audit.team)
    team_ids = [m.user_id for m in audit.team if m.role is not TeamRole.GUIDE]
    # A deadline already behind the window cannot be met: place the audit as soon as possible.
    deadline = audit.due_by if audit.due_by is not None and audit.due_by >= first else None
    note = f"late: was due by {audit.due_by:%d %b %Y}" if audit.due_by is not None and deadline is None else ""
    if audit.starts_at is not None:
        span = audit.local_dates()
        day_options = [(span[0], [span[0] + dt.timedelta(days=i) for i in range((span[1] - span[0]).days + 1)])]
        target = span[0]
    else:
        # An overdue audit (planned date or deadline already past) is placed as soon as possible.
        target = first if note else max(audit.planned_date or first, first)
        lo, hi = max(first, target - dt.timedelta(days=WINDOW_BEFORE)), min(last, target + dt.timedelta(days=WINDOW_AFTER))
        if deadline is not None:
            # A trigger or major-NC deadline is hard: search before it, from as early as needed.
            hi = min(hi, deadline)
            target = min(target, hi)
            lo = min(lo, max(first, hi - dt.timedelta(days=WINDOW_BEFORE + WINDOW_AFTER)))
        day_options = []
        day = lo
        while day <= hi:
            days = _working_days(day, length, holidays)
            if days and days[-1] <= last + dt.timedelta(days=7) and (deadline is None or days[0] <= deadline):
                day_options.append((day, days))
            day += dt.timedelta(days=1)
        day_options.sort(key=lambda o: (abs((o[0] - target).days), o[0]))
        if not day_options:
            return [f"No working day between {lo:%d %b %Y} and {hi:%d %b %Y} (weekends, site holidays, "
                    f"programme period {first:%d %b %Y} – {last:%d %b %Y})."]
    if not audit.standards and needs_lead:
        return ["No standard in scope: qualifications cannot be checked. Add the standards first."]
    reasons: Counter = Counter()
    best: tuple | None = None
    for start, days in day_options:
        if any(d in busy.get(uid, ()) for uid in team_ids for d in days):
            reasons["the people already in the team are booked elsewhere"] += 1
            continue
        if not needs_lead:
            return Proposal(audit.id, audit.reference, start, None, [], note or "dates only", late=bool(note))
        ranked = []
        for user in candidates:
            if qualification_problems(user, TeamRole.LEAD, audit.standards, days[0], days[-1]):
                reasons["no qualified lead auditor"] += 1
                continue
            if impartiality_problems(user, TeamRole.LEAD, audit.units, None):
                reasons["qualified leads are not impartial (own or belong to the unit)"] += 1
                continue
            if any(d in busy.get(user.id, ()) for d in days):
                reasons["qualified leads are booked on other audits"] += 1
                continue
            month_load = load[(user.id, start.year, start.month)]
            ranked.append((month_load, user.id))
        if not ranked:
            continue
        month_load, lead_id = min(ranked)
        score = abs((start - target).days) + LOAD_WEIGHT * month_load
        if best is None or score < best[0]:
            best = (score, start, days, lead_id)
        if month_load == 0:
            break  # the nearest day with a free, unloaded lead: good enough
    if best is None:
        standards = ", ".join(s.code for s in audit.standards)
        why = "; ".join(sorted(reasons)) or "no candidate"
        return [f"No lead auditor for {standards} on any working day near {audit.planned_date or first:%d %b %Y}: {why}."]
    _, start, days, lead_id = best
    auditor_ids = []
    if len(audit.units) > 1 or len(audit.standards) > 1 or length > 1:
        for user in sorted(candidates, key=lambda u: (load[(u.id, start.year, start.month)], u.id)):
            if user.id == lead_id or any(d in busy.get(user.id, ()) for d in days):
                continue
            if qualification_problems(user, TeamRole.AUDITOR, audit.standards, days[0], days[-1]):
                continue
            if impartiality_problems(user, TeamRole.AUDITOR, audit.units, None):
                continue
            auditor_ids.append(user.id)
            break
    return Proposal(audit.id, audit.reference, start, lead_id, auditor_ids, note, late=bool(note))


def plan_programme(programme, *, now: dt.datetime, actor=None) -> PlannerRun:
    """Run the planner and store its proposals for the coordinator (nothing else changes)."""
    started = time.perf_counter()
    proposals, unplaced = propose_plan(programme, now=now)
    run = PlannerRun(
        programme_id=programme.id, created_at=now, created_by_id=getattr(actor, "id", None),
        proposals=[{"audit_id": p.audit_id, "reference": p.reference, "day": p.day.isoformat(),
                    "lead_id": p.lead_id, "auditor_ids": p.auditor_ids, "note": p.note, "late": p.late}
                   for p in proposals],
        unplaced=unplaced, duration=round(time.perf_counter() - started, 4),
    )
    db.session.add(run)
    db.session.flush()
    record(run, "create", actor=actor, now=now,
           summary=f"Planner proposed {len(proposals)} audits, {len(unplaced)} unplaceable for {programme.name}",
           changes={"proposals": len(proposals), "unplaced": len(unplaced)})
    return run


def accept_planner_run(run: PlannerRun, *, actor, now: dt.datetime, edits: dict[int, dict] | None = None,
                       skip: set[int] | None = None) -> int:
    """Apply the (possibly edited) proposals through the audit services; every rule is checked
    again. ``edits`` maps audit id → {"day": date, "lead_id": id}. All-or-nothing."""
    from audit.audits.services import add_team_member, change_status, reschedule_audit

    if run.accepted_at is not None:
        raise DomainError("This proposal was already accepted.")
    edits, skip = edits or {}, skip or set()
    applied = 0
    for p in run.proposals:
        if p["audit_id"] in skip:
            continue
        audit = db.session.get(Audit, p["audit_id"])
        if audit is None or audit.status is not AuditStatus.PLANNED:
            continue
        edit = edits.get(audit.id, {})
        day = edit.get("day") or dt.date.fromisoformat(p["day"])
        lead_id = edit.get("lead_id", p["lead_id"])
        try:
            if audit.starts_at is None or day != audit.local_dates()[0]:
                days = _working_days(day, audit.planned_days or 1, _holidays(audit))
                if days is None:
                    raise DomainError(f"{day:%d %b %Y} is a weekend day or a site holiday.")
                # A proposal the planner marked late has no day left before its deadline.
                reschedule_audit(audit, starts_local=dt.datetime.combine(days[0], DAY_START),
                                 ends_local=dt.datetime.combine(days[-1], DAY_END), actor=actor, now=now,
                                 reason="planner", allow_late=bool(p.get("late")))
            if lead_id and audit.lead is None:
                # The lead may come from the edited form: an unknown id is a message, not a 500.
                lead = get_or_fail(User, lead_id, field="lead_id", what="lead auditor")
                add_team_member(audit, lead, TeamRole.LEAD, actor=actor, now=now)
            for uid in p.get("auditor_ids") or []:
                if uid != lead_id and all(m.user_id != uid for m in audit.team):
                    auditor = get_or_fail(User, uid, field="auditor_ids", what="auditor")
                    add_team_member(audit, auditor, TeamRole.AUDITOR, actor=actor, now=now)
            if audit.lead is not None or audit.kind is AuditKind.THIRD_PARTY:
                change_status(audit, AuditStatus.SCHEDULED, actor=actor, now=now)
        except DomainError as exc:
            raise DomainError(f"{audit.reference}: {exc.message}") from None
        applied += 1
    run.accepted_at = now
    db.session.flush()
    record(run, "accept", actor=actor, now=now, summary=f"Accepted {applied} planner proposals",
           changes={"applied": applied})
    return applied


