"""Editing a certificate (review "certificate", defects 1 and 4): a renewal keeps no stale
expiry, and a change of status is told to the coordinators."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.core.registry import registry
from audit.extensions import db
from audit.models import Notification, Role
from audit.organisation.services import update_certificate
from tests.programme.test_cycle_renewal import certificate

D = dt.date
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _edit(cert, std, **changes):
    data = {"standard_id": std.id, "scope": "All", "decision_date": cert.decision_date,
            "expiry_date": cert.expiry_date, "status": cert.status.value, **changes}
    return update_certificate(cert, data, actor=None, now=NOW)


def test_a_new_decision_with_the_old_expiry_is_refused(app, make):
    """The form shows the previous expiry: saving it with the renewal's decision is refused,
    with the expiry the convention would give."""
    cert, std = certificate(make, D(2023, 3, 15))
    with pytest.raises(DomainError) as refused:
        _edit(cert, std, decision_date=D(2026, 2, 1))
    assert refused.value.field == "expiry_date"
    assert "14 Mar 2026" in str(refused.value) and "31 Jan 2029" in str(refused.value)


@pytest.mark.parametrize("expiry, expected", [(None, D(2029, 1, 31)), (D(2029, 3, 14), D(2029, 3, 14))])
def test_a_renewal_takes_the_new_or_conventional_expiry(app, make, expiry, expected):
    """An empty expiry is decision + 3 years − 1 day; one entered (continuity) is kept."""
    cert, std = certificate(make, D(2023, 3, 15))
    _edit(cert, std, decision_date=D(2026, 2, 1), expiry_date=expiry)
    assert cert.expiry_date == expected


def test_a_corrected_decision_date_keeps_its_expiry(app, make):
    """A decision date corrected by a few days is no renewal: the expiry may stay."""
    cert, std = certificate(make, D(2023, 3, 15))
    _edit(cert, std, decision_date=D(2023, 3, 18))
    assert cert.decision_date == D(2023, 3, 18) and cert.expiry_date == D(2026, 3, 14)


def test_a_status_change_tells_the_coordinators(app, make):
    """Suspending a certificate queues one notice per coordinator, saying what to do; saving
    it again unchanged tells nobody."""
    coordinators = [make.user(roles=(Role.COORDINATOR,)) for _ in range(2)]
    cert, std = certificate(make, D(2025, 4, 1))
    _edit(cert, std, status="suspended")
    _edit(cert, std, scope="All sites")
    notes = db.session.scalars(select(Notification).where(Notification.kind == "certificate_status")).all()
    assert sorted(n.user_id for n in notes) == sorted(c.id for c in coordinators)
    assert "suspended" in notes[0].title and "surveillance" in notes[0].body
    assert "certificate_status" in registry(app).notification_kinds
    # The coordinator who records the next change is not told of their own step.
    update_certificate(cert, {"standard_id": std.id, "scope": "All sites", "status": "active",
                              "decision_date": cert.decision_date, "expiry_date": cert.expiry_date},
                       actor=coordinators[0], now=NOW + dt.timedelta(days=30))
    lifted = db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "certificate_status", Notification.title.contains("active"))).all()
    assert lifted == [coordinators[1].id]


def test_the_edit_form_says_why_the_renewal_is_refused(app, make, login):
    """Through the form, pre-filled with the old expiry: 400, the message on the expiry field,
    nothing saved."""
    coord = make.user(roles=(Role.COORDINATOR,))
    cert, std = certificate(make, D(2023, 3, 15))
    response = login(coord).post(f"/organisation/certificates/{cert.id}/edit", data={
        "standard_id": std.id, "certification_body_id": 0, "supplier_id": 0, "number": "Q-1",
        "scope": "All", "decision_date": "2026-02-01", "expiry_date": "2026-03-14",
        "status": "active", "is_accredited": "y", "cycle_number": 2})
    assert response.status_code == 400
    assert "the expiry is still the previous one" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(cert), cert.id).decision_date == D(2023, 3, 15)
