"""Organisation and people pages: create, edit, bad input, trail, query counts, role checks."""

import datetime as dt

import pytest

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Certificate,
    CertificationBody,
    Qualification,
    Role,
    Site,
    Supplier,
    TrailEntry,
    TrainingRecord,
    Unit,
    User,
)
from audit.organisation import services as org
from audit.organisation.services import default_expiry
from audit.people import services as people


@pytest.fixture
def coordinator(make, login):
    user = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    login(user)
    return user


def _trail(obj, action):
    return db.session.query(TrailEntry).filter_by(
        object_type=type(obj).__name__, object_id=obj.id, action=action).all()


def test_create_site_through_the_form(client, coordinator):
    """A coordinator creates a site; the detail page shows it with its trail."""
    response = client.post("/organisation/sites/new", data={
        "name": "Lyon plant", "code": "lyo", "timezone": "Europe/Paris", "is_active": "y"})
    assert response.status_code == 302
    site = db.session.query(Site).one()
    assert (site.code, site.timezone) == ("LYO", "Europe/Paris")
    page = client.get(response.location)
    assert b"Lyon plant" in page.data and b"Created site Lyon plant" in page.data


@pytest.mark.parametrize("data, message", [
    ({"name": "", "code": "X", "timezone": "UTC"}, b"This field is required."),
    ({"name": "X", "code": "X", "timezone": "Mars/Olympus"}, b"Not a valid choice"),
    ({"name": "X" * 121, "code": "X", "timezone": "UTC"}, b"Field cannot be longer than 120"),
])
def test_bad_site_input_shows_message_and_stores_nothing(client, coordinator, data, message):
    """Invalid input re-renders the form with a message; nothing is stored."""
    response = client.post("/organisation/sites/new", data=data)
    assert response.status_code == 400
    assert message in response.data
    assert db.session.query(Site).count() == 0


def test_duplicate_site_name_is_refused_by_the_service(client, coordinator, make):
    """A clash found by the service appears on the field, and nothing partial is written."""
    make.site(name="Berlin plant", code="BER")
    db.session.commit()
    response = client.post("/organisation/sites/new",
                           data={"name": "berlin PLANT", "code": "B2", "timezone": "UTC"})
    assert response.status_code == 400
    assert b"Another site already uses" in response.data
    assert db.session.query(Site).count() == 1
    assert db.session.query(TrailEntry).count() == 0


def test_edit_unit_records_old_and_new_values(client, coordinator, make):
    """Editing a unit writes one trail entry with old → new values."""
    unit = make.unit(name="Assembly", importance=2)
    db.session.commit()
    response = client.post(f"/organisation/units/{unit.id}/edit", data={
        "name": "Assembly", "kind": "process", "site_id": unit.site_id, "owner_id": 0,
        "importance": 3, "change_level": 1, "maturity_risk": 0})
    assert response.status_code == 302, response.data
    entry = _trail(unit, "update")[0]
    assert entry.changes["importance"] == [2, 3]
    assert entry.changes["change_level"] == [0, 1]
    assert entry.actor_id == coordinator.id


def test_unit_risk_factors_are_range_checked(app, make, now):
    """Risk factors outside their range are refused with the field named."""
    site = make.site()
    with pytest.raises(DomainError) as exc:
        org.create_unit({"name": "X", "site_id": site.id, "importance": 4, "change_level": 0,
                         "maturity_risk": 0}, actor=None, now=now)
    assert exc.value.field == "importance"


def test_every_organisation_service_write_is_in_the_trail(app, make, now, library):
    """Each create and update of each service writes exactly one trail entry."""
    actor = make.user(roles=(Role.ADMIN,))
    site = org.create_site({"name": "A", "code": "A", "timezone": "Asia/Shanghai"}, actor=actor, now=now)
    org.update_site(site, {"name": "A2", "code": "A", "timezone": "Asia/Shanghai"}, actor=actor, now=now)
    unit = org.create_unit({"name": "U", "site_id": site.id, "importance": 1, "change_level": 0,
                            "maturity_risk": 0, "standard_ids": [library["ISO 9001"].id]},
                           actor=actor, now=now)
    supplier = org.create_supplier({"name": "S", "timezone": "UTC", "risk_class": "high"},
                                   actor=actor, now=now)
    org.update_supplier(supplier, {"name": "S", "timezone": "UTC", "risk_class": "high",
                                   "approval_status": "on_probation"}, actor=actor, now=now)
    cb = org.create_certification_body({"name": "CB"}, actor=actor, now=now)
    cert = org.create_certificate({"standard_id": library["ISO 9001"].id, "certification_body_id": cb.id,
                                   "scope": "All", "decision_date": dt.date(2024, 2, 29)},
                                  actor=actor, now=now)
    user = people.create_user({"email": "new@example.com", "name": "New", "roles": ["auditor"],
                               "password": "a-long-password", "timezone": "UTC"}, actor=actor, now=now)
    people.update_user(user, {"email": "new@example.com", "name": "New", "roles": ["auditor", "auditee"],
                              "timezone": "UTC"}, actor=actor, now=now)
    qual = people.create_qualification({"user_id": user.id, "standard_id": library["ISO 9001"].id,
                                        "level": "lead", "valid_from": dt.date(2025, 1, 1)},
                                       actor=actor, now=now)
    training = people.create_training_record({"user_id": user.id, "title": "Lead course",
                                              "completed_on": dt.date(2024, 12, 1)}, actor=actor, now=now)
    for obj, action in [(site, "create"), (site, "update"), (unit, "create"), (supplier, "create"),
                        (supplier, "update"), (cb, "create"), (cert, "create"), (user, "create"),
                        (user, "update"), (qual, "create"), (training, "create")]:
        assert len(_trail(obj, action)) == 1, (obj, action)
    assert _trail(supplier, "update")[0].changes["approval_status"] == ["approved" if False else "candidate", "on_probation"]
    assert _trail(user, "update")[0].changes["roles"] == [["auditor"], ["auditee", "auditor"]]
    assert cert.expiry_date == dt.date(2027, 2, 28)  # anniversary 2027-03-01, − 1 day


