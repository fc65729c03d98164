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
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.services import create_audit, to_utc
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Audit,
    AuditKind,
    AuditStatus,
    CertificateStatus,
    Finding,
    Grade,
    ProgrammeRule,
    RiskClass,
    RuleKind,
    ThirdPartyType,
)
from audit.models.audit import audit_units
from audit.programme.cycle import certification_cycle, surveillance_focus
from audit.trail.services import apply_changes, record

#: DEFAULT (DOMAIN.md §2): score ≥ 6 → 6 months, 3..5 → 12, ≤ 2 → 24.
RISK_INTERVALS = ((6, 6), (3, 12), (0, 24))
#: PRACTICE: supplier audit interval by risk class, in months.
SUPPLIER_INTERVALS = {RiskClass.HIGH: 12, RiskClass.MEDIUM: 24, RiskClass.LOW: 36}
#: A valid accredited certificate for the standard lengthens the supplier interval by this much.
CERTIFIED_SUPPLIER_BONUS_MONTHS = 12
#: How far back findings count as a unit's audit history.
HISTORY_MONTHS = 24
#: An expired/withdrawn supplier certificate brings the next audit forward to within this many days.
EXPIRED_CERT_DAYS = 30


# --- risk-based intervals -----------------------------------------------------------------

def history_level(grades: list[tuple[int, Grade]]) -> int:
    """0 clean, 1 OFIs/observations, 2 minor NC, 3 major or repeated NC (NCs in 2+ audits).

    ``grades`` are (audit_id, grade) of the unit's findings in the history window.
    """
    if any(g is Grade.MAJOR for _, g in grades):
        return 3
    nc_audits = {a for a, g in grades if g is Grade.MINOR}
    if len(nc_audits) >= 2:
        return 3
    if nc_audits:
        return 2
    if any(g in (Grade.OFI, Grade.OBSERVATION) for _, g in grades):
        return 1
    return 0


def risk_score(importance: int, change: int, history: int, maturity: int) -> int:
    """importance(1..3) + change(0..2) + history(0..3) + maturity(0..1)."""
    return importance + change + history + maturity


def risk_interval_months(score: int) -> int:
    """High (≥ 6) → 6 months, medium (3..5) → 12, low (≤ 2) → 24."""
    for threshold, months in RISK_INTERVALS:
        if score >= threshold:
            return months
    return 24


def unit_history(unit_ids, since: dt.datetime) -> dict[int, int]:
    """History level per unit from its findings raised since ``since`` (one query)."""
    rows = db.session.execute(
        select(Finding.unit_id, Finding.audit_id, Finding.grade)
        .where(Finding.unit_id.in_(list(unit_ids)), Finding.raised_at >= since))
    grades: dict[int, list] = {}
    for unit_id, audit_id, grade in rows:
        grades.setdefault(unit_id, []).append((audit_id, grade))
    return {uid: history_level(grades.get(uid, [])) for uid in unit_ids}


def unit_interval(unit, history: int) -> tuple[int, int]:
    """(score, months) for a unit given its history level."""
    score = risk_score(unit.importance, unit.change_level, history, unit.maturity_risk)
    return score, risk_interval_months(score)


def last_audit_dates(unit_ids, *, exclude_rule_ids=()) -> dict[int, list[tuple[dt.date, int | None]]]:
    """Every live, real audit day per unit as (day, rule id), latest first (one query).

    A real audit is one held, or planned in any programme, dated or not: a planned audit nobody
    has dated yet still covers its unit, so another programme does not plan a second one. Only
    a rule's own untouched audits are not anchors for that rule (they are the rule's to move):
    ``anchor_for`` leaves them out per rule.
    """
    rows = db.session.execute(
        select(audit_units.c.unit_id, Audit.planned_date, Audit.starts_at, Audit.status, Audit.rule_id,
               Audit.team.any())
        .join(Audit, Audit.id == audit_units.c.audit_id)
        .where(audit_units.c.unit_id.in_(list(unit_ids)),
               Audit.status.not_in(AuditStatus.inactive()))
    )
    result: dict[int, list[tuple[dt.date, int | None]]] = {}
    for unit_id, planned, starts_at, status, rule_id, staffed in rows:
        untouched = status is AuditStatus.PLANNED and starts_at is None and not staffed
        day = starts_at.date() if starts_at else planned
        if day:
            # An untouched audit is tagged with its rule, so that rule alone skips it.
            result.setdefault(unit_id, []).append((day, rule_id if untouched else None))
    for days in result.values():
        days.sort(reverse=True)
    return result


