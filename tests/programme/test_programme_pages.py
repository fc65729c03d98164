"""Programme pages: list, detail, calendar (month/year) with constant query counts, home panels."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.extensions import db
from audit.models import AuditTeamMember, Programme, ProgrammeStatus, QualificationLevel, Role, TeamRole


@pytest.fixture
def coordinator(make):
    return make.user(roles=(Role.COORDINATOR, Role.AUDITOR), name="Cora Coordinator")


@pytest.fixture
def programme(app):
    p = Programme(name="Programme 2026", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                  status=ProgrammeStatus.ACTIVE)
    db.session.add(p)
    db.session.commit()
    return p


def add_audits(make, programme, count, start_day=1):
    std = make.standard()
    site = make.site()
    for i in range(count):
        person = make.user()
        make.qualification(person, std, level=QualificationLevel.LEAD)
        day = 1 + (start_day + i) % 27
        a = make.audit(programme=programme, site=site, planned_date=dt.date(2026, 3, day),
                       starts_at=dt.datetime(2026, 3, day, 8, tzinfo=dt.UTC),
                       ends_at=dt.datetime(2026, 3, day, 16, tzinfo=dt.UTC))
        a.standards.append(std)
        a.team.append(AuditTeamMember(user=person, role=TeamRole.LEAD))
    db.session.commit()


@pytest.mark.parametrize("url", ["/programme/{id}", "/programme/calendar?year=2026&month=3",
                                 "/programme/calendar?view=year&year=2026"])
def test_programme_pages_constant_queries(make, login, coordinator, programme, count_queries, url):
    """Programme detail and month/year calendar cost the same queries for 2 and 20 audits."""
    client = login(coordinator)
    url = url.format(id=programme.id)
    add_audits(make, programme, 2)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    add_audits(make, programme, 18, start_day=5)
    with count_queries() as many:
        page = client.get(url)
        assert page.status_code == 200
    assert few.count == many.count
    assert page.get_data(as_text=True).count("/audits/") >= 20


def test_calendar_filters_by_auditor(make, login, coordinator, programme):
    """The calendar filter by auditor shows only that person's audits."""
    add_audits(make, programme, 3)
    from audit.models import Audit

    audits = db.session.query(Audit).order_by(Audit.id).all()
    lead = audits[0].lead
    page = login(coordinator).get(f"/programme/calendar?year=2026&month=3&auditor={lead.id}").get_data(as_text=True)
    assert audits[0].reference in page
    assert audits[1].reference not in page


def test_programme_create_and_approve(login, coordinator):
    """A coordinator creates a programme, then approves it; approval needs objectives."""
    client = login(coordinator)
    response = client.post("/programme/new", data={
        "name": "Internal audits 2027", "period_start": "2027-01-01", "period_end": "2027-12-31",
        "manager_id": coordinator.id, "objectives": "", "scope": "", "risks": "", "audit_client": "CEO"})
    assert response.status_code == 302
    programme = db.session.query(Programme).one()
    page = client.post(f"/programme/{programme.id}/status", data={"status": "approved"},
                       follow_redirects=True).get_data(as_text=True)
    assert "State the programme&#39;s objectives before approval." in page
    programme.objectives = "Cover all clauses"
    db.session.commit()
    client.post(f"/programme/{programme.id}/status", data={"status": "approved"})
    db.session.refresh(programme)
    assert programme.status is ProgrammeStatus.APPROVED and programme.approved_by_id == coordinator.id


def test_home_panels(make, login, coordinator, programme):
    """The home page shows "My next audits" to a team member and programme health to a coordinator."""
    std = make.standard()
    make.qualification(coordinator, std, level=QualificationLevel.LEAD)
    now = dt.datetime.now(dt.UTC)
    a = make.audit(title="Tomorrow's audit", programme=programme, starts_at=now + dt.timedelta(days=1),
                   ends_at=now + dt.timedelta(days=1, hours=8))
    a.team.append(AuditTeamMember(user=coordinator, role=TeamRole.LEAD))
    db.session.commit()
    page = login(coordinator).get("/").get_data(as_text=True)
    assert "My next audits" in page and "Tomorrow&#39;s audit" in page
    assert "Programme health" in page
