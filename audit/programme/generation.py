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
from sqlalchemy import func, select
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


def last_audit_dates(unit_ids) -> dict[int, dt.date]:
    """The latest planned/actual day of a live, real audit per unit (one query)."""
    rows = db.session.execute(
        select(audit_units.c.unit_id, Audit.planned_date, Audit.starts_at, Audit.status, Audit.team.any())
        .join(Audit, Audit.id == audit_units.c.audit_id)
        .where(audit_units.c.unit_id.in_(list(unit_ids)),
               Audit.status.not_in(AuditStatus.inactive()))
    )
    result: dict[int, dt.date] = {}
    for unit_id, planned, starts_at, status, staffed in rows:
        if status is AuditStatus.PLANNED and starts_at is None and not staffed:
            continue  # untouched generated audits are the rule's to move, not anchors
        day = starts_at.date() if starts_at else planned
        if day and (unit_id not in result or day > result[unit_id]):
            result[unit_id] = day
    return result


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
        key = f"rule:{rule.id}:{w['day'].isoformat()}"
        if key in by_key:
            matched.add(by_key[key].id)
        elif w["day"] not in touched_days:
            slots.append(w)
    free = sorted((a for a in existing if _untouched(a) and a.id not in matched
                   and a.planned_date and now.date() <= a.planned_date <= until),
                  key=lambda a: a.planned_date)
    created = 0
    for slot, audit in zip(slots, free, strict=False):
        key = f"rule:{rule.id}:{slot['day'].isoformat()}"
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
        key = f"rule:{rule.id}:{slot['day'].isoformat()}"
        if db.session.scalar(select(Audit.id).where(Audit.generation_key == key)) is not None:
            continue
        audit = create_audit(_audit_data(rule, slot), actor=actor, now=now)
        audit.generation_key = key
        audit.rule = rule
        created += 1
    db.session.flush()
    return created


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


def wanted_slots(rule: ProgrammeRule, *, today: dt.date, until: dt.date, context: dict) -> list[dict]:
    """The audits ``rule`` needs between today and ``until``."""
    if rule.kind is RuleKind.RRULE:
        site = rule.site or (rule.unit.site if rule.unit else None)
        zone = site.timezone if site else (rule.supplier.timezone if rule.supplier else "UTC")
        hh, mm = (int(x) for x in (rule.start_time or "09:00").split(":"))
        first = rule.starts_on or today
        return [{"day": day, "starts_at": start}
                for day, start in expand_rrule(rule.rrule or "", first, dt.time(hh, mm), zone, until)
                if day >= today]
    if rule.kind is RuleKind.CERTIFICATION:
        cert = rule.certificate
        if cert is None:
            return []
        cycle = certification_cycle(cert.decision_date, cert.expiry_date)
        surveillances = sum(1 for item in cycle if item.type is ThirdPartyType.SURVEILLANCE)
        main = [c.number for c in cert.standard.clauses if c.depth == 1 and c.title is not None]
        return [{"day": item.planned, "type": item.type, "title": f"{item.label} – {cert.standard.code}",
                 "scope": cert.scope,
                 # Surveillances cover the core and rotate the rest; recertification covers all.
                 "clause_numbers": surveillance_focus(main, item.number, surveillances)
                 if item.type is ThirdPartyType.SURVEILLANCE else []}
                for item in cycle if item.planned <= until]
    if rule.kind is RuleKind.RISK_INTERNAL:
        unit = rule.unit
        if unit is None:
            return []
        history = context["history"].get(unit.id, 0)
        _, months = unit_interval(unit, history)
        last = context["last"].get(unit.id)
        day = last + relativedelta(months=months) if last else (rule.starts_on or today)
        day = max(day, today)
        return _repeat(day, months, until)
    if rule.kind is RuleKind.SUPPLIER:
        supplier = rule.supplier
        if supplier is None:
            return []
        last = context["supplier_last"].get(supplier.id)
        plan = supplier_interval(supplier, supplier.certificates, rule.standard_id, today, last)
        day = last + relativedelta(months=plan.months) if last else (rule.starts_on or today)
        if plan.bring_forward_to and day > plan.bring_forward_to:
            day = plan.bring_forward_to
        day = max(day, today)
        return _repeat(day, plan.months, until)
    return []


