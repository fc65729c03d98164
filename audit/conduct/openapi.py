"""The OpenAPI 3 description of the checklist API: the contract the tablet page and the load
tests rely on. Keep it in step with ``audit/conduct/api.py``: the test suite validates every
``/api/`` response it receives against this document, so an undocumented status or shape fails."""

from __future__ import annotations

from audit.core.problems import MEDIA_TYPE, PROBLEM_SCHEMA, PROBLEMS
from audit.models import Verdict


def _problem(description: str, status: int, *codes: str, required: tuple[str, ...] = ()) -> dict:
    """A documented error response: the Problem schema narrowed to ``status`` and ``codes``."""
    if any(PROBLEMS[c].status != status for c in codes):
        raise ValueError(f"problem codes {codes} do not all answer {status}")
    narrowed = {"type": "object",
                "properties": {"status": {"type": "integer", "enum": [status]},
                               "code": {"type": "string", "enum": list(codes)}}}
    if required:
        narrowed["required"] = list(required)
    return {"description": description,
            "content": {MEDIA_TYPE: {"schema": {"allOf": [{"$ref": "#/components/schemas/Problem"},
                                                          narrowed]}}}}


def _errors(*, write: bool, audit: bool) -> dict:
    """The error responses every operation shares (the gate, the permission check, hygiene)."""
    bad = ("bad_request", "csrf_failed", "malformed_json") if write else ("bad_request",)
    responses = {
        "400": _problem("A NUL character in the input" + (", a missing or wrong CSRF token, or a "
                                                          "body that is not a JSON object" if write else ""),
                        400, *bad),
        "401": _problem("Not logged in", 401, "unauthorized"),
        "403": _problem("The role may not use this operation" + (", or may not see this audit" if audit else ""),
                        403, "forbidden"),
        "500": _problem("A fault on the server (logged); nothing was stored", 500, "internal_error"),
    }
    if audit:
        responses["404"] = _problem("No such audit", 404, "not_found")
    if write:
        responses["413"] = _problem("Larger than the request limit", 413, "payload_too_large")
        responses["403"] = _problem(
            "Not a member of the audit team's auditors, or `other_author`: the change was made "
            "by another person on this tablet and waits for them", 403, "forbidden", "other_author")
        responses["422"] = _problem("Invalid input; `field` names it when one is at fault", 422, "invalid")
        responses["423"] = _problem("The report is issued or the audit is cancelled: it is frozen",
                                    423, "frozen")
    return responses