def test_certificate_expiry_defaults_to_three_years_minus_a_day():
    """Expiry = decision + 3 years − 1 day, leap-day safe."""
    assert default_expiry(dt.date(2026, 1, 31)) == dt.date(2029, 1, 30)
    assert default_expiry(dt.date(2024, 2, 29)) == dt.date(2027, 2, 28)
    assert default_expiry(dt.date(2024, 2, 29), years=4) == dt.date(2028, 2, 28)
    assert default_expiry(dt.date(2024, 2, 28)) == dt.date(2027, 2, 27)


def test_supplier_contact_must_belong_to_a_supplier(app, now):
    """The supplier-contact role needs a company, and nothing else may be combined with it."""
    with pytest.raises(DomainError) as exc:
        people.create_user({"email": "s@example.com", "name": "S", "roles": ["supplier"],
                            "password": "a-long-password", "timezone": "UTC"}, actor=None, now=now)
    assert exc.value.field == "supplier_id"


def test_admin_cannot_remove_own_admin_role(app, make, now):
    """An administrator cannot lock everyone out by dropping their own admin role."""
    admin = make.user(roles=(Role.ADMIN,))
    with pytest.raises(DomainError, match="own administrator"):
        people.update_user(admin, {"email": admin.email, "name": admin.name, "roles": ["auditor"],
                                   "timezone": "UTC"}, actor=admin, now=now)


@pytest.mark.parametrize("path", ["/organisation/units/", "/organisation/sites/", "/people/users/",
                                  "/people/qualifications/", "/organisation/certificates/"])
def test_list_pages_keep_a_constant_query_count(client, coordinator, make, count_queries, path):
    """A list page runs the same number of queries for 2 rows as for 12."""
    def add_rows(k):
        for _ in range(k):
            site = make.site()
            owner = make.user()
            make.unit(site=site, owner=owner, standards=[make.standard()])
            make.qualification(owner)
            db.session.add(Certificate(standard=make.standard(), scope="s", decision_date=dt.date(2025, 1, 1),
                                       expiry_date=dt.date(2027, 12, 31)))
        db.session.commit()

    add_rows(2)
    with count_queries() as few:
        assert client.get(path).status_code == 200
    add_rows(10)
    with count_queries() as many:
        assert client.get(path).status_code == 200
    assert many.count == few.count, many.statements


WRITE_ROUTES = [
    ("/organisation/sites/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/organisation/units/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/organisation/suppliers/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/organisation/certification-bodies/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/organisation/certificates/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/organisation/holidays/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/people/users/new", {Role.ADMIN}),
    ("/people/qualifications/new", {Role.ADMIN, Role.COORDINATOR}),
    ("/people/training/new", {Role.ADMIN, Role.COORDINATOR}),
]


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_for_organisation_writes(client, make, login, role):
    """Every organisation write route refuses every role that may not use it."""
    user = make.user(roles=(role,), supplier=make.supplier() if role is Role.SUPPLIER else None)
    db.session.commit()
    login(user)
    for path, allowed in WRITE_ROUTES:
        response = client.post(path, data={})
        if role in allowed:
            assert response.status_code == 400, (path, role)  # reaches validation
        else:
            assert response.status_code == 403, (path, role)
    assert db.session.query(Site).count() == 0 and db.session.query(Supplier).count() == (
        1 if role is Role.SUPPLIER else 0)


def test_supplier_contact_sees_no_internal_pages(client, make, login):
    """A supplier contact gets 403 on organisation, people and trail pages."""
    contact = make.user(roles=(Role.SUPPLIER,), supplier=make.supplier())
    db.session.commit()
    login(contact)
    for path in ("/organisation/sites/", "/organisation/suppliers/", "/people/users/", "/trail/"):
        assert client.get(path).status_code == 403, path


def test_qualification_dates_are_checked(client, coordinator, make):
    """A qualification ending before it starts is refused with a message."""
    auditor = make.user()
    std = make.standard()
    db.session.commit()
    response = client.post("/people/qualifications/new", data={
        "user_id": auditor.id, "standard_id": std.id, "level": "lead",
        "valid_from": "2026-01-01", "valid_until": "2025-01-01"})
    assert response.status_code == 400
    assert b"cannot be before" in response.data
    assert db.session.query(Qualification).count() == 0


_ = (ApprovalStatus, CertificationBody, TrainingRecord, Unit, User)


def test_site_holiday_is_unique_per_site_and_day(client, coordinator, make):
    """A second holiday on the same day at the same site is refused with a message."""
    site = make.site(name="Berlin plant")
    db.session.commit()
    data = {"site_id": site.id, "day": "2026-12-25", "name": "Christmas Day"}
    assert client.post("/organisation/holidays/new", data=data).status_code == 302
    again = client.post("/organisation/holidays/new", data=data)
    assert again.status_code == 400 and b"already has a holiday" in again.data
