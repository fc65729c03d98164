"""A risk's own "Effectiveness review due" date was shown on the register and in the review pack
but was nobody's turn: the management sweep now tells the coordinators and the risk's owner 14
days ahead and once overdue, and the coordinators hold "Risk to review" until the review is
recorded with its next date. Days are the risk's own site's."""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import select

from audit.extensions import db
from audit.management import registers, risk_reviews
from audit.models import Notification, Role
from tests.journey import at, notice_titles, run_job, waiting_items

DUE = dt.date(2027, 4, 30)

_sweep = partial(run_job, job="management_review_reminders")
_titles = partial(notice_titles, kind="risk_review_due")
_to_review = partial(waiting_items, step="review_risk")


def _risk_values(owner, unit=None, **changes) -> dict:
    return {"title": "Single-source castings", "kind": "risk", "likelihood": 4, "impact": 4,
            "owner_id": owner.id, "unit_id": unit.id if unit else None, "identified_on": dt.date(2026, 5, 1),
            "actions": "Qualify a second foundry", "review_due_on": DUE, **changes}


def test_a_risk_review_coming_due_waits_for_the_coordinators_until_recorded(app, make):
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    owner = make.user(roles=(Role.VIEWER,), name="Tom Topman")
    risk = registers.create_risk(_risk_values(owner), actor=coordinator, now=at(dt.date(2026, 5, 1)))
    db.session.commit()

    early = at(DUE - dt.timedelta(days=15))
    _sweep(app, early)
    assert _titles(coordinator) == [] and _to_review(app, coordinator, early) == []

    soon = at(DUE - dt.timedelta(days=14))
    _sweep(app, soon)
    _sweep(app, soon + dt.timedelta(hours=1))  # told once
    assert _titles(coordinator) == _titles(owner) == ["Risk review due 30 Apr 2027: Single-source castings"]
    told = db.session.scalars(select(Notification).where(Notification.user_id == owner.id)).one()
    assert "Give the coordinators your view" in told.body and told.link == f"/management/risks/{risk.id}"
    item, = _to_review(app, coordinator, soon)
    assert (item.label, item.due_on, item.overdue, item.url) == (
        "Risk to review", DUE, False, f"/management/risks/{risk.id}/edit")
    assert _to_review(app, owner, soon) == []  # the coordinators record it

    late = at(DUE + dt.timedelta(days=1))
    _sweep(app, late)
    assert _titles(coordinator)[-1] == "Risk review overdue 30 Apr 2027: Single-source castings"
    assert _to_review(app, coordinator, late)[0].overdue

    registers.update_risk(risk, _risk_values(owner, effectiveness="effective", reviewed_on=DUE + dt.timedelta(days=1),
                                             review_due_on=dt.date(2028, 4, 30)),
                          actor=coordinator, now=late)
    db.session.commit()
    assert _to_review(app, coordinator, late) == []
    assert risk_reviews.reviews_due(at(dt.date(2028, 4, 16))) == [(risk, False)]  # the next one


def test_the_risk_sites_date_decides(app, make):
    """At 20:00 UTC on 15 April it is already 16 April in Sydney: a Sydney risk due on 30 April
    is 14 days off there, and the coordinators are told; in UTC it was still 15 days."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    site = make.site(timezone="Australia/Sydney")
    unit = make.unit(site=site)
    registers.create_risk(_risk_values(coordinator, unit), actor=coordinator, now=at(dt.date(2026, 5, 1)))
    db.session.commit()
    assert len(risk_reviews.reviews_due(at(dt.date(2027, 4, 15), hour=20))) == 1
    assert risk_reviews.reviews_due(at(dt.date(2027, 4, 15), hour=9)) == []
