"""The checklist JSON API: autosave, version conflicts, idempotent replays, permissions."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.models import AppliedMutation, AuditStatus, ChecklistAnswer, TrailEntry


def _put(client, setup, key, **body):
    q = setup.questions[key]
    body.setdefault("base_version", 0)
    return client.put(f"/api/audits/{setup.audit.id}/answers/{q.id}", json=body)


def _count_answers(setup) -> int:
    return db.session.scalar(select(func.count(ChecklistAnswer.id))
                             .where(ChecklistAnswer.audit_id == setup.audit.id))


def test_save_answer_returns_new_version(login, setup):
    """An auditor's verdict is saved and comes back with version 1, then 2 after an edit."""
    client = login(setup.auditor)
    r = _put(client, setup, "S1Q1", verdict="conforming", note="Saw work instruction WI-7",
             mutation_id="m-1")
    assert r.status_code == 200, r.json
    assert r.json["answer"]["version"] == 1
    assert r.json["answer"]["verdict"] == "conforming"
    assert r.json["replayed"] is False
    r = _put(client, setup, "S1Q1", verdict="minor_nc", note="WI-7 outdated", base_version=1,
             mutation_id="m-2")
    assert r.json["answer"]["version"] == 2
    answer = db.session.scalar(select(ChecklistAnswer))
    assert (answer.verdict.value, answer.note, answer.version) == ("minor_nc", "WI-7 outdated", 2)


def test_first_answer_puts_audit_in_progress(login, setup, make):
    """The first saved answer moves a scheduled audit to in progress, with a trail row."""
    from audit.models import QualificationLevel

    make.qualification(setup.lead, level=QualificationLevel.LEAD)
    for user in (setup.auditor, setup.trainee):
        make.qualification(user)
    setup.audit.status = AuditStatus.SCHEDULED
    db.session.commit()
    client = login(setup.lead)
    _put(client, setup, "S1Q1", verdict="conforming")
    db.session.refresh(setup.audit)
    assert setup.audit.status is AuditStatus.IN_PROGRESS
    assert db.session.scalar(select(func.count(TrailEntry.id)).where(
        TrailEntry.object_type == "Audit", TrailEntry.summary.contains("n progress"))) == 1


def test_cancelled_audit_refuses_answers(login, setup):
    """A cancelled audit's checklist cannot change (423)."""
    setup.audit.status = AuditStatus.CANCELLED
    db.session.commit()
    client = login(setup.auditor)
    r = _put(client, setup, "S1Q1", verdict="conforming")
    assert r.status_code == 423 and "cancelled" in r.json["detail"]


def test_replayed_mutation_is_applied_once(login, setup):
    """Sending the same mutation id twice returns the first result and stores one answer."""
    client = login(setup.auditor)
    first = _put(client, setup, "S1Q1", verdict="ofi", mutation_id="offline-abc")
    again = _put(client, setup, "S1Q1", verdict="ofi", mutation_id="offline-abc")
    assert again.status_code == 200
    assert again.json["replayed"] is True
    assert again.json["answer"] == first.json["answer"]
    assert _count_answers(setup) == 1
    assert db.session.scalar(select(func.count(AppliedMutation.id))) == 1
    assert db.session.scalar(select(func.count(TrailEntry.id)).where(
        TrailEntry.object_type == "ChecklistAnswer")) == 1


def test_conflicting_edit_returns_409_with_current(login, setup, client):
    """A save based on a stale version with a different value is refused with the server's answer."""
    login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming", note="by auditor")
    login(setup.lead)
    r = _put(client, setup, "S1Q1", verdict="major_nc", base_version=0)
    assert r.status_code == 409
    assert r.json["code"] == "conflict"
    assert r.json["current"]["verdict"] == "conforming"
    assert r.json["current"]["version"] == 1
    assert r.json["current"]["answered_by"] == "Arne Auditor"
    answer = db.session.scalar(select(ChecklistAnswer))
    assert answer.verdict.value == "conforming"


def test_stale_base_with_same_content_is_no_conflict(login, setup, client):
    """Two auditors choosing the same answer do not conflict; the version stays."""
    login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming")
    login(setup.lead)
    r = _put(client, setup, "S1Q1", verdict="conforming", base_version=0)
    assert r.status_code == 200
    assert r.json["answer"]["version"] == 1