def _repeat(day: dt.date, months: int, until: dt.date) -> list[dict]:
    out = []
    n = 0
    first = day
    while day <= until and n < 50:
        out.append({"day": day})
        n += 1
        day = first + relativedelta(months=months * n)
    return out


def _context(rules: list[ProgrammeRule], now: dt.datetime) -> dict:
    unit_ids = {r.unit_id for r in rules if r.unit_id}
    supplier_ids = {r.supplier_id for r in rules if r.supplier_id}
    supplier_last: dict[int, dt.date] = {}
    if supplier_ids:
        for sid, day in db.session.execute(
                select(Audit.supplier_id, func.max(Audit.planned_date))
                .where(Audit.supplier_id.in_(supplier_ids), Audit.kind == AuditKind.SECOND_PARTY,
                       Audit.status.not_in(AuditStatus.inactive()),
                       (Audit.starts_at.is_not(None)) | (Audit.team.any()))
                .group_by(Audit.supplier_id)):
            supplier_last[sid] = day
    return {
        "history": unit_history(unit_ids, now - relativedelta(months=HISTORY_MONTHS)) if unit_ids else {},
        "last": last_audit_dates(unit_ids) if unit_ids else {},
        "supplier_last": supplier_last,
    }


def generate_programme(programme, *, actor, now: dt.datetime, horizon_months: int | None = None) -> int:
    """Run every active rule of ``programme`` up to its horizon; returns audits created."""
    rules = [r for r in programme.rules if r.is_active]
    return _generate(rules, actor=actor, now=now, horizon_months=horizon_months)


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
        until = today + relativedelta(months=horizon_months or rule.horizon_months)
        if rule.programme and rule.programme.period_end and rule.kind is not RuleKind.CERTIFICATION:
            until = min(until, max(rule.programme.period_end, today))
        wanted = wanted_slots(rule, today=today, until=until, context=context)
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


def add_rule(programme, data: dict, *, actor, now: dt.datetime) -> ProgrammeRule:
    """Add a generating rule to a programme (validated per kind)."""
    kind = RuleKind(data["kind"]) if isinstance(data.get("kind"), str) else data.get("kind")
    if kind is None:
        raise DomainError("Choose the kind of rule.", field="kind")
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Name the rule.", field="title")
    rule = ProgrammeRule(programme=programme, kind=kind, title=title, created_at=now,
                         unit_id=data.get("unit_id") or None, supplier_id=data.get("supplier_id") or None,
                         certificate_id=data.get("certificate_id") or None, site_id=data.get("site_id") or None,
                         standard_id=data.get("standard_id") or None,
                         rrule=(data.get("rrule") or "").strip() or None, starts_on=data.get("starts_on"),
                         start_time=data.get("start_time") or "09:00",
                         planned_days=int(data.get("planned_days") or 1),
                         horizon_months=int(data.get("horizon_months") or 15))
    needs = {RuleKind.RISK_INTERNAL: ("unit_id", "a unit"), RuleKind.SUPPLIER: ("supplier_id", "a supplier"),
             RuleKind.CERTIFICATION: ("certificate_id", "a certificate"), RuleKind.RRULE: ("rrule", "a recurrence")}
    field, what = needs[kind]
    if not getattr(rule, field):
        raise DomainError(f"A {kind.label.lower()} rule needs {what}.", field=field)
    if kind is RuleKind.CERTIFICATION and not rule.site_id:
        raise DomainError("Choose the site where the certification audits happen.", field="site_id")
    if kind is RuleKind.RRULE:
        if not (rule.site_id or rule.unit_id):
            raise DomainError("Choose the site (its time zone places the recurrence).", field="site_id")
        expand_rrule(rule.rrule, rule.starts_on or now.date(), dt.time(9), "UTC", now.date())
    if not 1 <= rule.horizon_months <= 36:
        raise DomainError("The horizon is between 1 and 36 months.", field="horizon_months")
    db.session.add(rule)
    db.session.flush()
    record(rule, "create", actor=actor, now=now, summary=f"Added rule “{title}” to {programme.name}",
           changes={"kind": kind.value, "title": title})
    return rule

