"""The one error format of the JSON API: RFC 9457 problem details.

Every error an ``/api/`` URL answers (the login gate's 401, permission 403s, 404, 405, 413, the
400s of CSRF, malformed JSON and NUL characters, 409 conflicts, 422 validation, 423 frozen
audits, 500) is built by :func:`problem`, so the shape cannot drift from the schema the OpenAPI
document publishes (:data:`PROBLEM_SCHEMA`, built from the same :data:`PROBLEMS` table).

A problem is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` and
a stable machine ``code`` the tablet script branches on (titles and details are for people and
may change). Extension members: ``field`` (the input at fault, on 422) and ``current`` (the
server's answer, on a 409 conflict).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from audit.core.errors import DomainError, NotAllowed, StaleObject

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its HTTP status and the short, fixed title people see."""

    status: int
    title: str


#: Every machine code the API may answer, with its status and title. Adding a code here is the
#: only way to make a new one: the OpenAPI schema's ``code`` enum is built from these keys.
PROBLEMS: dict[str, ProblemType] = {
    "bad_request": ProblemType(400, "Bad request"),
    "csrf_failed": ProblemType(400, "The security token is missing or wrong"),
    "malformed_json": ProblemType(400, "The body is not a JSON object"),
    "unauthorized": ProblemType(401, "Not logged in"),
    "forbidden": ProblemType(403, "Not allowed"),
    "other_author": ProblemType(403, "Made by another person"),
    "not_found": ProblemType(404, "Not found"),
    "method_not_allowed": ProblemType(405, "Method not allowed"),
    "conflict": ProblemType(409, "Changed meanwhile"),
    "payload_too_large": ProblemType(413, "Too large"),
    "invalid": ProblemType(422, "Invalid input"),
    "frozen": ProblemType(423, "Frozen"),
    "internal_error": ProblemType(500, "Internal server error"),
    # Any other HTTP error werkzeug may raise (415, 431 ...): the status says what it is.
    "http_error": ProblemType(0, "HTTP error"),
}

#: The code an HTTP exception maps to when nothing more specific is known, by status.
_CODE_FOR_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 422: "invalid",
    423: "frozen", 500: "internal_error",
}


def type_uri(code: str) -> str:
    """The problem type URI of ``code``: an identifier (RFC 9457 §3.1.1), not a link to follow."""
    return f"urn:audit:problem:{code}"


PROBLEM_SCHEMA: dict = {
    "type": "object",
    "description": (
        "RFC 9457 problem details. Branch on `code` (stable); `title` and `detail` are for "
        "people. `type` is `urn:audit:problem:` followed by the code."
    ),
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": [type_uri(c) for c in PROBLEMS]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, in words a person acts on"},
        "code": {"type": "string", "enum": list(PROBLEMS)},
        "field": {"type": "string", "nullable": True,
                  "description": "On `invalid`: the input at fault, when one is"},
        "current": {"allOf": [{"$ref": "#/components/schemas/Answer"}],
                    "description": "On `conflict`: the server's answer, to show beside the client's"},
    },
}


def problem(code: str, detail: str | None = None, *, status: int | None = None,
            headers=None, **extensions) -> Response:
    """The problem-details response for ``code`` (a key of :data:`PROBLEMS`).

    ``status`` overrides the code's own only for ``http_error``; ``headers`` are added as given
    (``Allow`` on 405); ``extensions`` become extra members (``field``, ``current``).
    """
    kind = PROBLEMS[code]
    status = status if code == "http_error" and status else kind.status
    body = {"type": type_uri(code), "title": kind.title, "status": status,
            "detail": detail or kind.title, "code": code, **extensions}
    response = current_app.response_class(current_app.json.dumps(body), status=status,
                                          mimetype=MEDIA_TYPE)
    for name, value in headers or ():
        response.headers[name] = value
    return response


def problem_for_http(exc: HTTPException) -> Response:
    """An HTTP exception (``abort``, routing, CSRF, request limits) as a problem response."""
    from flask_wtf.csrf import CSRFError

    if isinstance(exc, CSRFError):
        code = "csrf_failed"
    else:
        code = _CODE_FOR_STATUS.get(exc.code or 500, "http_error")
    # Keep the exception's own headers that matter to clients (Allow on 405,
    # WWW-Authenticate, Retry-After); its Content-Type is replaced by ours.
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return problem(code, exc.description, status=exc.code, headers=headers)


def problem_for_domain(exc: DomainError, **extensions) -> Response:
    """A service's refusal as a problem: 403 not allowed, 409 stale, 422 otherwise.

    Features with their own refusals (a frozen audit is 423) map those before calling this.
    """
    if isinstance(exc, NotAllowed):
        return problem("forbidden", exc.message, **extensions)
    if isinstance(exc, StaleObject):
        return problem("conflict", exc.message, **extensions)
    return problem("invalid", exc.message, field=exc.field, **extensions)


def wants_problem() -> bool:
    """True when the error should be a problem document rather than an HTML page."""
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best in ("application/json", MEDIA_TYPE)
    )
