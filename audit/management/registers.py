"""Process indicators (9.1.1), customer feedback (9.1.2), risks and opportunities (6.1) and the
context log (4.1/4.2). Services flush, never commit; every write leaves a trail entry."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import get_or_fail, save_with_trail
from audit.extensions import db
from audit.management.objectives import _decimal, _text
from audit.models import (
    Complaint,
    ComplaintStatus,
    ContextCategory,
    ContextChange,
    Direction,
    Effectiveness,
    Finding,
    IndicatorResult,
    ProcessIndicator,
    Risk,
    RiskKind,
    SatisfactionResult,
    Severity,
    TriggerKind,
    Unit,
    User,
)
from audit.programme.triggers import record_trigger
from audit.trail.services import record, snapshot


def _enum(enum_cls, raw, *, field: str, what: str):
    try:
        return enum_cls(raw)
    except ValueError:
        raise DomainError(f"Choose the {what} from the list.", field=field) from None


def _date(raw, *, field: str, what: str) -> dt.date:
    if not isinstance(raw, dt.date):
        raise DomainError(f"Give the {what} (YYYY-MM-DD).", field=field)
    return raw


def _required(data: dict, name: str, message: str, limit: int = 200) -> str:
    text = (data.get(name) or "").strip()
    if not text:
        raise DomainError(message, field=name)
    return text[:limit]


# Process indicators ---------------------------------------------------------------------------

def _indicator_values(data: dict) -> dict:
    unit = get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit")
    if data.get("target") in (None, ""):
        raise DomainError("Give the target value.", field="target")
    target_unit = (data.get("target_unit") or "").strip()
    if not target_unit:
        raise DomainError("A target needs its unit (%, days, ppm ...).", field="target_unit")
    return {"unit": unit, "name": _required(data, "name", "Name the indicator."),
            "definition": _text(data.get("definition")),
            "target": _decimal(data["target"], field="target", what="The target"),
            "target_unit": target_unit[:30],
            "direction": _enum(Direction, data.get("direction"), field="direction", what="direction")}


def create_indicator(data: dict, *, actor, now: dt.datetime) -> ProcessIndicator:
    """Add a performance indicator to an auditable unit."""
    values = _indicator_values(data)
    return save_with_trail(ProcessIndicator(created_at=now), values, actor=actor, now=now,
                           label=f"indicator {values['name']}")


def update_indicator(indicator: ProcessIndicator, data: dict, *, actor, now: dt.datetime) -> ProcessIndicator:
    """Change an indicator's definition or target."""
    return save_with_trail(indicator, _indicator_values(data), actor=actor, now=now,
                           label=f"indicator {indicator.name}")


