"""Audit list, audit page (with sections of other features), create/edit, team and status forms."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.services import add_team_member, change_status, create_audit, update_audit
from audit.core.errors import DomainError
from audit.core.registry import registry
from audit.extensions import db
from audit.models import Audit, AuditKind, AuditStatus, QualificationLevel, Role, TeamRole, TrailEntry


@pytest.fixture
def coordinator(make):
    return make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")


def _audits(make, count, std):
    audits = []
    for i in range(count):
        person = make.user(name=f"Lead {i}")
        make.qualification(person, std, level=QualificationLevel.LEAD)
        a = make.audit(starts_at=dt.datetime(2026, 5, 1 + i % 20, 7, tzinfo=dt.UTC),
                       ends_at=dt.datetime(2026, 5, 1 + i % 20, 15, tzinfo=dt.UTC))
        a.standards.append(std)
        a.team.append(__import__("audit.models", fromlist=["AuditTeamMember"]).AuditTeamMember(
            user=person, role=TeamRole.LEAD))
        audits.append(a)
    db.session.commit()
    return audits


def test_list_and_detail_render(make, login, coordinator):
    """The audit list links each audit; the audit page shows team and status."""
    std = make.standard()
    audit = _audits(make, 1, std)[0]
    client = login(coordinator)
    page = client.get("/audits/").get_data(as_text=True)
    assert audit.reference in page and f"/audits/{audit.id}" in page
    detail = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "Lead 0" in detail and "Planned" in detail


def test_audit_page_renders_registered_sections(make, login, coordinator, monkeypatch, tmp_path, app):
    """Registered audit-page sections appear on the page; a None section is skipped."""
    audit = make.audit(title="Sectioned")
    db.session.commit()
    app.jinja_loader.searchpath.append(str(tmp_path))
    (tmp_path / "_probe.html").write_text("<p>probe {{ greeting }} {{ audit.title }}</p>")

    def probe(a, user):
        return {"title": "Probe section", "template": "_probe.html", "context": {"greeting": "hello"}}

    monkeypatch.setattr(registry(app), "audit_sections", {"plan": probe, "report": lambda a, u: None})
    page = login(coordinator).get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "Probe section" in page and "probe hello Sectioned" in page


def test_list_query_count_is_constant(make, login, coordinator, count_queries):
    """The audit list costs the same number of queries for 2 and for 20 audits."""
    std = make.standard()
    client = login(coordinator)
    _audits(make, 2, std)
    with count_queries() as few:
        assert client.get("/audits/").status_code == 200
    _audits(make, 18, std)
    with count_queries() as many:
        assert client.get("/audits/").status_code == 200
    assert few.count == many.count


def test_create_audit_through_form(make, login, coordinator, monkeypatch, now):
    """A coordinator creates an audit; times are entered in the site's zone and stored in UTC."""
    monkeypatch.setattr("audit.audits.views.utcnow", lambda: now)  # July 2026 is ahead, not past
    site = make.site(timezone="America/Chicago")
    std = make.standard()
    response = login(coordinator).post("/audits/new", data={
        "title": "Assembly audit", "kind": "internal", "third_party_type": "", "site_id": site.id,
        "programme_id": 0, "supplier_id": 0, "certificate_id": 0, "certification_body_id": 0,
        "checklist_version_id": 0, "standard_ids": [std.id], "planned_days": 1,
        "starts_local": "2026-07-06T09:00", "ends_local": "2026-07-06T17:00"})
    assert response.status_code == 302
    audit = db.session.query(Audit).one()
    assert audit.reference == "IA-2026-001"
    assert audit.starts_at == dt.datetime(2026, 7, 6, 14, 0, tzinfo=dt.UTC)  # CDT = UTC-5
    assert audit.planned_date == dt.date(2026, 7, 6)
    assert db.session.query(TrailEntry).filter_by(object_type="Audit", action="create").count() == 1


def test_create_refuses_bad_input_and_stores_nothing(make, login, coordinator):
    """End before start gives a clear message on the field and stores nothing."""
    site = make.site()
    response = login(coordinator).post("/audits/new", data={
        "title": "Backwards", "kind": "internal", "site_id": site.id, "planned_days": 1,
        "starts_local": "2026-07-06T17:00", "ends_local": "2026-07-06T09:00"})
    assert response.status_code == 422  # a refused form is a 4xx
    assert "The audit must end after it starts." in response.get_data(as_text=True)
    assert db.session.query(Audit).count() == 0


