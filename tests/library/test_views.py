"""Library pages through the client: permissions, builder flow, imports, exports, query counts."""

import io
import re

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.library.checklists import files, versions
from audit.library.services import import_standards
from audit.models import (
    ChecklistQuestion,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Role,
    VersionStatus,
)


@pytest.fixture
def defaults(library, now):
    result = files.ensure_default_checklists(now=now)
    db.session.commit()
    return result


@pytest.fixture
def coordinator(make, login):
    user = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    login(user)
    return user


@pytest.fixture
def auditor(make, login):
    user = make.user(roles=(Role.AUDITOR,))
    db.session.commit()
    login(user)
    return user


def test_library_in_navigation_for_readers(client, defaults, auditor):
    """Auditors see the Library entry and the library pages, but no editing controls."""
    page = client.get("/library/").get_data(as_text=True)
    assert '<a href="/library/"' in page
    assert "ISO 9001:2015 internal audit" in page and "New template" not in page
    version = defaults["internal_9001"]
    page = client.get(f"/library/versions/{version.id}").get_data(as_text=True)
    assert "Edit (new draft)" not in page and "/move" not in page


def test_writes_need_manage_library(client, defaults, auditor):
    """Every library write answers 403 to a user without MANAGE_LIBRARY."""
    version = defaults["internal_9001"]
    section = version.sections[0]
    question = section.questions[0]
    for url in [f"/library/templates/{version.template_id}/draft",
                f"/library/versions/{version.id}/publish", f"/library/sections/{section.id}/move",
                f"/library/questions/{question.id}/move", f"/library/questions/{question.id}/delete",
                "/library/templates/new", "/library/templates/import", "/library/standards/import"]:
        assert client.post(url, data={}).status_code == 403, url
    assert client.get("/library/templates/new").status_code == 403


def test_supplier_contact_cannot_read_library(client, make, login, defaults):
    """Supplier contacts lack VIEW_ORGANISATION and get 403 on library pages."""
    login(make.user(roles=(Role.SUPPLIER,)))
    assert client.get("/library/").status_code == 403
    assert client.get(f"/library/versions/{defaults['supplier'].id}/preview").status_code == 403


def test_clause_tree_search_and_equivalents(client, library, coordinator):
    """The clause tree page searches by number or words and links equivalent clauses."""
    iso14001 = library["ISO 14001"]
    page = client.get(f"/library/standards/{iso14001.id}?q=emergency").get_data(as_text=True)
    assert "Emergency preparedness and response" in page
    assert "ISO 45001 8.2" in page and "ISO 9001 8.2" not in page
    assert "Environmental aspects" not in page
    untitled = client.get(f"/library/standards/{library['ISO 9001'].id}?q=9.2").get_data(as_text=True)
    assert "9.2.2" in untitled and "without a title" in untitled


def test_builder_flow_through_pages(client, library, coordinator):
    """A coordinator creates a template, adds a section and questions, reorders, publishes."""
    clause = next(c for c in library["ISO 9001"].clauses if c.number == "7.1.5.2")
    response = client.post("/library/templates/new", data={"name": "Gauge check"})
    assert response.status_code == 302
    version_id = int(response.location.rsplit("/", 1)[1])
    client.post(f"/library/versions/{version_id}/sections", data={"title": "Gauges"})
    version = versions.load_version(version_id)
    section = version.sections[0]
    for key in ("first", "second"):
        r = client.post(f"/library/sections/{section.id}/questions/new", data={
            "key": key, "text": f"{key.title()} gauge calibrated?", "answer_type": "yes_no",
            "clause_ids": [str(clause.id)], "evidence_required": "y"})
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    second = db.session.scalar(select(ChecklistQuestion).where(ChecklistQuestion.key == "second"))
    client.post(f"/library/questions/{second.id}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [q.key for q in versions.load_version(version_id).sections[0].questions] == ["second", "first"]
    page = client.get(f"/library/versions/{version_id}").get_data(as_text=True)
    assert page.index("Second gauge") < page.index("First gauge")
    r = client.post(f"/library/versions/{version_id}/publish", data={"change_note": "First issue"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(ChecklistTemplateVersion, version_id).status is VersionStatus.PUBLISHED


def test_question_form_shows_field_errors(client, defaults, coordinator, library):
    """A bad question is refused with the message on the form and nothing stored."""
    template = defaults["supplier"].template
    draft_url = client.post(f"/library/templates/{template.id}/draft").location
    draft = versions.load_version(int(draft_url.rsplit("/", 1)[1]))
    section = draft.sections[0]
    count = db.session.scalar(select(func.count(ChecklistQuestion.id)))
    r = client.post(f"/library/sections/{section.id}/questions/new", data={
        "key": "n", "text": "How many?", "answer_type": "number", "min_value": "9",
        "max_value": "1"})
    assert r.status_code == 400
    assert "The upper limit is below the lower limit." in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ChecklistQuestion.id))) == count


