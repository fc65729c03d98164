"""The automatic planner: dates and teams for a programme's unplaced audits, every rule kept.

For each audit without dates or without a lead (third-party audits need dates only: the CB
brings its team) it searches days near the planned date that pass the one calendar rule
(``audit.audits.dates``: working days, site holidays, inside the programme period, never in the
past), and builds a competent team: a lead qualified as lead for one standard in scope, plus
auditors until the team together covers every standard; every member impartial, free, and not
in another country the working day before or after (no travel day), and nobody past the
monthly workload limit (``audit.audits.workload``), the run's own proposals counted.

Fairness: the lead with the fewest audits led in the period is tried first (ties: fewest audits
overall, then a stable rotation; a coordinator is never preferred), then the day nearest the
planned date that works for that lead. Deterministic: the same data gives the same plan.
Nothing is written to audits until the coordinator accepts the run (``planner_accept``),
which goes through the audit services so every rule is checked again.

Cost: people, qualifications and bookings are read once per run (``audit.programme.pool``);
each audit then costs its candidates × its days, answered from memory.

Entry point for benchmarks: ``plan_programme(programme, now=..., actor=None)`` → ``PlannerRun``
(``run.duration`` in seconds, ``run.proposals``, ``run.unplaced``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.dates import audit_country, audit_holidays, date_problems
from audit.audits.team import team_coverage
from audit.audits.workload import COUNTED_ROLES
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
from audit.programme.pool import AUDITOR, LEAD, Pool, audit_place, load_pool
from audit.trail.services import record

#: Days searched before and after the planned date (DEFAULT).
WINDOW_BEFORE, WINDOW_AFTER = 14, 28
DAY_START, DAY_END = dt.time(8, 30), dt.time(16, 30)
#: A day next to the lead's audit at the same site, among this many nearest days (about three
#: days either side of the target), is tried first: audits at one site cluster where their
#: intervals allow, one trip instead of two.
CLUSTER_PLACES = 6
#: Leads offered per proposal row: the planner's choice and the next best free, qualified ones.
LEAD_OPTIONS = 12


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
    #: What the coordinator sees: title, site, its zone, and the leads she may pick instead.
    title: str = ""
    site: str = ""
    zone: str = ""
    lead_options: list[int] = field(default_factory=list)
    #: The audit's revision (bumped by every change of dates or team) the proposal was made from.
    revision: int = 0


def consecutive_days(start: dt.date, length: int) -> list[dt.date]:
    """``length`` days from ``start``, weekends included (the calendar rule judges them)."""
    return [start + dt.timedelta(days=i) for i in range(length)]


def _audits_to_place(programme) -> list[Audit]:
    stmt = (
        select(Audit).where(Audit.programme_id == programme.id, Audit.status == AuditStatus.PLANNED)
        # The team's users and qualifications too: coverage counts the team already there by
        # the services' rule (``team_coverage``), which reads them.
        .options(selectinload(Audit.team).selectinload(AuditTeamMember.user)
                 .selectinload(User.qualifications),
                 selectinload(Audit.standards),
                 selectinload(Audit.units).selectinload(Unit.members),
                 selectinload(Audit.site).selectinload(Site.holidays), selectinload(Audit.supplier),
                 selectinload(Audit.programme))
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
    audits = _audits_to_place(programme)
    if not audits:
        return [], []
    # The earliest day is the day after the site's today, not UTC's: east of UTC, UTC's
    # tomorrow can be the site's today, whose morning is already gone.
    firsts = {a.id: max(a.local_today(now) + dt.timedelta(days=1), programme.period_start) for a in audits}
    # Audits with a deadline still to meet (triggers, major NCs) take their pick of days and
    # auditors first; those already late follow: they cannot be on time, the others still can.
    audits.sort(key=lambda a: (a.due_by is None, a.due_by is not None and a.due_by < firsts[a.id],
                               a.due_by or dt.date.max))
    last = programme.period_end
    pool = load_pool(min(firsts.values()), last, placing=[a.id for a in audits])
    proposals: list[Proposal] = []
    unplaced: list[dict] = []
    for audit in audits:
        pool.release(audit.id)  # its own bookings in the database are what it is placed from
        result = _place(audit, pool, firsts[audit.id], last)
        if (not isinstance(result, Proposal) and audit.kind is not AuditKind.THIRD_PARTY
                and audit.due_by is not None and audit.due_by >= firsts[audit.id]):
            # A deadline too close to meet (say, a Saturday tomorrow) is still an audit to hold:
            # proposed as soon as possible, marked late if it is. A certification cycle's
            # deadline is the certification body's: that one stays with the coordinator.
            soonest = _place(audit, pool, firsts[audit.id], last, past_deadline=True)
            result = _late_if_after_deadline(soonest, audit) if isinstance(soonest, Proposal) else result
        if isinstance(result, Proposal):
            proposals.append(result)
            pool.turn += 1
        else:
            pool.restore(audit.id)
            unplaced.append({"audit_id": audit.id, "reference": audit.reference, "title": audit.title,
                             "reasons": result})
    proposals.sort(key=lambda p: (p.day, p.reference))
    return proposals, unplaced


def _late_if_after_deadline(proposal: Proposal, audit: Audit) -> Proposal:
    """Mark a proposal from the soonest-day search late when its last day passes the deadline."""
    if proposal.day + dt.timedelta(days=(audit.planned_days or 1) - 1) > audit.due_by:
        proposal.late = True
        proposal.note = f"late: no day and team fitted before its deadline, {audit.due_by:%d %b %Y}"
    return proposal


def _day_options(audit: Audit, first: dt.date, last: dt.date, holidays: set[dt.date], *,
                 past_deadline: bool = False):
    """(start, days) candidates nearest the target first, or a reason string; and the note.
    ``past_deadline``: nothing fitted in the deadline's window, so every day from the first one
    through a window past the deadline is a candidate, the soonest first."""
    length = audit.planned_days or 1
    deadline = audit.due_by if audit.due_by is not None and audit.due_by >= first else None
    note = f"late: was due by {audit.due_by:%d %b %Y}" if audit.due_by is not None and deadline is None else ""
    if audit.starts_at is not None:
        span = audit.local_dates()
        return [(span[0], consecutive_days(span[0], (span[1] - span[0]).days + 1))], note
    # An overdue audit (planned date or deadline already past) is placed as soon as possible.
    target = first if note or past_deadline else min(max(audit.planned_date or first, first), last)
    lo, hi = max(first, target - dt.timedelta(days=WINDOW_BEFORE)), min(last, target + dt.timedelta(days=WINDOW_AFTER))
    if past_deadline and deadline is not None:
        deadline, hi = None, min(last, deadline + dt.timedelta(days=WINDOW_AFTER))
    if deadline is not None:
        # A trigger or major-NC deadline is hard: search before it, from as early as needed.
        hi = min(hi, deadline)
        target = min(target, hi)
        lo = min(lo, max(first, hi - dt.timedelta(days=WINDOW_BEFORE + WINDOW_AFTER)))
    options = []
    day = lo
    while day <= hi:
        days = consecutive_days(day, length)
        if days[-1] <= last and not date_problems(audit, days[0], days[-1], holidays=holidays):
            options.append((day, days))
        day += dt.timedelta(days=1)
    options.sort(key=lambda o: (abs((o[0] - target).days), o[0]))
    if not options:
        return (f"No working day between {lo:%d %b %Y} and {hi:%d %b %Y} (weekends, site holidays, "
                f"programme period {first:%d %b %Y} – {last:%d %b %Y})."), note
    return options, note


def _excluded(audit: Audit) -> set[int]:
    """People who may not audit it: they own or belong to an audited unit (checked once)."""
    out = {u.owner_id for u in audit.units if u.owner_id}
    for unit in audit.units:
        out.update(m.id for m in unit.members)
    return out


def _complete_team(audit, pool: Pool, lead_id: int | None, members: list[int], days, country, excluded,
                   reasons: Counter) -> list[int] | None:
    """Auditors to add so the team covers every standard, or None (reason counted)."""
    std_ids = [s.id for s in audit.standards]
    size = audit.planned_days or 1
    # The team already there counts by the rule the accept checks (leads and auditors only: an
    # expert or an observer covers nothing); the lead proposed is a pool candidate.
    covered = team_coverage(audit, days[0], days[-1])
    if lead_id:
        covered |= pool.covers(lead_id, std_ids, days[0], days[-1])
    taken = set(members) | {lead_id}
    added: list[int] = []
    while len(covered) < len(std_ids):
        missing = [s for s in std_ids if s not in covered]
        best = None
        for uid in pool.users:
            if uid in taken or uid in excluded:
                continue
            gives = pool.covers(uid, missing, days[0], days[-1])
            if not gives or pool.free(uid, days, country, size=size):
                continue
            key = (-len(gives), *pool.order_key(uid, as_lead=False))
            if best is None or key < best[0]:
                best = (key, uid, gives)
        if best is None:
            codes = ", ".join(s.code for s in audit.standards if s.id in missing)
            reasons[f"no free, impartial auditor qualified for {codes}"] += 1
            return None
        added.append(best[1])
        taken.add(best[1])
        covered |= best[2]
    return added


def _place(audit: Audit, pool: Pool, first: dt.date, last: dt.date, *,
           past_deadline: bool = False) -> Proposal | list[str]:
    """One audit: a proposal, or the reasons it cannot be placed."""
    holidays = audit_holidays(audit)
    options, note = _day_options(audit, first, last, holidays, past_deadline=past_deadline)
    if isinstance(options, str):
        return [options]
    country = audit_country(audit)
    site = audit.site.name if audit.site is not None else (audit.supplier.name if audit.supplier else "")
    base = {"title": audit.title, "site": site, "zone": audit.timezone, "note": note, "late": bool(note),
            "revision": audit.revision or 0}
    needs_lead = audit.kind is not AuditKind.THIRD_PARTY and not any(m.role is TeamRole.LEAD for m in audit.team)
    existing_lead = next((m.user_id for m in audit.team if m.role is TeamRole.LEAD), None)
    members = [m.user_id for m in audit.team if m.role is not TeamRole.GUIDE and m.role is not TeamRole.LEAD]
    team_ids = members + ([existing_lead] if existing_lead else [])
    # The workload limit binds the people the planner chooses. Those the coordinator put in the
    # team were her decision: days that keep them within it come first, but when none do the
    # audit is still placed. Experts and observers hold no audit-days.
    size = audit.planned_days or 1
    sizes = {m.user_id: size if m.role in COUNTED_ROLES else 0 for m in audit.team}
    reasons: Counter = Counter()
    if audit.kind is not AuditKind.THIRD_PARTY and not audit.standards:
        return ["No standard in scope: qualifications cannot be checked. Add the standards first."]
    std_ids = [s.id for s in audit.standards]
    excluded = _excluded(audit) if audit.kind is not AuditKind.THIRD_PARTY else set()
    free_options = []
    for start, days in options:
        busy = next(filter(None, (pool.free(uid, days, country) for uid in team_ids)), None)
        if busy:
            reasons[f"people already in the team are {busy}"] += 1
            continue
        free_options.append((start, days))
    within = [(start, days) for start, days in free_options
              if not any(sizes[uid] and pool.free(uid, days, country, size=sizes[uid]) for uid in team_ids)]
    free_options = within or free_options
    if not needs_lead:
        for start, days in free_options:
            extra = [] if audit.kind is AuditKind.THIRD_PARTY else _complete_team(
                audit, pool, existing_lead, members, days, country, excluded, reasons)
            if extra is None:
                continue
            for uid in team_ids + extra:
                pool.book(uid, days, country, lead=uid == existing_lead, place=audit_place(audit),
                          size=sizes.get(uid, size))
            return Proposal(audit.id, audit.reference, start, None, extra, **{**base, "note": note or "dates only"})
        return [f"No day near {audit.planned_date or first:%d %b %Y} fits the team: "
                f"{'; '.join(sorted(reasons)) or 'no candidate'}."]
    leads = [uid for uid in pool.leads_for(std_ids) if uid not in excluded]
    if not leads:
        codes = ", ".join(s.code for s in audit.standards)
        why = ("every qualified lead owns or belongs to an audited unit" if pool.leads_for(std_ids)
               else "nobody holds a lead qualification for any of them")
        return [f"No lead auditor for {codes} on any working day near {audit.planned_date or first:%d %b %Y}: {why}."]
    ordered = sorted(leads, key=lambda uid: pool.order_key(uid, as_lead=True))
    place = audit_place(audit)
    for lead_id in ordered:
        # Nearest first, except that a day next to this lead's audit at the same site among the
        # nearest few comes first (only those can win: the jump is CLUSTER_PLACES places).
        near = [o for o in free_options[:CLUSTER_PLACES] if pool.next_to(lead_id, o[1], place)]
        lead_options = near + [o for o in free_options if o not in near] if near else free_options
        for start, days in lead_options:
            if not pool.covers(lead_id, std_ids, days[0], days[-1], LEAD):
                reasons["lead qualifications not valid on those days"] += 1
                continue
            why = pool.free(lead_id, days, country, size=size)
            if why:
                reasons[f"qualified leads are {why}"] += 1
                continue
            extra = _complete_team(audit, pool, lead_id, members, days, country, excluded, reasons)
            if extra is None:
                continue
            if not extra and len(members) == 0 and (len(audit.units) > 1 or len(days) > 1):
                # A longer or wider audit gets a second auditor when someone is free.
                extra = _second_auditor(pool, lead_id, std_ids, days, country, excluded, size)
            pool.book(lead_id, days, country, lead=True, place=place, size=size)
            for uid in members + extra:
                pool.book(uid, days, country, lead=False, place=place, size=sizes.get(uid, size))
            options_for_day = [lead_id]
            for uid in ordered:  # the best-placed alternatives, not every lead in the company
                if len(options_for_day) >= LEAD_OPTIONS:
                    break
                if uid != lead_id and pool.covers(uid, std_ids, days[0], days[-1], LEAD) \
                        and not pool.free(uid, days, country, size=size):
                    options_for_day.append(uid)
            return Proposal(audit.id, audit.reference, start, lead_id, extra, lead_options=sorted(
                options_for_day, key=lambda uid: pool.users[uid].name), **base)
    codes = ", ".join(s.code for s in audit.standards)
    return [f"No lead auditor for {codes} on any working day near {audit.planned_date or first:%d %b %Y}: "
            f"{'; '.join(sorted(reasons)) or 'no candidate'}."]


def _second_auditor(pool: Pool, lead_id: int, std_ids, days, country, excluded, size: int) -> list[int]:
    ranked = sorted((uid for uid in pool.users if uid != lead_id and uid not in excluded
                     and pool.covers(uid, std_ids, days[0], days[-1], AUDITOR)
                     and not pool.free(uid, days, country, size=size)),
                    key=lambda uid: pool.order_key(uid, as_lead=False))
    return ranked[:1]


def plan_programme(programme, *, now: dt.datetime, actor=None) -> PlannerRun:
    """Run the planner and store its proposals for the coordinator (nothing else changes)."""
    started = time.perf_counter()
    proposals, unplaced = propose_plan(programme, now=now)
    run = PlannerRun(
        programme_id=programme.id, created_at=now, created_by_id=getattr(actor, "id", None),
        proposals=[{"audit_id": p.audit_id, "reference": p.reference, "day": p.day.isoformat(),
                    "lead_id": p.lead_id, "auditor_ids": p.auditor_ids, "note": p.note, "late": p.late,
                    "title": p.title, "site": p.site, "zone": p.zone,
                    "starts": DAY_START.strftime("%H:%M"), "lead_options": p.lead_options,
                    "revision": p.revision}
                   for p in proposals],
        unplaced=unplaced, duration=round(time.perf_counter() - started, 4),
    )
    db.session.add(run)
    db.session.flush()
    record(run, "create", actor=actor, now=now,
           summary=f"Planner proposed {len(proposals)} audits, {len(unplaced)} unplaceable for {programme.name}",
           changes={"proposals": len(proposals), "unplaced": len(unplaced)})
    return run
