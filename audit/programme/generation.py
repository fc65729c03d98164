"""Programme rules → real audits over a rolling horizon (idempotent by ``generation_key``).

* risk-based internal audits per unit: interval from the unit's score (DOMAIN.md §2), history
  read from the findings on the unit, recomputed on every sweep;
* supplier audits: interval by risk class, approval status and the supplier's own certificate;
* certification cycles from a certificate's decision date (``audit.programme.cycle``);
* explicit RFC 5545 RRULEs, expanded in the site's zone so 09:00 stays 09:00 across DST.

Generated audits that nobody touched yet (planned, undated, unstaffed) follow the rule when it
changes; anything a coordinator touched is left alone. Rescheduling keeps ``planned_date``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.dates import is_working_day
from audit.audits.services import change_status, create_audit
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Programme,
    ProgrammeRule,
    ProgrammeStatus,
    RuleKind,
    ThirdPartyType,
)
from audit.programme.cycle import surveillance_focus
from audit.programme.deadlines import CYCLE_RUNS, cycle_status
from audit.programme.intervals import (
    HISTORY_MONTHS,
    anchor_for,
    expand_rrule,
    interval_slots,
    last_audit_dates,
    supplier_interval,
    unit_history,
    unit_interval,
)
from audit.trail.services import apply_changes, record


def _untouched(audit: Audit) -> bool:
    return audit.status is AuditStatus.PLANNED and audit.starts_at is None and not audit.team


def _reconcile(rule: ProgrammeRule, wanted: list[dict], existing: list[Audit], *, until: dt.date, actor,
               now: dt.datetime) -> int:
    """Make the rule's untouched future audits match ``wanted`` (dicts with ``day`` and extras).

    Touched audits stay as they are; untouched ones move to wanted slots; surplus untouched ones
    are cancelled with a reason; missing slots are created. Returns the number created.
    """
    by_key = {a.generation_key: a for a in existing if a.generation_key}
    touched_days = {a.planned_date for a in existing if not _untouched(a)}
    matched: set[int] = set()
    slots = []
    for w in wanted:
        key = _slot_key(rule, w)
        if key in by_key:
            matched.add(by_key[key].id)
            _follow_deadline(rule, by_key[key], w, actor=actor, now=now)
        elif w["day"] not in touched_days:
            slots.append(w)
    free = sorted((a for a in existing if _untouched(a) and a.id not in matched
                   and a.planned_date and now.date() <= a.planned_date <= until),
                  key=lambda a: a.planned_date)
    created = 0
    for slot, audit in zip(slots, free, strict=False):
        key = _slot_key(rule, slot)
        if audit.planned_date != slot["day"]:
            moved = {"planned_date": slot["day"], "generation_key": key}
            if "due" in slot:
                moved["due_by"] = slot["due"]
            changes = apply_changes(audit, moved)
            if slot.get("clause_numbers"):
                # A surveillance moved into another slot takes that slot's clause focus.
                changes.update(apply_changes(audit, {"clauses": _slot_clauses(rule, slot)}))
            audit.updated_at = now
            db.session.flush()
            record(audit, "regenerate", actor=actor, now=now,
                   summary=f"{audit.reference} moved by rule “{rule.title}”", changes=changes)
    for audit in free[len(slots):]:

        change_status(audit, AuditStatus.CANCELLED, reason=f"No longer required by rule “{rule.title}”.",
                      actor=actor, now=now)
    for slot in slots[len(free):]:
        key = _slot_key(rule, slot)
        if db.session.scalar(select(Audit.id).where(Audit.generation_key == key)) is not None:
            continue
        audit = create_audit(_audit_data(rule, slot), actor=actor, now=now)
        audit.generation_key = key
        audit.rule = rule
        created += 1
    db.session.flush()
    return created


def _follow_deadline(rule: ProgrammeRule, audit: Audit, slot: dict, *, actor, now: dt.datetime) -> None:
    """An untouched audit takes its slot's current deadline (a cycle step's ``due``): it moves
    when an earlier surveillance's real date moves, and audits generated before cycle steps
    carried one get it here. A touched audit keeps its "Must happen by" (a person owns it now)
    unless the cycle's deadline came sooner, an earlier surveillance having moved into an earlier
    year: no coming audit's deadline stays later than the cycle rule allows (if that leaves it
    dated too late, the certification sweep warns the coordinators). Audits under way or done
    keep theirs."""
    if "due" not in slot or audit.due_by == slot["due"] or audit.status not in AuditStatus.not_started():
        return
    if not _untouched(audit) and audit.due_by is not None and audit.due_by < slot["due"]:
        return
    changes = apply_changes(audit, {"due_by": slot["due"]})
    audit.updated_at = now
    db.session.flush()
    record(audit, "regenerate", actor=actor, now=now,
           summary=f"{audit.reference} must happen by {slot['due']:%d %b %Y} (rule “{rule.title}”)",
           changes=changes)


def _slot_key(rule: ProgrammeRule, slot: dict) -> str:
    """A slot's generation key: its cycle step for certification, else rule and day."""
    return slot.get("key") or f"rule:{rule.id}:{slot['day'].isoformat()}"


