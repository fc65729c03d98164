"""Cost of poor quality in one base currency: ISO 4217 codes, dated rates kept by the
administrator, the rate stored on each cost, bounds, no future dates, costs after closure."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings import costs
from audit.findings import services as fs
from audit.models import CostCategory, Grade, Role
from audit.reports.services import build_pack
from tests.findings.helpers import draft, world


@pytest.fixture
def nc(app, make, library, now):
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    admin = make.user(roles=(Role.ADMIN,), name="Ada Admin")
    return w, f, admin


def _cost(w, f, now, **kw):
    values = {"category": CostCategory.SCRAP, "amount": "100", "currency": "EUR",
              "incurred_on": now.date(), "actor": w.owner, "now": now}
    values.update(kw)
    return fs.add_cost(f, **values)


@pytest.mark.parametrize("code", ["XXX", "ABC", "EU", "XAU", ""])
def test_currency_must_be_iso_4217_money(nc, now, code):
    """'XXX' (no currency), unknown codes and precious metals are refused."""
    w, f, _ = nc
    with pytest.raises(DomainError, match="not an ISO 4217 currency") as exc:
        _cost(w, f, now, currency=code)
    assert exc.value.field == "currency" and f.costs == []


def test_cost_is_converted_at_the_rate_of_its_date_and_keeps_it(nc, now):
    """CNY at the rate valid on the cost's date, stored on the cost; a later rate changes nothing."""
    w, f, admin = nc
    with pytest.raises(DomainError, match="No CNY→EUR exchange rate"):
        _cost(w, f, now, currency="CNY")
    costs.set_rate("cny", now.date() - dt.timedelta(days=30), "0.125", actor=admin, now=now)
    cost = _cost(w, f, now, currency="CNY", amount="800", incurred_on=now.date() - dt.timedelta(days=2))
    assert (cost.currency, cost.rate, cost.base_amount, cost.base_currency) == ("CNY", Decimal("0.125"),
                                                                               Decimal("100.00"), "EUR")
    costs.set_rate("CNY", now.date() - dt.timedelta(days=1), "0.2", actor=admin, now=now)
    assert cost.base_amount == Decimal("100.00")
    with pytest.raises(NotAllowed):
        costs.set_rate("USD", now.date(), "0.9", actor=w.coordinator, now=now)


def test_totals_and_trend_stay_in_the_base_currency(nc, now):
    """After one cost in CNY the management review still totals everything in EUR."""
    w, f, admin = nc
    _cost(w, f, now, amount="250", incurred_on=now.date() - dt.timedelta(days=40))
    costs.set_rate("CNY", now.date() - dt.timedelta(days=90), "0.125", actor=admin, now=now)
    _cost(w, f, now, currency="CNY", amount="800")
    pack = build_pack(now.date() - dt.timedelta(days=365), now.date(), today=now.date())
    assert pack.cost_totals == [("EUR", Decimal("350.00"))]
    assert {cur for _, cur, _ in pack.costs_by_month} == {"EUR"}


def test_amount_bounds_and_no_future_dates(nc, now):
    """Zero, absurd amounts and future dates are refused with a message on the field."""
    w, f, _ = nc
    for kw, field in (({"amount": "0"}, "amount"), ({"amount": "1e9"}, "amount"),
                      ({"incurred_on": now.date() + dt.timedelta(days=2)}, "incurred_on")):
        with pytest.raises(DomainError) as exc:
            _cost(w, f, now, **kw)
        assert exc.value.field == field
    assert f.costs == []


def test_rates_page_for_the_administrator(nc, now, login):
    """The administrator adds a rate on the page; a coordinator reads the table without the form."""
    w, f, admin = nc
    client = login(admin)
    page = client.get("/findings/rates/").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = client.post("/findings/rates/", data={"csrf_token": token, "currency": "USD",
                                              "valid_from": now.date().isoformat(), "rate": "0.92"})
    assert r.status_code == 302
    bad = client.post("/findings/rates/", data={"csrf_token": token, "currency": "XXX",
                                                "valid_from": now.date().isoformat(), "rate": "1"})
    assert bad.status_code == 400 and "not an ISO 4217 currency" in bad.text
    page = login(w.coordinator).get("/findings/rates/").text
    assert "USD" in page and "Save rate" not in page
    db.session.expire_all()
    assert _cost(w, f, now, currency="USD", amount="100").base_amount == Decimal("92.00")


def test_review_chart_uses_the_base_currency_beside_legacy_rows(nc, now, make, login):
    """A cost from before conversion existed (CNY, no base amount) sorts before EUR; the
    management review's trend chart still charts the base currency, not the first listed."""
    from audit.models import PoorQualityCost

    w, f, _ = nc
    _cost(w, f, now, amount="250", incurred_on=now.date() - dt.timedelta(days=40))
    db.session.add(PoorQualityCost(finding_id=f.id, category=CostCategory.SCRAP, amount=Decimal("800"),
                                   currency="CNY", incurred_on=now.date() - dt.timedelta(days=3)))
    db.session.commit()
    viewer = make.user(roles=(Role.VIEWER,), name="Vera Viewer")
    page = login(viewer).get("/reports/management-review").text
    assert "Cost of poor quality per month (EUR)" in page
    assert "Cost of poor quality per month (CNY)" not in page