def test_team_form_shows_rule_message(make, login, coordinator):
    """Adding an unqualified person through the page shows the rule's message."""
    std = make.standard()
    audit = make.audit(starts_at=dt.datetime(2026, 5, 4, 7, tzinfo=dt.UTC),
                       ends_at=dt.datetime(2026, 5, 4, 15, tzinfo=dt.UTC))
    audit.standards.append(std)
    person = make.user(name="Unq Ualified")
    db.session.commit()
    response = login(coordinator).post(f"/audits/{audit.id}/team", data={"user_id": person.id, "role": "auditor"})
    assert response.status_code == 422
    assert "Unq Ualified holds no ISO 9001 auditor qualification." in response.get_data(as_text=True)


def test_status_needs_reason_for_postponement(make, login, coordinator, now):
    """Postponing without a reason is refused; with one it is stored and the revision bumps."""
    audit = make.audit()
    db.session.commit()
    client = login(coordinator)
    response = client.post(f"/audits/{audit.id}/status", data={"status": "postponed", "reason": ""})
    assert "Say why the audit is postponed." in response.get_data(as_text=True)
    rev = audit.revision
    client.post(f"/audits/{audit.id}/status", data={"status": "postponed", "reason": "Plant shutdown"})
    db.session.refresh(audit)
    assert audit.status is AuditStatus.POSTPONED and audit.status_reason == "Plant shutdown"
    assert audit.revision == rev + 1


def test_illegal_transition_is_refused(app, make, now):
    """An audit cannot jump from planned to report issued."""
    audit = make.audit()
    with pytest.raises(DomainError, match="cannot go from planned to report issued"):
        change_status(audit, AuditStatus.REPORT_ISSUED, actor=None, now=now)