def test_equivalents_checkbox_maps_other_standards(client, library, coordinator):
    """Ticking "also map equivalents" maps 14001 and 45001 clauses of the same meaning."""
    clause = next(c for c in library["ISO 9001"].clauses if c.number == "9.3")
    version_id = int(client.post("/library/templates/new", data={"name": "IMS"})
                     .location.rsplit("/", 1)[1])
    client.post(f"/library/versions/{version_id}/sections", data={"title": "Review"})
    section = versions.load_version(version_id).sections[0]
    client.post(f"/library/sections/{section.id}/questions/new", data={
        "key": "mr", "text": "Management review held?", "answer_type": "verdict",
        "clause_ids": [str(clause.id)], "include_equivalents": "y"})
    question = db.session.scalar(select(ChecklistQuestion).where(ChecklistQuestion.key == "mr"))
    assert {c.label for c in question.clauses} == {"ISO 9001 9.3", "ISO 14001 9.3",
                                                   "ISO 45001 9.3"}


def test_published_version_page_refuses_edit_posts(client, defaults, coordinator):
    """Posting an edit against a published version is refused with a message."""
    question = defaults["surveillance"].sections[0].questions[0]
    r = client.post(f"/library/questions/{question.id}/delete", follow_redirects=True)
    assert "cannot change" in r.get_data(as_text=True)
    assert db.session.get(ChecklistQuestion, question.id) is not None


