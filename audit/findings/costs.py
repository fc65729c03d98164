"""Cost of poor quality recorded on nonconformities."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.transitions import text
from audit.findings.workflow import FINDING
from audit.models import (
    CostCategory,
    Finding,
    PoorQualityCost,
)
from audit.trail.services import record, snapshot


def add_cost(finding: Finding, *, category: CostCategory, amount, currency: str,
             incurred_on: dt.date | None, note: str | None = None, actor,
             now: dt.datetime) -> PoorQualityCost:
    """Record what a nonconformity cost (scrap, rework, concession, return, extra inspection)."""
    FINDING.require(finding, actor, "add_cost")
    if not finding.grade.is_nonconformity:
        raise DomainError("Costs of poor quality are recorded on nonconformities only.")
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError("Enter the amount as a number.", field="amount") from None
    if value <= 0:
        raise DomainError("The amount must be more than zero.", field="amount")
    currency = text(currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DomainError("Use a three-letter currency code such as EUR.", field="currency")
    if incurred_on is None:
        raise DomainError("When was the cost incurred?", field="incurred_on")
    cost = PoorQualityCost(finding=finding, category=category, amount=value, currency=currency,
                           incurred_on=incurred_on, note=text(note) or None,
                           created_by_id=actor.id, created_at=now)
    db.session.add(cost)
    db.session.flush()
    record(cost, "create", actor=actor, now=now,
           summary=f"Cost of poor quality on {finding.reference}",
           changes=snapshot({"category": category, "amount": value, "currency": currency,
                             "incurred_on": incurred_on}))
    return cost