def openapi_document() -> dict:
    """The API description as a JSON-able dict."""
    audit_id = {"name": "audit_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    question_id = {"name": "question_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "The token from the page's <meta name=\"csrf-token\">."}
    author = {"name": "X-Audit-Author", "in": "header", "required": False, "schema": {"type": "integer"},
              "description": "Id of the person who made a queued change. When it is not the signed-in "
                             "user the change is refused with 403 `other_author` and should be kept "
                             "for its author (shared tablets)."}

    etag_header = {"schema": {"type": "string"}, "description": "Hash of the answers' body"}

    def ok(description: str, schema: dict) -> dict:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    saved_evidence = {"type": "object", "required": ["evidence", "replayed"], "additionalProperties": False,
                      "properties": {"evidence": {"$ref": "#/components/schemas/Evidence"},
                                     "replayed": {"type": "boolean"}}}
    raised = {"type": "object", "required": ["finding", "replayed"], "additionalProperties": False,
              "properties": {"finding": {"type": "object", "required": ["id", "reference", "question_id"],
                                         "additionalProperties": False,
                                         "properties": {"id": {"type": "integer"},
                                                        "reference": {"type": "string"},
                                                        "question_id": {"type": "integer"}}},
                             "replayed": {"type": "boolean"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Audit checklist API",
            "version": "1.2.0",
            "description": (
                "Used by the tablet checklist screen (and its offline queue). Authentication is the "
                "session cookie of a logged-in user. Only the audit team's auditing members (lead, "
                "auditor, trainee) may write; auditees and report readers may read; everyone else "
                "gets 403. Once the audit's report is issued every write answers 423.\n\n"
                "Every error, on every `/api/` URL, is an RFC 9457 problem document "
                "(`application/problem+json`, schema `Problem`): branch on its `code`. A URL that "
                "is not listed here answers 404 `not_found`; a method a URL does not offer answers "
                "405 `method_not_allowed` with an `Allow` header (`components/responses/"
                "MethodNotAllowed`)."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/audits/{audit_id}/answers": {
                "get": {
                    "summary": "All answers of an audit with their versions",
                    "description": (
                        "The response's `ETag` is a hash of its body. A client that sends it back "
                        "in `If-None-Match` gets 304 without a body while nothing changed (the "
                        "tablet's periodic refresh). Compressed responses carry it as a weak ETag "
                        "(`W/\"...\"`), which matches as well."
                    ),
                    "parameters": [audit_id, {
                        "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                        "description": "The ETag of the answers the client already has."}],
                    "responses": {
                        "304": {"description": "Nothing changed since the ETag in `If-None-Match`",
                                "headers": {"ETag": etag_header}},
                        "200": {**ok("The answers", {
                            "type": "object", "required": ["audit_id", "frozen", "answers"],
                            "additionalProperties": False,
                            "properties": {
                                "audit_id": {"type": "integer"},
                                "frozen": {"type": "boolean"},
                                "answers": {"type": "array", "items": {"$ref": "#/components/schemas/Answer"}},
                            }}), "headers": {"ETag": etag_header}},
                        **_errors(write=False, audit=True),
                    },
                }
            },
            "/api/audits/{audit_id}/answers/{question_id}": {
                "put": {
                    "summary": "Save one answer (idempotent per mutation_id, version-checked)",
                    "description": (
                        "The body replaces the answer (verdict or value, and note). `base_version` is "
                        "the version the client last saw (0 = unanswered). If the server's version "
                        "differs and the content differs too, nothing is saved and 409 returns the "
                        "server's answer under `current`. The tablet then merges field by field "
                        "(verdict/value and note) against the answer it started from: fields only "
                        "one side changed are combined and saved again with `current.version` as "
                        "base (so nothing the user did not change is overwritten); only a field "
                        "both changed is shown to the user to resolve. A "
                        "`mutation_id` already applied returns the original result with "
                        "`replayed: true` and changes nothing."
                    ),
                    "parameters": [audit_id, question_id, csrf, author],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/AnswerInput"}}}},
                    "responses": {
                        "200": ok("Saved (or replayed)", {
                            "type": "object", "required": ["answer", "replayed"], "additionalProperties": False,
                            "properties": {"answer": {"$ref": "#/components/schemas/Answer"},
                                           "replayed": {"type": "boolean"}}}),
                        **_errors(write=True, audit=True),
                        "409": _problem("Conflicting edit: `current` holds the server's answer", 409,
                                        "conflict", required=("current",)),
                    },
                }
            },
            "/api/audits/{audit_id}/evidence": {
                "post": {
                    "summary": "Attach an evidence file (photo or PDF)",
                    "description": (
                        "Type is checked by content (JPEG, PNG, WebP, PDF), size against the "
                        "server's limit. A `client_id` already stored returns that evidence with "
                        "200 and `replayed: true`."
                    ),
                    "parameters": [audit_id, csrf, author],
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "question_id": {"type": "integer"},
                            "client_id": {"type": "string", "maxLength": 64},
                            "taken_at": {"type": "string", "format": "date-time",
                                         "description": "When the photo was taken (with offset)"},
                            "caption": {"type": "string", "maxLength": 255},
                            "original_size": {"type": "integer", "description": (
                                "Size in bytes of the file the person chose, before the tablet "
                                "resized it; over PHOTO_ORIGINAL_MAX_BYTES the upload is refused "
                                "with 422 before it is read")},
                        }}}}},
                    "responses": {
                        "201": ok("Stored", saved_evidence),
                        "200": ok("Replay of a stored client_id", saved_evidence),
                        **_errors(write=True, audit=True),
                    },
                }
            },
            "/api/audits/{audit_id}/questions/{question_id}/findings": {
                "post": {
                    "summary": "Raise a finding from an answer (a finding queued offline)",
                    "description": (
                        "The question's clauses, answer and uncited evidence files come along. A "
                        "`mutation_id` already applied returns the same finding with 200 and "
                        "`replayed: true`: a replayed queue never raises a second finding."
                    ),
                    "parameters": [audit_id, question_id, csrf, author],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["grade", "statement"],
                        "properties": {
                            "grade": {"type": "string",
                                      "enum": ["major", "minor", "observation", "ofi", "good_practice"]},
                            "statement": {"type": "string", "maxLength": 5000},
                            "evidence": {"type": "string", "maxLength": 5000, "nullable": True},
                            "mutation_id": {"type": "string", "maxLength": 64},
                        }}}}},
                    "responses": {
                        "201": ok("Raised", raised),
                        "200": ok("Replay of an applied mutation_id", raised),
                        **_errors(write=True, audit=True),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": ok("OpenAPI 3", {"type": "object", "required": ["openapi", "info", "paths"]}),
                        **_errors(write=False, audit=False),
                    },
                }
            },
        },
        "components": {
            "responses": {
                "NotFound": _problem("No such URL", 404, "not_found"),
                "MethodNotAllowed": {
                    **_problem("The URL exists but not with this method", 405, "method_not_allowed"),
                    "headers": {"Allow": {"required": True, "schema": {"type": "string"},
                                          "description": "The methods the URL offers"}},
                },
            },
            "schemas": {
                "Problem": PROBLEM_SCHEMA,
                "AnswerInput": {
                    "type": "object",
                    "required": ["base_version"],
                    "properties": {
                        "verdict": {"type": "string", "nullable": True,
                                    "enum": [v.value for v in Verdict] + [None],
                                    "description": "For verdict questions"},
                        "value": {"type": "string", "nullable": True,
                                  "description": "For yes/no, number, text, date (YYYY-MM-DD), choice"},
                        "note": {"type": "string", "nullable": True, "maxLength": 5000},
                        "base_version": {"type": "integer", "minimum": 0},
                        "mutation_id": {"type": "string", "maxLength": 64,
                                        "description": "Client-generated id (UUID) for idempotent replays"},
                        "answered_at": {"type": "string", "format": "date-time",
                                        "description": "The device's time of the change (offline "
                                                       "answers sync later); recorded between the "
                                                       "audit's first day and the sync time"},
                    },
                },
                "Answer": {
                    "type": "object",
                    "required": ["question_id", "verdict", "value", "note", "version", "answered_by",
                                 "answered_at"],
                    "additionalProperties": False,
                    "properties": {
                        "question_id": {"type": "integer"},
                        "verdict": {"type": "string", "nullable": True},
                        "value": {"type": "string", "nullable": True},
                        "note": {"type": "string", "nullable": True},
                        "version": {"type": "integer", "minimum": 0, "description": "0 = never answered"},
                        "answered_by": {"type": "string", "nullable": True},
                        "answered_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "Evidence": {
                    "type": "object",
                    "required": ["id", "client_id", "question_id", "content_type", "size", "caption",
                                 "taken_at", "uploaded_at", "thumbnail"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "client_id": {"type": "string", "nullable": True},
                        "question_id": {"type": "integer", "nullable": True},
                        "content_type": {"type": "string"},
                        "size": {"type": "integer"},
                        "caption": {"type": "string", "nullable": True},
                        "taken_at": {"type": "string", "format": "date-time", "nullable": True},
                        "uploaded_at": {"type": "string", "format": "date-time"},
                        "thumbnail": {"type": "boolean"},
                    },
                },
            },
        },
    }