def _slot_clauses(rule: ProgrammeRule, slot: dict) -> list:
    """The clauses a slot narrows its audit to (a surveillance's focus), else none."""
    if not slot.get("clause_numbers") or rule.certificate is None:
        return []
    wanted = set(slot["clause_numbers"])
    return [c for c in rule.certificate.standard.clauses if c.number in wanted]


def _audit_data(rule: ProgrammeRule, slot: dict) -> dict:
    kind = {RuleKind.SUPPLIER: AuditKind.SECOND_PARTY,
            RuleKind.CERTIFICATION: AuditKind.THIRD_PARTY}.get(rule.kind, AuditKind.INTERNAL)
    site = rule.site or (rule.unit.site if rule.unit else None)
    standard_ids = [rule.standard_id] if rule.standard_id else []
    if rule.kind is RuleKind.CERTIFICATION and rule.certificate:
        standard_ids = [rule.certificate.standard_id]
    elif not standard_ids and rule.unit:
        standard_ids = [s.id for s in rule.unit.standards]
    data = {
        "title": slot.get("title") or rule.title, "kind": kind,
        "third_party_type": slot.get("type"), "programme_id": rule.programme_id,
        "site_id": site.id if site else None,
        "supplier_id": rule.supplier_id, "certificate_id": rule.certificate_id,
        "unit_ids": [rule.unit_id] if rule.unit_id else [],
        "standard_ids": standard_ids, "planned_date": slot["day"], "planned_days": rule.planned_days,
        "audit_client": rule.programme.audit_client if rule.programme else None,
        "criteria": slot.get("criteria"), "scope": slot.get("scope"),
        # A certification-cycle step's deadline: the planner searches no later day and a
        # reschedule past it is refused, like a trigger's deadline.
        "due_by": slot.get("due"),
    }
    if slot.get("clause_numbers"):
        data["clause_ids"] = [c.id for c in _slot_clauses(rule, slot)]
    if slot.get("starts_at") is not None:
        zone = (site or rule.supplier).timezone if (site or rule.supplier) else "UTC"
        local = slot["starts_at"].astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
        data["starts_local"] = local
        data["ends_local"] = local + dt.timedelta(days=rule.planned_days - 1, hours=8)
    return data


def wanted_slots(rule: ProgrammeRule, *, today: dt.date, until: dt.date, context: dict,
                 start: dt.date | None = None) -> list[dict]:
    """The audits ``rule`` needs between ``start`` (default today) and ``until``, each a dict
    with ``day``, ``key`` (its identity across runs and programmes) and ``reason``; each day a
    working day at the rule's site (``on_working_days``)."""
    start = start or today
    return on_working_days(rule, _slots(rule, today=today, start=start, until=until, context=context),
                           start=start, until=until)