def can_record_result(indicator: ProcessIndicator, user) -> bool:
    """The unit's owner records its indicators' results; quality managers record any."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY)
                                 or indicator.unit.owner_id == user.id)


def record_indicator_result(indicator: ProcessIndicator, data: dict, *, actor, now: dt.datetime) -> IndicatorResult:
    """Record the actual of an indicator for a period (one value per period end)."""
    if not can_record_result(indicator, actor):
        raise NotAllowed("Only the unit's owner or a quality manager records its indicators.")
    day = _date(data.get("period_end"), field="period_end", what="period end")
    if day > now.date():
        raise DomainError("A result cannot describe a period that has not ended.", field="period_end")
    if any(r.period_end == day for r in indicator.results):
        raise DomainError(f"There is already a result for {day:%d %b %Y}.", field="period_end")
    if data.get("value") in (None, ""):
        raise DomainError("Give the actual value.", field="value")
    value = _decimal(data["value"], field="value", what="The value")
    result = IndicatorResult(indicator=indicator, period_end=day, value=value,
                             recorded_by_id=getattr(actor, "id", None), created_at=now)
    db.session.add(result)
    db.session.flush()
    record(indicator, "result", actor=actor, now=now,
           summary=f"{indicator.name}: {value.normalize()} {indicator.target_unit} for {day:%d %b %Y}",
           changes=snapshot({"period_end": day, "value": value}))
    return result


# Customer satisfaction ------------------------------------------------------------------------

def _survey_values(data: dict) -> dict:
    start = _date(data.get("period_start"), field="period_start", what="first day surveyed")
    end = _date(data.get("period_end"), field="period_end", what="last day surveyed")
    if end < start:
        raise DomainError("The period ends before it starts.", field="period_end")
    for name in ("score", "scale_max"):
        if data.get(name) in (None, ""):
            raise DomainError("Give the score and the best possible score.", field=name)
    score = _decimal(data["score"], field="score", what="The score")
    scale = _decimal(data["scale_max"], field="scale_max", what="The scale")
    if scale <= 0 or not 0 <= score <= scale:
        raise DomainError("The score lies between 0 and the best possible score.", field="score")
    sample = data.get("sample_size")
    if not isinstance(sample, int) or sample < 1:
        raise DomainError("Give how many customers answered (at least 1).", field="sample_size")
    return {"title": _required(data, "title", "Name the survey."), "period_start": start,
            "period_end": end, "score": score, "scale_max": scale, "sample_size": sample,
            "method": _required(data, "method", "Say how satisfaction was measured.", 120)}


def create_survey(data: dict, *, actor, now: dt.datetime) -> SatisfactionResult:
    """Record a customer satisfaction result for a period."""
    values = _survey_values(data)
    return save_with_trail(SatisfactionResult(created_at=now), values, actor=actor, now=now,
                           label=f"satisfaction result {values['title']}")


def update_survey(survey: SatisfactionResult, data: dict, *, actor, now: dt.datetime) -> SatisfactionResult:
    """Correct a satisfaction result."""
    return save_with_trail(survey, _survey_values(data), actor=actor, now=now,
                           label=f"satisfaction result {survey.title}")


# Complaints -------------------------------------------------------------------------------------

def _complaint_values(data: dict, now: dt.datetime) -> dict:
    received = _date(data.get("received_on"), field="received_on", what="day it was received")
    if received > now.date():
        raise DomainError("A complaint cannot be received after today.", field="received_on")
    status = _enum(ComplaintStatus, data.get("status") or "open", field="status", what="status")
    closed = data.get("closed_on") if isinstance(data.get("closed_on"), dt.date) else None
    if status is ComplaintStatus.CLOSED and closed is None:
        raise DomainError("Give the day the complaint was closed.", field="closed_on")
    if closed is not None and closed < received:
        raise DomainError("It cannot close before it was received.", field="closed_on")
    return {"customer": _required(data, "customer", "Name the customer."),
            "product": (_text(data.get("product")) or "")[:200] or None,
            "received_on": received, "closed_on": closed if status is ComplaintStatus.CLOSED else None,
            "severity": _enum(Severity, data.get("severity"), field="severity", what="severity"),
            "status": status, "description": _text(data.get("description")),
            "unit": get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit", optional=True),
            "finding": get_or_fail(Finding, data.get("finding_id"), field="finding_id",
                                   what="nonconformity", optional=True),
            "risk": get_or_fail(Risk, data.get("risk_id"), field="risk_id", what="risk", optional=True)}


def _next_complaint_reference(year: int) -> str:
    prefix = f"CC-{year}-"
    count = db.session.scalar(select(func.count(Complaint.id)).where(Complaint.reference.like(prefix + "%")))
    return f"{prefix}{(count or 0) + 1:03d}"


def create_complaint(data: dict, *, actor, now: dt.datetime) -> Complaint:
    """Register a customer complaint (numbered CC-<year>-nnn)."""
    values = _complaint_values(data, now)
    values["reference"] = _next_complaint_reference(values["received_on"].year)
    return save_with_trail(Complaint(created_at=now), values, actor=actor, now=now,
                           label=f"complaint {values['reference']}")


def update_complaint(complaint: Complaint, data: dict, *, actor, now: dt.datetime) -> Complaint:
    """Change a complaint: its status, links to a nonconformity or a risk."""
    return save_with_trail(complaint, _complaint_values(data, now), actor=actor, now=now,
                           label=f"complaint {complaint.reference}")


def raise_complaint_audit(complaint: Complaint, *, actor, now: dt.datetime):
    """Let the complaint call for an audit of its unit through the programme's triggers."""

    if complaint.trigger_id is not None:
        raise DomainError("This complaint already raised an audit trigger.")
    if complaint.unit_id is None:
        raise DomainError("Choose the unit the complaint concerns first (edit the complaint).")
    trigger, _joined = record_trigger({
        "kind": TriggerKind.COMPLAINT, "title": f"Complaint {complaint.reference} from {complaint.customer}"[:200],
        "occurred_on": complaint.received_on, "unit_id": complaint.unit_id,
        "description": complaint.description, "external_reference": complaint.reference,
    }, actor=actor, now=now)
    complaint.trigger = trigger
    db.session.flush()
    record(complaint, "trigger", actor=actor, now=now,
           summary=f"Complaint {complaint.reference} raised an audit trigger",
           changes={"trigger_id": trigger.id})
    return trigger


