"""The demo organisation: contents, idempotence and scaling."""

from sqlalchemy import func, select

from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Certificate,
    Qualification,
    QualificationLevel,
    RiskClass,
    Role,
    Site,
    Standard,
    Supplier,
    Unit,
    User,
)


def _counts():
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
            for m in (Site, Unit, Supplier, User, Qualification, Certificate, Standard)}


def test_demo_data_has_what_the_product_promises(app, now):
    """Three zones, 12 processes, 8 suppliers of every risk class, every role, an ISO 9001 certificate."""
    seed_demo(now=now)
    db.session.commit()
    zones = set(db.session.scalars(select(Site.timezone)))
    assert {"Europe/Berlin", "America/Chicago", "Asia/Shanghai"} <= zones
    assert db.session.scalar(select(func.count(Unit.id))) >= 12
    suppliers = list(db.session.scalars(select(Supplier)))
    assert len(suppliers) >= 8
    assert {s.risk_class for s in suppliers} == set(RiskClass)
    assert any(s.approval_status is ApprovalStatus.ON_PROBATION for s in suppliers)
    roles = set().union(*(u.roles for u in db.session.scalars(select(User))))
    assert roles == set(Role)
    assert db.session.scalar(select(func.count(User.id))) >= 10
    own = db.session.scalar(select(Certificate).where(Certificate.supplier_id.is_(None)))
    assert own.standard.code == "ISO 9001" and own.certification_body is not None
    assert own.decision_date < now.date() < own.expiry_date
    quals = list(db.session.scalars(select(Qualification)))
    leads = {q.standard.code for q in quals if q.level is QualificationLevel.LEAD}
    assert leads == {"ISO 9001", "ISO 14001", "ISO 45001"}
    assert any(q.level is QualificationLevel.TRAINEE for q in quals)
    assert any(q.valid_until and q.valid_until < now.date() for q in quals)


def test_demo_data_twice_adds_nothing(app, now):
    """Running the seeder twice leaves the same row counts."""
    seed_demo(now=now)
    db.session.commit()
    first = _counts()
    seed_demo(now=now)
    db.session.commit()
    assert _counts() == first


def test_scaled_demo_data_grows(app, now):
    """--scale 2 roughly doubles the organisation and stays idempotent."""
    seed_demo(now=now)
    db.session.commit()
    base = _counts()
    seed_demo(scale=2, now=now)
    db.session.commit()
    scaled = _counts()
    assert scaled["Unit"] == 2 * base["Unit"]
    assert scaled["Supplier"] == 2 * base["Supplier"]
    seed_demo(scale=2, now=now)
    db.session.commit()
    assert _counts() == scaled


def test_demo_cli_and_logins(app, runner, client):
    """`flask demo-data` seeds; --if-empty then skips; the README's logins work."""
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0 and "Demo data ready" in result.output
    result = runner.invoke(args=["demo-data", "--if-empty"])
    assert "not seeded" in result.output
    for email in ("admin@example.com", "coordinator@example.com", "lead@example.com",
                  "auditor@example.com", "owner@example.com", "management@example.com",
                  "supplier@example.com"):
        client.post("/logout")
        response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