def on_working_days(rule: ProgrammeRule, slots: list[dict], *, start: dt.date, until: dt.date) -> list[dict]:
    """Each slot's day moved to the nearest working day of the rule's site (later first, never
    past a cycle step's deadline): the calendar rule the planner and every manual change keep
    (``audit.audits.dates``). Intervals fell on Saturdays and Sundays, which the programme page
    and the auditees' feeds then showed. A recurrence (RRULE) keeps the days its author wrote."""
    if rule.kind is RuleKind.RRULE:
        return slots
    site = rule.site or (rule.unit.site if rule.unit else None)
    holidays = {h.day for h in site.holidays} if site is not None else set()
    return [dict(slot, day=_working_day(slot["day"], holidays, start, min(until, slot.get("due", until))))
            for slot in slots]


def _slots(rule: ProgrammeRule, *, today: dt.date, start: dt.date, until: dt.date, context: dict) -> list[dict]:
    """``wanted_slots`` before the days are moved to working days."""
    if rule.kind is RuleKind.RRULE:
        site = rule.site or (rule.unit.site if rule.unit else None)
        zone = site.timezone if site else (rule.supplier.timezone if rule.supplier else "UTC")
        hh, mm = (int(x) for x in (rule.start_time or "09:00").split(":"))
        first = rule.starts_on or start
        return [{"day": day, "starts_at": when, "reason": f"recurrence {rule.rrule}"}
                for day, when in expand_rrule(rule.rrule or "", first, dt.time(hh, mm), zone, until)
                if day >= start]
    if rule.kind is RuleKind.CERTIFICATION:
        return _cycle_slots(rule, start=start, until=until, context=context)
    if rule.kind is RuleKind.RISK_INTERNAL:
        unit = rule.unit
        if unit is None:
            return []
        history = context["history"].get(unit.id, 0)
        score, months = unit_interval(unit, history)
        others = anchor_for(rule.id, context["last"].get(unit.id, []))
        spread = context.get("first_days", {}).get(rule.id)
        slots = interval_slots(others, months, start=start, until=until, first=rule.starts_on or spread)
        reason = (f"risk score {score} (importance {unit.importance}, change {unit.change_level}, "
                  f"history {history}, maturity {unit.maturity_risk}): every {months} months")
        if spread and not others and not rule.starts_on:
            reason += "; never audited: first audits spread over the period, highest risk first"
        return [dict(slot, reason=reason) for slot in slots]
    if rule.kind is RuleKind.SUPPLIER:
        supplier = rule.supplier
        if supplier is None:
            return []
        others = anchor_for(rule.id, context["supplier_last"].get(supplier.id, []))
        last = max((d for d in others if d <= today), default=None)
        plan = supplier_interval(supplier, supplier.certificates, rule.standard_id, today, last)
        forward = plan.bring_forward_to
        if forward and not any(today <= d <= forward for d in others):
            # A lapsed certificate: the next audit comes by ``forward``, whatever was due later.
            day = max(forward, start)
            slots = [] if day > until else [{"day": day}] + interval_slots(
                [*others, day], plan.months, start=day + dt.timedelta(days=1), until=until)
        else:
            slots = interval_slots(others, plan.months, start=start, until=until, first=rule.starts_on)
        return [dict(slot, reason=plan.reason) for slot in slots]
    return []


def cycle_step_key(cert, item) -> str:
    """The identity of one certification-cycle step: certificate, cycle (its decision) and step."""
    return f"cert:{cert.id}:{cert.decision_date.isoformat()}:{item.type.value}:{item.number}"


