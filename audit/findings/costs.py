"""Cost of poor quality recorded on nonconformities, converted into one base currency.

A cost is entered in the currency it was incurred in (ISO 4217, checked against pycountry's
maintained list), converted at the rate valid on its date from the administrator's dated rates
table, and stored with that rate and the converted amount, so totals and trends add up in the
base currency and never change when a later rate is entered. Costs may arrive after closure
(customer returns do): they are trailed like any other.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import pycountry
from flask import current_app
from sqlalchemy import select

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings.deadlines import local_date
from audit.findings.notifying import notify_transition
from audit.findings.transitions import text
from audit.findings.workflow import FINDING, is_admin
from audit.models import CostCategory, ExchangeRate, Finding, PoorQualityCost
from audit.trail.services import record, snapshot

#: ISO 4217 codes that are not money anyone pays a cost in: testing, "no currency", precious
#: metals and settlement units.
NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD",
                       "XSU", "XUA"})


def base_currency() -> str:
    """The organisation's base currency (``BASE_CURRENCY``)."""
    return current_app.config.get("BASE_CURRENCY", "EUR")


def check_currency(code: str | None, field: str = "currency") -> str:
    """The upper-cased ISO 4217 code, or a message saying it is not a currency."""
    code = text(code).upper()
    if len(code) != 3 or code in NOT_MONEY or pycountry.currencies.get(alpha_3=code) is None:
        raise DomainError(f"“{code or '—'}” is not an ISO 4217 currency code (e.g. EUR, USD, CNY).",
                          field=field)
    return code


def rate_on(currency: str, day: dt.date) -> Decimal:
    """Base-currency units for one unit of ``currency`` on ``day``: the latest rate from on or
    before that day. Refused with a message when the table has none."""
    base = base_currency()
    if currency == base:
        return Decimal(1)
    row = db.session.scalar(select(ExchangeRate).where(
        ExchangeRate.currency == currency, ExchangeRate.base_currency == base,
        ExchangeRate.valid_from <= day).order_by(ExchangeRate.valid_from.desc()).limit(1))
    if row is None:
        raise DomainError(f"No {currency}→{base} exchange rate valid on {day:%d %b %Y}: the "
                          "administrator adds it under Findings → Exchange rates.", field="currency")
    return Decimal(row.rate)


def set_rate(currency: str, valid_from: dt.date | None, rate, *, actor, now: dt.datetime) -> ExchangeRate:
    """The administrator records the rate of ``currency`` valid from a date (trailed)."""
    if not is_admin(actor):
        raise NotAllowed("Only the administrator keeps the exchange rates.")
    currency = check_currency(currency)
    base = base_currency()
    if currency == base:
        raise DomainError(f"{base} is the base currency: its rate is always 1.", field="currency")
    if valid_from is None:
        raise DomainError("From which date is the rate valid?", field="valid_from")
    try:
        value = Decimal(str(rate))
    except (InvalidOperation, ValueError):
        raise DomainError("Enter the rate as a number.", field="rate") from None
    if not Decimal("0.00000001") <= value <= Decimal("1000000"):
        raise DomainError("The rate must be between 0.00000001 and 1,000,000.", field="rate")
    row = db.session.scalar(select(ExchangeRate).where(ExchangeRate.currency == currency,
                                                       ExchangeRate.valid_from == valid_from))
    old = None if row is None else Decimal(row.rate)
    if row is None:
        row = ExchangeRate(currency=currency, valid_from=valid_from, created_by_id=actor.id, created_at=now)
        db.session.add(row)
    row.base_currency, row.rate = base, value
    db.session.flush()
    record(row, "update" if old is not None else "create", actor=actor, now=now,
           summary=f"Rate {currency}→{base} from {valid_from:%d %b %Y}: {value}",
           changes=snapshot({"rate": [old, value] if old is not None else value}))
    return row


def add_cost(finding: Finding, *, category: CostCategory, amount, currency: str,
             incurred_on: dt.date | None, note: str | None = None, actor,
             now: dt.datetime) -> PoorQualityCost:
    """Record what a nonconformity cost (scrap, rework, concession, return, extra inspection),
    converted into the base currency at the rate of its date."""
    FINDING.require(finding, actor, "add_cost")
    if not finding.grade.is_nonconformity:
        raise DomainError("Costs of poor quality are recorded on nonconformities only.")
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError("Enter the amount as a number.", field="amount") from None
    if value <= 0:
        raise DomainError("The amount must be more than zero.", field="amount")
    currency = check_currency(currency)
    if incurred_on is None:
        raise DomainError("When was the cost incurred?", field="incurred_on")
    if incurred_on > local_date(finding, now):
        raise DomainError("A cost is recorded once incurred: the date cannot be in the future.",
                          field="incurred_on")
    rate = rate_on(currency, incurred_on)
    base_amount = (value * rate).quantize(Decimal("0.01"))
    limit = Decimal(current_app.config.get("COST_MAX_AMOUNT", 10_000_000))
    if base_amount > limit:
        raise DomainError(f"That is more than {limit:,.0f} {base_currency()}: check the amount "
                          "(split a larger loss into its parts).", field="amount")
    cost = PoorQualityCost(finding=finding, category=category, amount=value, currency=currency,
                           base_currency=base_currency(), rate=rate, base_amount=base_amount,
                           incurred_on=incurred_on, note=text(note) or None,
                           created_by_id=actor.id, created_at=now)
    db.session.add(cost)
    db.session.flush()
    record(cost, "create", actor=actor, now=now,
           summary=f"Cost of poor quality on {finding.reference}"
                   + (" (after closure)" if finding.is_closed else ""),
           changes=snapshot({"category": category, "amount": value, "currency": currency,
                             "rate": rate, "base_amount": base_amount, "incurred_on": incurred_on}))
    notify_transition(finding, "add_cost", actor=actor, now=now, about=f":{cost.id}",
                      note=f"Cost: {category.label} "
                           f"{value} {currency} ({base_amount} {cost.base_currency}) on {incurred_on:%d %b %Y}")
    return cost