def test_template_import_page_lists_line_errors(client, library, coordinator):
    """A bad upload shows each problem with its line and imports nothing."""
    bad = "template: Broken\nsections:\n  - title: S\n    questions:\n      - key: a\n        text: ''\n"
    r = client.post("/library/templates/import", data={
        "fmt": "yaml", "file": (io.BytesIO(bad.encode()), "broken.yaml")},
        content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "line 6: the question text is missing" in page
    assert db.session.scalar(select(func.count(ChecklistTemplate.id))) == 0


def test_template_export_and_reimport_through_pages(client, defaults, coordinator):
    """The exported CSV imports back as a new identical version."""
    version = defaults["supplier"]
    exported = client.get(f"/library/versions/{version.id}/export.csv")
    assert exported.headers["Content-Disposition"].endswith('-v1.csv"')
    r = client.post("/library/templates/import", data={
        "fmt": "csv", "file": (io.BytesIO(exported.data), "supplier.csv"), "publish": "y"},
        content_type="multipart/form-data")
    assert r.status_code == 302
    new = versions.published_version(version.template.name)
    assert new.number == 2
    assert client.get(f"/library/versions/{new.id}/export.csv").data == exported.data


def test_standard_import_page(client, app, coordinator):
    """A clause tree pasted as CSV is imported and shown."""
    text = "standard,edition,number,title,untitled\nACME,1,1,Packaging,\nACME,1,1.1,Labels,\n"
    r = client.post("/library/standards/import", data={"fmt": "csv", "text": text})
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert "Labels" in page and "ACME:1" in page


def test_preview_and_coverage_pages(client, defaults, coordinator, library):
    """Preview shows answer controls and conditions; coverage lists covered and missed clauses
    with their pill classes."""
    version = defaults["internal_9001"]
    page = client.get(f"/library/versions/{version.id}/preview").get_data(as_text=True)
    assert 'data-condition-key="dd-applicable"' in page and 'type="date"' in page
    assert 'max="100"' in page and "Minor NC" in page
    page = client.get(f"/library/versions/{version.id}/coverage").get_data(as_text=True)
    assert "100%" in page
    supplier = defaults["supplier"]
    page = client.get(f"/library/versions/{supplier.id}/coverage?standard="
                      f"{library['ISO 9001'].id}").get_data(as_text=True)
    assert "missed" in page and re.search(r"\d+ missed", page)
    assert '<span class="pill bad">missed</span>' in page and '<span class="pill ok">covered</span>' in page


def _measure(client, count_queries, url: str) -> int:
    """Queries one GET costs, with nothing fresh in the session (as in a real request)."""
    db.session.expire_all()
    with count_queries() as q:
        assert client.get(url).status_code == 200, url
    return q.count


def _custom_standard(n_clauses: int, now, label: str):
    rows = ["standard,edition,number,title,untitled", f"{label},1,1,Top,"]
    rows += [f"{label},1,1.{i},Clause {i}," for i in range(1, n_clauses)]
    (standard,) = import_standards("\n".join(rows) + "\n", "csv", actor=None, now=now)
    db.session.commit()
    return standard


def test_clause_tree_query_count_is_constant(client, app, coordinator, count_queries, now, library):
    """The clause tree page costs the same number of queries for 2 and for 20 clauses."""
    small, large = _custom_standard(2, now, "SMALL"), _custom_standard(20, now, "LARGE")
    iso = library["ISO 9001"].id
    counts = [_measure(client, count_queries, url) for url in (
        f"/library/standards/{small.id}", f"/library/standards/{large.id}",
        # with equivalents: 2 shown clauses and all 91
        f"/library/standards/{iso}?q=4.1", f"/library/standards/{iso}")]
    assert counts[0] == counts[1]
    assert counts[2] == counts[3]


def _template_with(n: int, now, library, name: str):
    clause_refs = ["ISO 9001:2015 8.4.1", "ISO 14001:2015 4.1"]
    lines = [f"template: {name}", "sections:"]
    for s in range(2):
        lines += [f"  - title: S{s}", "    questions:"]
        for i in range(n // 2):
            lines += [f"      - key: q{s}-{i}", f"        text: Question {i}?",
                      f"        clauses: {clause_refs!r}".replace("'", '"')]
            if i:
                lines += [f"        condition_key: q{s}-0", "        condition_value: conforming"]
    return files.import_template("\n".join(lines) + "\n", "yaml", actor=None, now=now, publish=True)


@pytest.mark.parametrize("page", ["", "/preview", "/coverage"])
def test_template_pages_query_count_is_constant(client, coordinator, count_queries, now, library,
                                                page):
    """Builder, preview and coverage pages cost the same queries for 2 and 20 questions."""
    small = _template_with(2, now, library, "Small")
    large = _template_with(20, now, library, "Large")
    db.session.commit()
    urls = [f"/library/versions/{v.id}{page}" for v in (small, large)]
    assert _measure(client, count_queries, urls[0]) == _measure(client, count_queries, urls[1])


def test_index_query_count_is_constant(client, coordinator, count_queries, now, library):
    """The library index costs the same queries with 2 or 6 templates."""
    for i in range(2):
        _template_with(2, now, library, f"T{i}")
    db.session.commit()
    two = _measure(client, count_queries, "/library/")
    for i in range(2, 6):
        _template_with(2, now, library, f"T{i}")
    db.session.commit()
    assert _measure(client, count_queries, "/library/") == two



def test_demo_library_pages_render(app, client, now):
    """Every library page answers 200 for the demo coordinator on the seeded demo data."""
    from audit.demo import DEMO_PASSWORD, seed_demo

    seed_demo(now=now)
    db.session.commit()
    client.post("/login", data={"email": "coordinator@example.com", "password": DEMO_PASSWORD})
    version = versions.published_version("ISO 9001:2015 internal audit")
    section, question = version.sections[0], version.sections[0].questions[0]
    urls = ["/library/", f"/library/standards/{question.clauses[0].standard_id}",
            f"/library/templates/{version.template_id}", f"/library/versions/{version.id}",
            f"/library/versions/{version.id}/preview", f"/library/versions/{version.id}/coverage",
            f"/library/versions/{version.id}/export.yaml", "/library/templates/import",
            "/library/standards/import", "/library/templates/new",
            f"/library/templates/{version.template_id}/edit"]
    for url in urls:
        assert client.get(url).status_code == 200, url
    draft_url = client.post(f"/library/templates/{version.template_id}/draft").location
    draft = versions.load_version(int(draft_url.rsplit("/", 1)[1]))
    for url in (draft_url, f"/library/sections/{draft.sections[0].id}/edit",
                f"/library/sections/{draft.sections[0].id}/questions/new",
                f"/library/questions/{draft.sections[0].questions[0].id}/edit"):
        assert client.get(url).status_code == 200, url
    assert section.version_id == version.id