def _cycle_slots(rule: ProgrammeRule, *, start: dt.date, until: dt.date, context: dict) -> list[dict]:
    """The certificate's cycle steps due inside [start, until] that no other rule's audit covers.

    A step exists once per certificate and cycle: an audit already planned, held or reported for
    it (in any programme, by any rule or by hand) is never created again. A step whose planned
    day falls before ``start`` but is due inside the period is clipped to ``start``; no step's
    day lies after its deadline, which the slot carries as ``due`` (the audit's ``due_by``).
    """

    cert = rule.certificate
    # A withdrawn or expired certificate has no cycle left to keep; a suspended one has (its
    # surveillances are what lifts the suspension).
    if cert is None or cert.status not in CYCLE_RUNS:
        return []
    audits = context["cert_audits"].get(cert.id, [])
    # The deadlines come from ``cycle_status`` (the cycle rule applied to the real dates), the
    # same ones the cycles page and the certification sweep use.
    rows = cycle_status(cert, audits)
    surveillances = sum(1 for row in rows if row["item"].type is ThirdPartyType.SURVEILLANCE)
    main = [c.number for c in cert.standard.clauses if c.depth == 1 and c.title is not None]
    slots = []
    for row in rows:
        item, due = row["item"], row["due"]
        key = cycle_step_key(cert, item)
        owner = row["audit"]
        if owner is not None and owner.rule_id != rule.id:
            continue
        if due < start or item.planned > until:
            continue
        slots.append({
            "day": min(max(item.planned, start), due), "key": key, "type": item.type, "due": due,
            "title": f"{item.label} – {cert.standard.code}", "scope": cert.scope,
            "reason": f"certificate {cert.number}: {item.label.lower()} due by {due:%d %b %Y}",
            # Surveillances cover the core and rotate the rest; recertification covers all.
            "clause_numbers": surveillance_focus(main, item.number, surveillances)
            if item.type is ThirdPartyType.SURVEILLANCE else []})
    return slots


def load_context(rules: list[ProgrammeRule], now: dt.datetime) -> dict:
    """Everything the rules' decisions read, loaded once per run."""
    unit_ids = {r.unit_id for r in rules if r.unit_id}
    supplier_ids = {r.supplier_id for r in rules if r.supplier_id}
    cert_ids = {r.certificate_id for r in rules if r.certificate_id}
    supplier_last: dict[int, list[tuple[dt.date, int | None]]] = {}
    if supplier_ids:
        for sid, planned, starts_at, status, rule_id, staffed in db.session.execute(
                select(Audit.supplier_id, Audit.planned_date, Audit.starts_at, Audit.status, Audit.rule_id,
                       Audit.team.any())
                .where(Audit.supplier_id.in_(supplier_ids), Audit.kind == AuditKind.SECOND_PARTY,
                       Audit.status.not_in(AuditStatus.inactive()))):
            untouched = status is AuditStatus.PLANNED and starts_at is None and not staffed
            day = starts_at.date() if starts_at else planned
            if day:
                supplier_last.setdefault(sid, []).append((day, rule_id if untouched else None))
    cert_audits: dict[int, list[Audit]] = {}
    if cert_ids:
        for audit in db.session.scalars(select(Audit).where(Audit.certificate_id.in_(cert_ids))):
            cert_audits.setdefault(audit.certificate_id, []).append(audit)
    return {
        "history": unit_history(unit_ids, now - relativedelta(months=HISTORY_MONTHS)) if unit_ids else {},
        "last": last_audit_dates(unit_ids) if unit_ids else {},
        "supplier_last": supplier_last,
        "cert_audits": cert_audits,
    }


