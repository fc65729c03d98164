"""How often each thing is audited: risk-based unit intervals (DOMAIN.md §2), supplier intervals by
risk class and certificate, the last real audit of each unit, interval slots inside a period, and
RFC 5545 RRULEs expanded in the site's zone. Pure rules and their reads; ``generation`` turns
them into audits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from sqlalchemy import select

from audit.audits.services import to_utc
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Audit,
    AuditStatus,
    CertificateStatus,
    Finding,
    Grade,
    RiskClass,
)
from audit.models.audit import audit_units

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