def test_edits_of_different_questions_merge(login, setup, client):
    """Two auditors answering different questions both keep their answers."""
    login(setup.auditor)
    assert _put(client, setup, "S1Q1", verdict="conforming").status_code == 200
    login(setup.lead)
    assert _put(client, setup, "S1Q2", verdict="ofi").status_code == 200
    assert _count_answers(setup) == 2


def test_typed_values_are_validated(login, setup):
    """A number question refuses text and out-of-range values with a clear message."""
    client = login(setup.auditor)
    r = _put(client, setup, "S2Q1", value="many")
    assert r.status_code == 422 and r.json["detail"] == "Enter a number."
    r = _put(client, setup, "S2Q1", value="250")
    assert r.status_code == 422 and "at most 100" in r.json["detail"]
    r = _put(client, setup, "S2Q1", value="42")
    assert r.status_code == 200 and r.json["answer"]["value"] == "42"
    r = _put(client, setup, "S1Q1", verdict="great")
    assert r.status_code == 422 and "Unknown verdict" in r.json["detail"]
    assert _count_answers(setup) == 1


@pytest.mark.parametrize("field, bad", [("note", 1), ("note", ["x"]), ("verdict", 3),
                                        ("verdict", {"a": 1}), ("value", {"a": 1})])
def test_wrongly_typed_json_is_refused_not_crashed(login, setup, field, bad):
    """JSON of the wrong type (a number as note, an object as value) gets 422, never a 500."""
    client = login(setup.auditor)
    r = _put(client, setup, "S1Q1", **{field: bad})
    assert r.status_code == 422 and r.json["field"] == field
    assert _count_answers(setup) == 0


def test_question_of_another_checklist_is_refused(login, setup, app):
    """A question id outside the audit's checklist version is refused, nothing stored."""
    from tests.conduct.conftest import build_checklist_version

    _version, other = build_checklist_version("Another checklist")
    db.session.commit()
    client = login(setup.auditor)
    r = client.put(f"/api/audits/{setup.audit.id}/answers/{other['S1Q1'].id}",
                   json={"verdict": "conforming", "base_version": 0})
    assert r.status_code == 422
    assert _count_answers(setup) == 0


def test_trainee_may_answer_observer_may_not(login, setup, client):
    """Trainees are auditing members; observers of the team are not."""
    login(setup.trainee)
    assert _put(client, setup, "S1Q1", verdict="conforming").status_code == 200
    login(setup.observer)
    assert _put(client, setup, "S1Q2", verdict="conforming").status_code == 403


def test_permissions_route_by_route(login, setup, client):
    """Read: team, auditee, coordinator; write: auditing team only; others 403; anonymous 401."""
    audit_id = setup.audit.id
    q = setup.questions["S1Q1"].id
    read = f"/api/audits/{audit_id}/answers"
    write = f"/api/audits/{audit_id}/answers/{q}"
    body = {"verdict": "conforming", "base_version": 0}
    client.post("/logout")
    assert client.get(read).status_code == 401
    assert client.put(write, json=body).status_code == 401
    expectations = [
        (setup.auditee, 200, 403),
        (setup.coordinator, 200, 403),
        (setup.observer, 200, 403),
        (setup.outsider, 200, 403),  # auditors may read reports, not answer other teams' audits
        (setup.supplier_contact, 403, 403),
    ]
    for user, read_status, write_status in expectations:
        login(user)
        assert client.get(read).status_code == read_status, user.name
        assert client.put(write, json=body).status_code == write_status, user.name
    assert _count_answers(setup) == 0
    assert client.get("/api/audits/999999/answers").status_code == 403  # supplier: no capability
    login(setup.auditor)
    assert client.get("/api/audits/999999/answers").status_code == 404


def test_auditee_without_relation_cannot_view(login, setup, make, client):
    """An auditee of another unit gets 403 on this audit's checklist and answers."""
    from audit.models import Role

    stranger = make.user(roles=(Role.AUDITEE,))
    db.session.commit()
    login(stranger)
    assert client.get(f"/api/audits/{setup.audit.id}/answers").status_code == 403
    assert client.get(f"/audits/{setup.audit.id}/checklist").status_code == 403


