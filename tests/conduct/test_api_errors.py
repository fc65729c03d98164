"""One error format for the JSON API: RFC 9457 problem details, documented in the served document.

Every response below is also validated against ``/api/openapi.json`` by the test client
(tests/api_contract.py); the asserts here pin the members the tablet script relies on.
"""

from __future__ import annotations

import io
import json

import pytest
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from audit.core.problems import MEDIA_TYPE, PROBLEMS, type_uri
from tests.api_contract import ContractViolation


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == MEDIA_TYPE
    body = json.loads(response.data)
    assert body["status"] == status and body["code"] == code and body["type"] == type_uri(code)
    assert body["title"] and body["detail"]
    return body


def _answer_url(setup, key="S1Q1") -> str:
    return f"/api/audits/{setup.audit.id}/answers/{setup.questions[key].id}"


def test_405_carries_allow_and_the_problem_shape(login, setup):
    """A method a URL does not offer answers 405 problem details with an Allow header."""
    client = login(setup.auditor)
    r = client.delete(_answer_url(setup))
    _problem(r, 405, "method_not_allowed")
    assert "PUT" in {m.strip() for m in r.headers["Allow"].split(",")}
    r = client.post(f"/api/audits/{setup.audit.id}/answers", json={})
    _problem(r, 405, "method_not_allowed")
    assert {"GET", "HEAD"} <= {m.strip() for m in r.headers["Allow"].split(",")}


def test_405_page_outside_the_api_carries_allow_too(login, setup):
    """The HTML 405 page keeps the Allow header the status requires."""
    client = login(setup.auditor)
    r = client.put("/healthz")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_401_from_the_login_gate_is_a_problem(client, setup):
    """Without a session the API answers 401 unauthorized, never a login redirect."""
    _problem(client.get(f"/api/audits/{setup.audit.id}/answers"), 401, "unauthorized")
    _problem(client.get("/api/openapi.json"), 401, "unauthorized")


def test_403_from_role_and_object_checks_are_problems(login, setup, client):
    """A role without the capability and a user outside the team both get 403 forbidden."""
    login(setup.auditee)
    _problem(client.put(_answer_url(setup), json={"verdict": "ofi", "base_version": 0}), 403, "forbidden")
    login(setup.outsider)
    body = _problem(client.put(_answer_url(setup), json={"verdict": "ofi", "base_version": 0}), 403, "forbidden")
    assert body["detail"] == "Only the audit team's auditors can change this audit's checklist."
    login(setup.supplier_contact)
    _problem(client.get(f"/api/audits/{setup.audit.id}/answers"), 403, "forbidden")


def test_404_for_unknown_audit_and_unknown_url(login, setup):
    """A missing audit and an unlisted /api/ URL both answer 404 not_found."""
    client = login(setup.auditor)
    body = _problem(client.get("/api/audits/999999/answers"), 404, "not_found")
    assert body["detail"] == "There is no audit with this id."
    _problem(client.get("/api/nothing-here"), 404, "not_found")


def test_400_for_malformed_json_and_nul_characters(login, setup):
    """A body that is not a JSON object, or one with a NUL character, is 400 and stores nothing."""
    client = login(setup.auditor)
    url = _answer_url(setup)
    _problem(client.put(url, data="[1, 2", content_type="application/json"), 400, "malformed_json")
    _problem(client.put(url, json=[1, 2]), 400, "malformed_json")
    body = _problem(client.put(url, json={"note": "a\x00b", "base_version": 0}), 400, "bad_request")
    assert "NUL" in body["detail"]
    assert client.get(f"/api/audits/{setup.audit.id}/answers").json["answers"] == []


def test_400_for_a_missing_csrf_token(app, login, setup):
    """With CSRF on, a write without X-CSRFToken answers 400 csrf_failed."""
    client = login(setup.auditor)
    app.config["WTF_CSRF_ENABLED"] = True
    _problem(client.put(_answer_url(setup), json={"verdict": "ofi", "base_version": 0}), 400, "csrf_failed")


def test_409_conflict_carries_the_server_answer(login, setup, client):
    """A conflicting save answers 409 conflict with the server's answer under `current`."""
    login(setup.lead)
    assert client.put(_answer_url(setup), json={"verdict": "conforming", "base_version": 0}).status_code == 200
    login(setup.auditor)
    body = _problem(client.put(_answer_url(setup), json={"verdict": "minor_nc", "base_version": 0}), 409, "conflict")
    assert body["current"]["verdict"] == "conforming" and body["current"]["version"] == 1


