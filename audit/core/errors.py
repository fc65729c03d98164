"""Domain exceptions raised by services, and the HTTP error pages (never a traceback)."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from audit.extensions import db


class DomainError(Exception):
    """A rule of the domain refused the request. ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The actor may not do this to this object (object-level permission)."""


class Conflict(DomainError):
    """Not now: the object's state (or a guard of its workflow) does not allow this yet."""


class RefusedAction(HTTPException):
    """A workflow refused an action (403 who, 409 when); the page shows the workflow's reason."""

    is_refusal = True

    def __init__(self, status: int, reason: str):
        self.code = status
        super().__init__(description=reason)


class StaleObject(DomainError):
    """Someone else changed the object since it was loaded."""


def init_app(app: Flask) -> None:
    """Register the error pages for 400/403/404/405/413/500 (problem details for the API)."""

    # Imported here because problems.py builds on the exceptions defined above.
    # Imported here, not at the top: importing it there makes an import cycle.
    from audit.core.problems import problem, problem_for_http, wants_problem

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if wants_problem():
            return problem_for_http(exc)
        # Keep Allow (405) and similar headers on pages too; the page sets its own type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return render_template("errors/error.html", error=exc), exc.code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)

        db.session.rollback()
        if wants_problem():
            return problem("internal_error", "Something went wrong on the server; try again later.")
        return render_template("errors/500.html"), 500
