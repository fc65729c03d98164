"""Findings raised offline: the tablet's queued finding (JSON API) and the raise-finding form are
idempotent per key; pages name their user so the service worker keys its page cache per person."""

from __future__ import annotations

from sqlalchemy import func, select

from audit.conduct.offline import USER_HEADER
from audit.extensions import db
from audit.models import AppliedMutation, Evidence, Finding, TrailEntry
from tests.conduct.conftest import jpeg_bytes


def _url(setup, key="S1Q1") -> str:
    return f"/api/audits/{setup.audit.id}/questions/{setup.questions[key].id}/findings"


def _findings() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Finding.id)))


BODY = {"grade": "minor", "statement": "WI-7 is not at the station.", "evidence": "Station 3",
        "mutation_id": "f-1"}


def test_queued_finding_is_raised_once_when_replayed(login, setup):
    """The same key sent twice gives the same finding (201 then 200 replayed), one trail row."""
    client = login(setup.auditor)
    first = client.post(_url(setup), json=BODY)
    assert first.status_code == 201, first.json
    assert first.json["replayed"] is False
    again = client.post(_url(setup), json=BODY)
    assert again.status_code == 200, again.json
    assert again.json["replayed"] is True
    assert again.json["finding"] == first.json["finding"]
    assert _findings() == 1
    finding = db.session.scalar(select(Finding))
    assert (finding.statement, finding.grade.value) == ("WI-7 is not at the station.", "minor")
    assert db.session.scalar(select(func.count(TrailEntry.id)).where(
        TrailEntry.object_type == "Finding", TrailEntry.action == "create")) == 1


def test_queued_finding_cites_photos_sent_before_it(login, setup):
    """A photo of the question uploaded first (queue order) is evidence of the finding."""
    client = login(setup.auditor)
    r = client.post(f"/api/audits/{setup.audit.id}/evidence", data={
        "file": (__import__("io").BytesIO(jpeg_bytes()), "p.jpg"),
        "question_id": str(setup.questions["S1Q1"].id), "client_id": "e-1"})
    assert r.status_code == 201, r.json
    r = client.post(_url(setup), json=BODY)
    assert r.status_code == 201, r.json
    db.session.rollback()
    assert db.session.scalar(select(Evidence.finding_id)) == r.json["finding"]["id"]


def test_a_key_used_for_an_answer_cannot_raise_a_finding(login, setup):
    """A key already spent on something else is refused clearly and raises nothing."""
    client = login(setup.auditor)
    client.put(f"/api/audits/{setup.audit.id}/answers/{setup.questions['S1Q1'].id}",
               json={"verdict": "minor_nc", "base_version": 0, "mutation_id": "f-1"})
    r = client.post(_url(setup), json=BODY)
    assert r.status_code in (400, 422), r.json
    assert "already used" in r.json["detail"]
    assert _findings() == 0


def test_incomplete_queued_finding_is_refused_and_stores_nothing(login, setup):
    """No statement or an unknown grade: a clear message naming the field, no finding, no key."""
    client = login(setup.auditor)
    r = client.post(_url(setup), json={**BODY, "statement": "  "})
    assert r.status_code == 422, r.json
    assert r.json["detail"] == "State the finding."
    r = client.post(_url(setup), json={**BODY, "grade": "awful"})
    assert r.json["detail"] == "Choose a grade."
    assert _findings() == 0
    assert db.session.scalar(select(func.count(AppliedMutation.id))) == 0


def test_only_the_audit_team_raises_queued_findings(login, setup):
    """An auditor outside the team, or a queued finding naming another author, raises nothing."""
    assert login(setup.outsider).post(_url(setup), json=BODY).status_code == 403
    client = login(setup.auditor)
    r = client.post(_url(setup), json=BODY, headers={"X-Audit-Author": str(setup.lead.id)})
    assert r.status_code == 403
    assert _findings() == 0


def test_raise_finding_form_with_the_same_key_raises_one_finding(login, setup):
    """The form carries a key: posting it twice (double tap, or after an offline replay) is one finding."""
    client = login(setup.auditor)
    url = f"/audits/{setup.audit.id}/checklist/questions/{setup.questions['S1Q1'].id}/finding"
    page = client.get(url).get_data(as_text=True)
    assert 'name="mutation_id"' in page and "js/raise-finding.js" in page
    data = {"grade": "minor", "statement": "WI-7 missing.", "evidence": "Station 3", "mutation_id": "form-1"}
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302
    assert _findings() == 1
    # The tablet's queue replaying the same key through the API finds the same finding too.
    r = client.post(_url(setup), json=data)
    assert r.status_code == 200 and r.json["replayed"] is True
    assert _findings() == 1


def test_pages_name_their_user_for_the_page_cache(login, client, setup):
    """Signed-in HTML pages carry the user header (the worker caches only those); others do not."""
    assert USER_HEADER not in client.get("/login").headers
    client = login(setup.auditor)
    assert client.get("/").headers[USER_HEADER] == str(setup.auditor.id)
    assert client.get(f"/audits/{setup.audit.id}").headers[USER_HEADER] == str(setup.auditor.id)
    assert USER_HEADER not in client.get(f"/api/audits/{setup.audit.id}/answers").headers
