"""The findings demo step: every workflow state, overdue items, costs, an open SCAR."""

from __future__ import annotations

from sqlalchemy import func, select

from audit.demo import seed_demo
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Finding,
    FindingStatus,
    PoorQualityCost,
    Supplier,
    User,
)


def test_demo_has_every_state_and_is_idempotent(app, now):
    """Seeding twice gives findings in every state once, some overdue, costs and a SCAR."""
    seed_demo(now=now)
    db.session.commit()
    count = db.session.scalar(select(func.count(Finding.id)))
    seed_demo(now=now)
    db.session.commit()
    assert db.session.scalar(select(func.count(Finding.id))) == count
    states = set(db.session.scalars(select(Finding.status)))
    assert states == set(FindingStatus)
    findings = db.session.scalars(select(Finding)).all()
    assert sum(1 for f in findings if f.is_overdue(now.date())) >= 2
    assert db.session.scalar(select(func.count(PoorQualityCost.id))) >= 3
    contact = db.session.scalar(select(User).where(User.email == "supplier@example.com"))
    scars = [f for f in findings if f.is_scar and f.supplier_id == contact.supplier_id]
    assert any(f.status.is_open for f in scars)
    assert db.session.get(Supplier, contact.supplier_id).approval_status is \
        ApprovalStatus.ON_PROBATION
