"""The OpenAPI 3 description of the checklist API: the contract the tablet page and the load
tests rely on. Keep it in step with ``audit/conduct/api.py``."""

from __future__ import annotations

from audit.models import Verdict

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "enum": ["conflict", "frozen", "forbidden", "invalid"]},
        "message": {"type": "string"},
        "field": {"type": "string", "nullable": True},
    },
    "required": ["error", "message"],
}


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


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
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Audit checklist API",
            "version": "1.0.0",
            "description": (
                "Used by the tablet checklist screen (and its offline queue). Authentication is the "
                "session cookie of a logged-in user. Only the audit team's auditing members (lead, "
                "auditor, trainee) may write; auditees and report readers may read; everyone else "
                "gets 403. Once the audit's report is issued every write answers 423."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/audits/{audit_id}/answers": {
                "get": {
                    "summary": "All answers of an audit with their versions",
                    "parameters": [audit_id],
                    "responses": {
                        "200": {"description": "The answers",
                                "content": {"application/json": {"schema": {
                                    "type": "object",
                                    "properties": {
                                        "audit_id": {"type": "integer"},
                                        "frozen": {"type": "boolean"},
                                        "answers": {"type": "array", "items": {
                                            "$ref": "#/components/schemas/Answer"}},
                                    }}}}},
                        "401": _error("Not logged in"),
                        "403": _error("Not allowed to see this audit"),
                        "404": _error("No such audit"),
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
                        "200": {"description": "Saved (or replayed)",
                                "content": {"application/json": {"schema": {
                                    "type": "object",
                                    "properties": {
                                        "answer": {"$ref": "#/components/schemas/Answer"},
                                        "replayed": {"type": "boolean"},
                                    }}}}},
                        "400": _error("Not a JSON object, or the CSRF token is missing"),
                        "403": _error("Not a member of the audit team's auditors, or `other_author`"),
                        "404": _error("No such audit"),
                        "409": {"description": "Conflicting edit",
                                "content": {"application/json": {"schema": {
                                    "allOf": [{"$ref": "#/components/schemas/Error"}, {
                                        "type": "object",
                                        "properties": {"current": {"$ref": "#/components/schemas/Answer"}},
                                    }]}}}},
                        "422": _error("Invalid answer (unknown verdict, value out of range ...)"),
                        "423": _error("The report is issued: the audit is frozen"),
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
                        }}}}},
                    "responses": {
                        "201": {"description": "Stored", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {
                                "evidence": {"$ref": "#/components/schemas/Evidence"},
                                "replayed": {"type": "boolean"}}}}}},
                        "200": {"description": "Replay of a stored client_id"},
                        "403": _error("Not a member of the audit team's auditors, or `other_author`"),
                        "413": _error("Larger than the request limit"),
                        "422": _error("Wrong type, too large, empty or damaged"),
                        "423": _error("The report is issued: the audit is frozen"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}
            },
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
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
                    },
                },
                "Answer": {
                    "type": "object",
                    "properties": {
                        "question_id": {"type": "integer"},
                        "verdict": {"type": "string", "nullable": True},
                        "value": {"type": "string", "nullable": True},
                        "note": {"type": "string", "nullable": True},
                        "version": {"type": "integer", "description": "0 = never answered"},
                        "answered_by": {"type": "string", "nullable": True},
                        "answered_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "Evidence": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "client_id": {"type": "string", "nullable": True},
                        "question_id": {"type": "integer", "nullable": True},
                        "content_type": {"type": "string"},
                        "size": {"type": "integer"},
                        "caption": {"type": "string", "nullable": True},
                        "taken_at": {"type": "string", "format": "date-time"},
                        "uploaded_at": {"type": "string", "format": "date-time"},
                        "thumbnail": {"type": "boolean"},
                    },
                },
            }
        },
    }