def test_422_names_the_field_at_fault(login, setup):
    """Invalid input answers 422 invalid with `field`."""
    client = login(setup.auditor)
    body = _problem(client.put(_answer_url(setup), json={"base_version": "x"}), 422, "invalid")
    assert body["field"] == "base_version"


def test_413_for_a_body_over_the_request_limit(app, login, setup):
    """An upload over the request limit answers 413 payload_too_large."""
    client = login(setup.auditor)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    r = client.post(f"/api/audits/{setup.audit.id}/evidence",
                    data={"file": (io.BytesIO(b"x" * 4096), "p.jpg")}, content_type="multipart/form-data")
    _problem(r, 413, "payload_too_large")


def test_500_is_a_problem_without_internals(login, setup, monkeypatch):
    """An unexpected fault answers 500 internal_error and hides the exception."""
    from audit.conduct import access

    client = login(setup.auditor)

    def boom(audit_id):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(access, "load_audit", boom)
    r = client.get(f"/api/audits/{setup.audit.id}/answers")
    _problem(r, 500, "internal_error")
    assert b"secret internals" not in r.data


def test_served_document_is_valid_openapi_3(login, setup):
    """The served document validates as OpenAPI 3.x and documents the problem shape."""
    doc = login(setup.auditee).get("/api/openapi.json").json
    validate(doc)
    problem = doc["components"]["schemas"]["Problem"]
    assert problem["properties"]["code"]["enum"] == list(PROBLEMS)
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}


def test_every_operation_documents_its_errors_as_problems(login, setup):
    """Each operation lists 400/401/403/500 (and the write errors) with the problem media type."""
    doc = login(setup.auditee).get("/api/openapi.json").json
    for path, item in doc["paths"].items():
        for method, op in item.items():
            expected = {"400", "401", "403", "500"}
            if method != "get":
                expected |= {"404", "413", "422", "423"}
            assert expected <= set(op["responses"]), (method, path)
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [MEDIA_TYPE], (method, path, status)
    assert "409" in doc["paths"]["/api/audits/{audit_id}/answers/{question_id}"]["put"]["responses"]
    assert "Allow" in doc["components"]["responses"]["MethodNotAllowed"]["headers"]


def _sent(method: str, path: str) -> Request:
    return Request(EnvironBuilder(method=method, path=path).get_environ())


@pytest.mark.parametrize(("status", "body", "mimetype"), [
    (418, {"type": "urn:audit:problem:http_error"}, MEDIA_TYPE),  # status not documented
    (200, {"audit_id": 1}, "application/json"),  # body missing documented members
    (404, {"error": "Not Found", "message": "gone"}, "application/json"),  # the old error shape
    (403, {"type": type_uri("forbidden"), "title": "t", "status": 403, "detail": "d", "code": "conflict"},
     MEDIA_TYPE),  # a code the status does not carry
])
def test_contract_check_refuses_undocumented_responses(api_contract, status, body, mimetype):
    """The suite's response check fails on an undocumented status, shape or code."""
    response = Response(json.dumps(body), status=status, mimetype=mimetype)
    with pytest.raises(ContractViolation):
        api_contract.check(_sent("GET", "/api/audits/1/answers"), response)


def test_contract_check_needs_allow_on_405_and_404_for_unlisted_urls(api_contract):
    """A 405 without Allow, or an unlisted URL answering 200, fails the suite's response check."""
    body = {"type": type_uri("method_not_allowed"), "title": "t", "status": 405, "detail": "d",
            "code": "method_not_allowed"}
    with pytest.raises(ContractViolation, match="Allow"):
        api_contract.check(_sent("DELETE", "/api/audits/1/answers"),
                           Response(json.dumps(body), status=405, mimetype=MEDIA_TYPE))
    api_contract.check(_sent("DELETE", "/api/audits/1/answers"),
                       Response(json.dumps(body), status=405, mimetype=MEDIA_TYPE, headers={"Allow": "GET, HEAD"}))
    with pytest.raises(ContractViolation):
        api_contract.check(_sent("GET", "/api/unlisted"), Response("{}", status=200, mimetype="application/json"))
