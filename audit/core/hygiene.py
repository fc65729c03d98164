"""Refuse request input that no database column can hold, before any view sees it.

PostgreSQL text columns cannot store NUL characters: a form or JSON value containing one made
the driver raise ``DataError`` deep inside a service, a 500 on PostgreSQL while SQLite stored
it (found by the hostile-input tests in tests/reliability). No person types a NUL, so such a
request is refused as a whole with 400 and nothing is stored, on every database alike.
"""

from __future__ import annotations

from flask import Flask, abort, request

NUL = "\x00"
MESSAGE = "The request contains a NUL character, which no text field accepts."


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def init_app(app: Flask) -> None:
    """Install the check for every request."""

    @app.before_request
    def _refuse_nul_characters():
        if any(_has_nul(k) or _has_nul(v) for k, v in request.args.items(multi=True)):
            abort(400, description=MESSAGE)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if any(_has_nul(k) or _has_nul(v) for k, v in request.form.items(multi=True)):
                abort(400, description=MESSAGE)
            if any(NUL in (f.filename or "") for f in request.files.values()):
                abort(400, description=MESSAGE)
            if request.is_json and _has_nul(request.get_json(silent=True)):
                abort(400, description=MESSAGE)
        return None