def anchor_for(rule_id: int, days: list[tuple[dt.date, int | None]]) -> list[dt.date]:
    """The unit's real audit days as ``rule_id`` sees them (its own untouched audits left out),
    oldest first."""
    return sorted(day for day, owner in days if owner != rule_id)


def interval_slots(others: list[dt.date], months: int, *, start: dt.date, until: dt.date,
                   first: dt.date | None = None) -> list[dict]:
    """Days a unit audited every ``months`` needs in [start, until], given its other audits.

    The first is the last audit on or before ``start`` plus the interval, clipped into the
    period (``first``, else ``start``, when never audited). A day that another audit already
    covers (one within half an interval after it, or less than an interval before it) is not
    planned again: the count restarts from that audit, so overlapping programmes never audit
    the same unit twice for the same need.
    """
    before = [d for d in others if d <= start]
    day = before[-1] + relativedelta(months=months) if before else (first or start)
    day = max(day, start)
    later = [d for d in others if d > start]
    out: list[dict] = []
    half = relativedelta(months=max(months // 2, 1))
    while day <= until and len(out) < 50:
        covering = [d for d in later if day - relativedelta(months=months) < d <= day + half]
        if covering:
            day = max(covering[-1] + relativedelta(months=months), start)
            later = [d for d in later if d > covering[-1]]
            continue
        out.append({"day": day})
        day += relativedelta(months=months)
    return out


# --- supplier intervals ---------------------------------------------------------------------

@dataclass(frozen=True)
class SupplierPlan:
    months: int
    bring_forward_to: dt.date | None
    reason: str


def supplier_interval(supplier, certificates, standard_id: int | None, today: dt.date,
                      last_audit: dt.date | None) -> SupplierPlan:
    """Interval by risk class and approval status; a valid accredited certificate for the
    standard lengthens it; an expired or withdrawn one brings the next audit forward."""
    months = SUPPLIER_INTERVALS[supplier.risk_class]
    reasons = [f"{supplier.risk_class.value} risk: {months} months"]
    if supplier.approval_status in (ApprovalStatus.ON_PROBATION, ApprovalStatus.CONDITIONALLY_APPROVED):
        months = max(6, months // 2)
        reasons.append(f"{supplier.approval_status.label.lower()}: shortened to {months} months")
    relevant = [c for c in certificates if standard_id is None or c.standard_id == standard_id]
    valid = [c for c in relevant if c.is_accredited and c.status is CertificateStatus.ACTIVE
             and c.expiry_date >= today]
    bring_forward = None
    if valid:
        months += CERTIFIED_SUPPLIER_BONUS_MONTHS
        reasons.append(f"holds accredited certificate {valid[0].number}: +{CERTIFIED_SUPPLIER_BONUS_MONTHS} months")
    elif relevant:
        lapsed = max(relevant, key=lambda c: c.expiry_date)
        lapsed_on = lapsed.expiry_date if lapsed.status is not CertificateStatus.WITHDRAWN else today
        if last_audit is None or last_audit <= lapsed_on:
            bring_forward = today + dt.timedelta(days=EXPIRED_CERT_DAYS)
            reasons.append(f"certificate {lapsed.number} {'withdrawn' if lapsed.status is CertificateStatus.WITHDRAWN else 'expired'}: "
                           f"next audit brought forward")
    return SupplierPlan(months, bring_forward, "; ".join(reasons))


# --- RRULE ----------------------------------------------------------------------------------

def expand_rrule(rule_text: str, first_day: dt.date, start_time: dt.time, zone: str,
                 until: dt.date) -> list[tuple[dt.date, dt.datetime]]:
    """Occurrences of an RRULE as (local date, UTC start), wall-clock time kept in ``zone``.

    The rule is expanded on naive local times (as RFC 5545 does for a DTSTART with TZID), then
    each occurrence is placed in the zone: 09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer.
    """
    text = rule_text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    try:
        rule = rrulestr(text, dtstart=dt.datetime.combine(first_day, start_time), forceset=False)
    except (ValueError, TypeError) as exc:
        raise DomainError(f"That recurrence is not a valid RRULE: {exc}.", field="rrule") from None
    end = dt.datetime.combine(until, dt.time.max)
    out = []
    for local in rule.between(dt.datetime.combine(first_day, dt.time.min), end, inc=True):
        out.append((local.date(), to_utc(local, zone)))
        if len(out) > 500:
            break
    return out


# --- generation -----------------------------------------------------------------------------

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
        elif w["day"] not in touched_days:
            slots.append(w)
    free = sorted((a for a in existing if _untouched(a) and a.id not in matched
                   and a.planned_date and now.date() <= a.planned_date <= until),
                  key=lambda a: a.planned_date)
    created = 0
    for slot, audit in zip(slots, free, strict=False):
        key = _slot_key(rule, slot)
        if audit.planned_date != slot["day"]:
            changes = apply_changes(audit, {"planned_date": slot["day"], "generation_key": key})
            if slot.get("clause_numbers"):
                # A surveillance moved into another slot takes that slot's clause focus.
                changes.update(apply_changes(audit, {"clauses": _slot_clauses(rule, slot)}))
            audit.updated_at = now
            db.session.flush()
            record(audit, "regenerate", actor=actor, now=now,
                   summary=f"{audit.reference} moved by rule “{rule.title}”", changes=changes)
    for audit in free[len(slots):]:
        from audit.audits.services import change_status

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
    with ``day``, ``key`` (its identity across runs and programmes) and ``reason``."""
    start = start or today
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
        slots = interval_slots(others, months, start=start, until=until, first=rule.starts_on)
        reason = (f"risk score {score} (importance {unit.importance}, change {unit.change_level}, "
                  f"history {history}, maturity {unit.maturity_risk}): every {months} months")
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
    day falls before ``start`` but is due inside the period is clipped to ``start``.
    """
    from audit.programme.deadlines import cycle_status

    cert = rule.certificate
    if cert is None:
        return []
    audits = context["cert_audits"].get(cert.id, [])
    covered = {cycle_step_key(cert, row["item"]): row["audit"] for row in cycle_status(cert, audits)
               if row["audit"] is not None}
    cycle = certification_cycle(cert.decision_date, cert.expiry_date)
    surveillances = sum(1 for item in cycle if item.type is ThirdPartyType.SURVEILLANCE)
    main = [c.number for c in cert.standard.clauses if c.depth == 1 and c.title is not None]
    slots = []
    for item in cycle:
        key = cycle_step_key(cert, item)
        owner = covered.get(key)
        if owner is not None and owner.rule_id != rule.id:
            continue
        if item.due < start or item.planned > until:
            continue
        slots.append({
            "day": max(item.planned, start), "key": key, "type": item.type,
            "title": f"{item.label} – {cert.standard.code}", "scope": cert.scope,
            "reason": f"certificate {cert.number}: {item.label.lower()} due by {item.due:%d %b %Y}",
            # Surveillances cover the core and rotate the rest; recertification covers all.
            "clause_numbers": surveillance_focus(main, item.number, surveillances)
            if item.type is ThirdPartyType.SURVEILLANCE else []})
    return slots


def _context(rules: list[ProgrammeRule], now: dt.datetime) -> dict:
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
    context = _context(rules, now)
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
    from audit.models import Programme, ProgrammeStatus

    rules = list(db.session.scalars(
        select(ProgrammeRule).join(Programme)
        .where(ProgrammeRule.is_active.is_(True),
               Programme.status.in_((ProgrammeStatus.APPROVED, ProgrammeStatus.ACTIVE)))
        .options(selectinload(ProgrammeRule.unit), selectinload(ProgrammeRule.supplier),
                 selectinload(ProgrammeRule.certificate))))
    return _generate(rules, actor=actor, now=now)