def spread_first_days(rules: list[ProgrammeRule], context: dict) -> dict[int, dt.date]:
    """First days of never-audited units' risk rules (no audit before the period, no
    "first occurrence"), spread over their programme's period: highest risk score first, then
    evenly spaced so the months stay balanced, each moved to the next working day of the site.

    The days must not move under the coordinator's feet, so the group is fixed: a unit stays
    in it once its own first audit is dated or staffed (only audits before the period take it
    out), and the span is the whole period, so every run gets the same days; a day already past
    is clipped to today by ``interval_slots``.
    """
    groups: dict[int, list[tuple[int, str, int, ProgrammeRule]]] = {}
    for rule in rules:
        unit, programme = rule.unit, rule.programme
        if rule.kind is not RuleKind.RISK_INTERNAL or unit is None or programme is None or rule.starts_on:
            continue
        begin = programme.period_start
        if any(day < begin for day in anchor_for(rule.id, context["last"].get(unit.id, []))):
            continue
        score, _months = unit_interval(unit, context["history"].get(unit.id, 0))
        groups.setdefault(programme.id, []).append((-score, unit.name, rule.id, rule))
    first_days: dict[int, dt.date] = {}
    for group in groups.values():
        group.sort(key=lambda row: row[:3])
        programme = group[0][3].programme
        begin = programme.period_start
        span = (programme.period_end - begin).days + 1
        for i, (_score, _name, rule_id, rule) in enumerate(group):
            day = begin + dt.timedelta(days=i * span // len(group))
            site = rule.unit.site
            holidays = {h.day for h in site.holidays} if site is not None else set()
            first_days[rule_id] = _working_day(day, holidays, begin, programme.period_end)
    return first_days


def _working_day(day: dt.date, holidays: set[dt.date], first: dt.date, last: dt.date) -> dt.date:
    """The nearest working day to ``day`` inside [first, last]: later first, else earlier."""
    for step in (1, -1):
        probe = day
        while first <= probe <= last:
            if is_working_day(probe, holidays):
                return probe
            probe += dt.timedelta(days=step)
    return day


def generate_programme(programme, *, actor, now: dt.datetime, horizon_months: int | None = None) -> int:
    """Run every active rule of ``programme`` up to its horizon; returns audits created."""
    rules = [r for r in programme.rules if r.is_active]
    return _generate(rules, actor=actor, now=now, horizon_months=horizon_months)


def rule_window(rule: ProgrammeRule, today: dt.date, horizon_months: int | None = None) -> tuple[dt.date, dt.date]:
    """[start, until] a rule generates into: its programme's period from today on, no further
    than its rolling horizon. Empty (start > until) once the period is over."""
    start, until = today, today + relativedelta(months=horizon_months or rule.horizon_months)
    programme = rule.programme
    if programme is not None:
        start = max(start, programme.period_start)
        until = min(until, programme.period_end)
    return start, until


def _generate(rules, *, actor, now, horizon_months=None) -> int:
    if not rules:
        return 0
    context = load_context(rules, now)
    context["first_days"] = spread_first_days(rules, context)
    existing: dict[int, list[Audit]] = {}
    for audit in db.session.scalars(select(Audit).where(Audit.rule_id.in_([r.id for r in rules]))
                                    .options(selectinload(Audit.team))):
        existing.setdefault(audit.rule_id, []).append(audit)
    created = 0
    today = now.date()
    for rule in rules:
        start, until = rule_window(rule, today, horizon_months)
        wanted = wanted_slots(rule, today=today, start=start, until=until, context=context) if start <= until else []
        mine = [a for a in existing.get(rule.id, []) if a.status is not AuditStatus.CANCELLED]
        created += _reconcile(rule, wanted, mine, until=until, actor=actor, now=now)
    return created


def extend_horizons(*, now: dt.datetime, actor=None) -> int:
    """Scheduler sweep: every active rule of every open programme, up to its rolling horizon."""

    rules = list(db.session.scalars(
        select(ProgrammeRule).join(Programme)
        .where(ProgrammeRule.is_active.is_(True),
               Programme.status.in_((ProgrammeStatus.APPROVED, ProgrammeStatus.ACTIVE)))
        .options(selectinload(ProgrammeRule.unit), selectinload(ProgrammeRule.supplier),
                 selectinload(ProgrammeRule.certificate))))
    return _generate(rules, actor=actor, now=now)