def test_reschedule_keeps_planned_date_and_bumps_revision(make, login, coordinator, monkeypatch, now):
    """Rescheduling moves the dates, keeps the originally planned date, and bumps the revision."""
    monkeypatch.setattr("audit.audits.views.utcnow", lambda: now)  # June 2026 is ahead, not past
    site = make.site(timezone="Europe/Berlin")
    audit = create_audit({"title": "Move me", "kind": AuditKind.INTERNAL, "site_id": site.id,
                          "starts_local": dt.datetime(2026, 6, 1, 9), "ends_local": dt.datetime(2026, 6, 1, 17)},
                         actor=None, now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    db.session.commit()
    response = login(coordinator).post(f"/audits/{audit.id}/reschedule", data={
        "starts_local": "2026-06-08T09:00", "ends_local": "2026-06-08T17:00", "reason": "Auditor ill"})
    assert response.status_code == 302
    db.session.refresh(audit)
    assert audit.planned_date == dt.date(2026, 6, 1)
    assert audit.starts_at == dt.datetime(2026, 6, 8, 7, tzinfo=dt.UTC)
    assert audit.revision == 1


def test_auditee_cannot_write(make, login):
    """Only people who manage the programme create audits."""
    auditee = make.user(roles=(Role.AUDITEE,))
    assert login(auditee).get("/audits/new").status_code == 403


def test_team_changes_bump_revision(app, make, now):
    """Adding and removing team members bumps the revision each time (calendar SEQUENCE)."""
    std = make.standard()
    audit = make.audit()
    audit.standards.append(std)
    expert = make.user()
    add_team_member(audit, expert, TeamRole.TECHNICAL_EXPERT, actor=None, now=now)
    from audit.audits.services import remove_team_member

    remove_team_member(audit, audit.team[0], actor=None, now=now)
    assert audit.revision == 2



def _clause(standards, code: str, number: str):
    return next(c for c in standards[code].clauses if c.number == number)


def _scope_form(site, ids_of_standards, clause_ids, **extra):
    """Audit form fields (strings, as posted); service calls override ``planned_date``."""
    return {"title": "Calibration audit", "kind": "internal", "third_party_type": "",
            "site_id": site.id, "programme_id": 0, "supplier_id": 0, "certificate_id": 0,
            "certification_body_id": 0, "checklist_version_id": 0,
            "standard_ids": ids_of_standards, "clause_ids": clause_ids, "planned_days": 1,
            "planned_date": "2026-09-14", **extra}


def test_form_narrows_scope_to_clauses_and_page_shows_them(make, login, coordinator, library):
    """Ticked clauses narrow the scope of their standard; a standard with none ticked is whole."""
    site = make.site()
    q, e = library["ISO 9001"], library["ISO 14001"]
    calibration, production = _clause(library, "ISO 9001", "7.1.5"), _clause(library, "ISO 9001", "8.5")
    client = login(coordinator)
    form_page = client.get("/audits/new").get_data(as_text=True)
    assert 'name="clause_ids"' in form_page and "7.1.5 Monitoring and measuring resources" in form_page
    assert "4.4.1" not in form_page  # untitled paragraphs are not scope items
    response = client.post("/audits/new", data=_scope_form(site, [q.id, e.id], [calibration.id, production.id]))
    assert response.status_code == 302
    audit = db.session.query(Audit).one()
    assert {c.id for c in audit.clauses} == {calibration.id, production.id}
    page = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "ISO 9001:2015: clauses 7.1.5, 8.5" in page
    assert "ISO 14001:2015: <span class=\"muted\">all clauses</span>" in page
    # The edit form shows the ticked clauses ticked.
    edit = client.get(f"/audits/{audit.id}/edit").get_data(as_text=True)
    assert f'value="{calibration.id}" checked' in edit and "(2 chosen)" in edit


def test_clause_outside_standards_in_scope_is_refused_and_input_kept(make, login, coordinator, library):
    """A clause of an unticked standard gets a clear message; nothing is stored, ticks are kept."""
    site = make.site()
    q = library["ISO 9001"]
    emergency = _clause(library, "ISO 14001", "8.2")
    calibration = _clause(library, "ISO 9001", "7.1.5")
    response = login(coordinator).post(
        "/audits/new", data=_scope_form(site, [q.id], [calibration.id, emergency.id]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ISO 14001:2015 8.2 is not in a standard in scope" in page
    assert f'value="{calibration.id}" checked' in page and f'value="{emergency.id}" checked' in page
    assert db.session.query(Audit).count() == 0


def test_unticking_a_standard_with_narrowed_clauses_is_refused(app, make, coordinator, library, now):
    """Editing keeps clauses consistent: dropping their standard needs dropping them too."""
    site = make.site()
    q, e = library["ISO 9001"], library["ISO 14001"]
    calibration = _clause(library, "ISO 9001", "7.1.5")
    day = dt.date(2026, 9, 14)
    audit = create_audit(_scope_form(site, [q.id, e.id], [calibration.id], planned_date=day),
                         actor=coordinator, now=now)
    db.session.commit()
    # A caller that does not send clause_ids keeps the clauses, and they are still checked.
    with pytest.raises(DomainError, match="ISO 9001:2015 7.1.5 is not in a standard in scope"):
        update_audit(audit, {k: v for k, v in _scope_form(site, [e.id], [], planned_date=day).items()
                             if k != "clause_ids"}, actor=coordinator, now=now)
    db.session.rollback()
    update_audit(audit, _scope_form(site, [e.id], [], planned_date=day), actor=coordinator, now=now)
    db.session.commit()
    assert audit.clauses == [] and [s.code for s in audit.standards] == ["ISO 14001"]
    trail = db.session.query(TrailEntry).filter_by(object_type="Audit", action="update").one()
    assert trail.changes["clauses"] == [[calibration.id], []]


def test_unknown_clause_id_is_a_clear_error(app, make, coordinator, library, now):
    """A stale page posting a clause that no longer exists gets told to reload."""
    site = make.site()
    with pytest.raises(DomainError, match="no longer exists"):
        create_audit(_scope_form(site, [library["ISO 9001"].id], [999_999], planned_date=None),
                     actor=coordinator, now=now)


def test_untitled_clauses_of_a_follow_up_survive_an_edit(make, login, coordinator, library, app):
    """A follow-up audit takes the clauses its finding cites, untitled paragraphs included, which
    the picker otherwise leaves out: they are offered ticked, and saving keeps them."""
    site = make.site()
    q = library["ISO 9001"]
    paragraph = next(c for c in q.clauses if c.title is None)
    audit = make.audit(site=site, planned_date=dt.date(2026, 9, 14), standards=[q])
    audit.clauses = [paragraph]
    db.session.commit()
    client = login(coordinator)
    page = client.get(f"/audits/{audit.id}/edit").get_data(as_text=True)
    assert f'value="{paragraph.id}" checked' in page
    response = client.post(f"/audits/{audit.id}/edit", data=_scope_form(
        site, [q.id], [paragraph.id], title=audit.title, version=audit.version_id))
    assert response.status_code == 302
    db.session.expire_all()
    assert [c.id for c in db.session.get(Audit, audit.id).clauses] == [paragraph.id]


def test_refused_save_rerenders_without_reloading_each_clause(make, login, coordinator, library, count_queries):
    """The scope picker holds plain values: a refused save costs no query per clause."""
    site = make.site()
    client = login(coordinator)
    with count_queries() as refused:
        response = client.post("/audits/new", data=_scope_form(
            site, [library["ISO 9001"].id], [], starts_local="2026-07-06T17:00", ends_local="2026-07-06T09:00"))
    assert response.status_code == 422 and "The audit must end after it starts." in response.get_data(as_text=True)
    assert refused.count < 40  # the picker lists ~180 clauses
