"""Domain exceptions raised by services, and the HTTP error pages (never a traceback)."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

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


#: Words that keep a form field off the error page whatever its type: secrets and the machinery
#: of the form.
_NOT_ECHOED = ("csrf", "password", "passphrase", "secret", "token", "version", "next")


@functools.cache
def _hidden_field_names() -> frozenset[str]:
    """The names (without prefix) of every password and hidden field of the application's forms:
    what a person typed there is never shown back, whatever the field is called ("confirm")."""
    from wtforms import HiddenField, PasswordField
    from wtforms.fields.core import UnboundField

    from audit.core.forms import AppForm

    names, forms = set(), [AppForm]
    while forms:
        form = forms.pop()
        forms.extend(form.__subclasses__())
        names.update(name for name, value in vars(form).items()
                     if isinstance(value, UnboundField) and issubclass(value.field_class, (PasswordField, HiddenField)))
    return frozenset(names)


def typed_input() -> list[tuple[str, str]]:
    """What the person typed into the refused form, as (label, text) pairs, so an error page can
    show it back and nothing written is lost (an extension's reason sent from a page that went
    out of date meanwhile, a note whose form expired). Only text a person wrote: secrets, CSRF
    and version fields, and single words (a choice, a date, a number) are left out."""
    if request.method != "POST":
        return []
    try:
        fields = list(request.form.items(multi=True))
    except HTTPException:  # the body itself was refused (too large, malformed): nothing to show
        return []
    kept = []
    for name, value in fields:
        text = value.strip() if isinstance(value, str) else ""
        field = name.rpartition("-")[2] if name else ""
        if (not text or not field or field in _hidden_field_names()
                or any(word in name.lower() for word in _NOT_ECHOED)):
            continue
        if " " not in text and "\n" not in text:
            continue  # a choice, a date or a number: quick to give again
        label = field.replace("_", " ").strip().capitalize()
        kept.append((label, text))
    return kept


def back_link() -> str | None:
    """The page the request came from when it is one of ours (http(s), same host), else None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return referrer


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
        typed = typed_input() if exc.code != 413 else []  # a refused body is not read again
        return (render_template("errors/error.html", error=exc, typed=typed, back=back_link()),
                exc.code, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)

        db.session.rollback()
        if wants_problem():
            return problem("internal_error", "Something went wrong on the server; try again later.")
        return render_template("errors/500.html"), 500