# Risks and opportunities ---------------------------------------------------------------------------

def _score_part(data: dict, name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise DomainError("Rate from 1 (lowest) to 5 (highest).", field=name)
    return value


def _risk_values(data: dict) -> dict:
    effectiveness = _enum(Effectiveness, data.get("effectiveness") or "not_reviewed",
                          field="effectiveness", what="effectiveness")
    reviewed = data.get("reviewed_on") if isinstance(data.get("reviewed_on"), dt.date) else None
    if effectiveness is not Effectiveness.NOT_REVIEWED and reviewed is None:
        raise DomainError("Give the day the effectiveness was reviewed.", field="reviewed_on")
    finding_ids = [int(i) for i in (data.get("finding_ids") or []) if str(i).isdigit()]
    findings = list(db.session.scalars(select(Finding).where(Finding.id.in_(finding_ids)))) if finding_ids else []
    if len(findings) != len(set(finding_ids)):
        raise DomainError("One of the chosen findings does not exist (any more).", field="finding_ids")
    return {"title": _required(data, "title", "Name the risk or opportunity."),
            "kind": _enum(RiskKind, data.get("kind"), field="kind", what="kind"),
            "description": _text(data.get("description")),
            "likelihood": _score_part(data, "likelihood"), "impact": _score_part(data, "impact"),
            "owner": get_or_fail(User, data.get("owner_id"), field="owner_id", what="owner"),
            "unit": get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit", optional=True),
            "actions": _text(data.get("actions")),
            "identified_on": _date(data.get("identified_on"), field="identified_on", what="day it was identified"),
            "review_due_on": data.get("review_due_on") if isinstance(data.get("review_due_on"), dt.date) else None,
            "effectiveness": effectiveness,
            "reviewed_on": reviewed if effectiveness is not Effectiveness.NOT_REVIEWED else None,
            "review_note": _text(data.get("review_note")), "findings": findings}


def create_risk(data: dict, *, actor, now: dt.datetime) -> Risk:
    """Add a risk or opportunity with its score (likelihood × impact) and actions."""
    values = _risk_values(data)
    return save_with_trail(Risk(created_at=now), values, actor=actor, now=now, label=f"risk {values['title']}")


def update_risk(risk: Risk, data: dict, *, actor, now: dt.datetime) -> Risk:
    """Re-rate a risk, change its actions, record the effectiveness review, link findings."""
    return save_with_trail(risk, _risk_values(data), actor=actor, now=now, label=f"risk {risk.title}")


# Context ------------------------------------------------------------------------------------------

def _context_values(data: dict, actor, now: dt.datetime) -> dict:
    day = _date(data.get("changed_on"), field="changed_on", what="day of the change")
    if day > now.date() + dt.timedelta(days=366):
        raise DomainError("Record changes at most a year ahead.", field="changed_on")
    return {"changed_on": day,
            "category": _enum(ContextCategory, data.get("category"), field="category", what="category"),
            "title": _required(data, "title", "Say in a few words what changed."),
            "description": _text(data.get("description"))}


def create_context_change(data: dict, *, actor, now: dt.datetime) -> ContextChange:
    """Log a change in internal/external issues or interested parties' requirements."""
    values = _context_values(data, actor, now)
    values["recorded_by_id"] = getattr(actor, "id", None)
    return save_with_trail(ContextChange(created_at=now), values, actor=actor, now=now,
                           label=f"context change {values['title']}")


def update_context_change(change: ContextChange, data: dict, *, actor, now: dt.datetime) -> ContextChange:
    """Correct a logged context change (the trail keeps the earlier text)."""
    return save_with_trail(change, _context_values(data, actor, now), actor=actor, now=now,
                           label=f"context change {change.title}")