def test_answers_listing(login, setup):
    """GET answers lists every answer with its version for the sync."""
    client = login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming")
    r = client.get(f"/api/audits/{setup.audit.id}/answers")
    assert r.status_code == 200
    assert r.json["frozen"] is False
    assert [(a["question_id"], a["version"]) for a in r.json["answers"]] == [
        (setup.questions["S1Q1"].id, 1)]


def test_csrf_header_is_required(app, setup, login):
    """With CSRF on, a PUT without X-CSRFToken is refused and one with the page's token passes."""
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/login")
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()
    r = client.post("/login", data={"email": setup.auditor.email, "password": "correct-horse-battery",
                                    "csrf_token": token})
    assert r.status_code == 302
    page = client.get(f"/audits/{setup.audit.id}/checklist")
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()
    url = f"/api/audits/{setup.audit.id}/answers/{setup.questions['S1Q1'].id}"
    assert client.put(url, json={"verdict": "conforming", "base_version": 0}).status_code == 400
    r = client.put(url, json={"verdict": "conforming", "base_version": 0}, headers={"X-CSRFToken": token})
    assert r.status_code == 200


def test_openapi_document_describes_the_api(login, setup):
    """/api/openapi.json is an OpenAPI 3 document naming the answer, evidence and list routes."""
    client = login(setup.auditee)
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {"/api/audits/{audit_id}/answers",
                                 "/api/audits/{audit_id}/answers/{question_id}",
                                 "/api/audits/{audit_id}/evidence"}
    put = doc["paths"]["/api/audits/{audit_id}/answers/{question_id}"]["put"]
    assert {"200", "409", "403", "423"} <= set(put["responses"])


def test_change_queued_by_another_person_is_refused_and_kept(login, setup, client):
    """A shared tablet: the next person's session must not save the previous person's queue."""
    from audit.models import Evidence
    from tests.conduct.conftest import jpeg_bytes

    login(setup.lead)
    q = setup.questions["S1Q1"]
    r = client.put(f"/api/audits/{setup.audit.id}/answers/{q.id}", json={"verdict": "ofi", "base_version": 0},
                   headers={"X-Audit-Author": str(setup.auditor.id)})
    assert r.status_code == 403 and r.json["code"] == "other_author"
    upload = client.post(f"/api/audits/{setup.audit.id}/evidence",
                         data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg"), "client_id": "c-1"},
                         content_type="multipart/form-data", headers={"X-Audit-Author": str(setup.auditor.id)})
    assert upload.status_code == 403 and upload.json["code"] == "other_author"
    assert _count_answers(setup) == 0 and db.session.scalar(select(func.count(Evidence.id))) == 0
    # Its author, signed in again, saves it; so does a client that names no author.
    login(setup.auditor)
    r = client.put(f"/api/audits/{setup.audit.id}/answers/{q.id}", json={"verdict": "ofi", "base_version": 0},
                   headers={"X-Audit-Author": str(setup.auditor.id)})
    assert r.status_code == 200 and _count_answers(setup) == 1
    other = setup.questions["S1Q2"]
    r = client.put(f"/api/audits/{setup.audit.id}/answers/{other.id}", json={"verdict": "conforming", "base_version": 0})
    assert r.status_code == 200 and _count_answers(setup) == 2


def test_session_survives_a_change_of_client_address(login, setup):
    """A tablet that moves to another network (new client address) stays signed in and saves."""
    from flask import g

    client = login(setup.auditor)
    q = setup.questions["S1Q1"]
    for attempt, address in enumerate(("10.20.30.40", "192.0.2.7")):
        # The test app context outlives requests: forget the user it cached, as a new request would.
        g.pop("_login_user", None)
        r = client.put(f"/api/audits/{setup.audit.id}/answers/{q.id}",
                       json={"verdict": ("conforming", "ofi")[attempt], "base_version": attempt},
                       environ_base={"REMOTE_ADDR": address})
        assert r.status_code == 200, r.json
