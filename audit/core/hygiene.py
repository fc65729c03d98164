"""Refuse request input that no field, column or clock can hold, before any view or CSRF check.

One layer at the edge, so every form, filter and API route is covered without each view
remembering to: a malformed multipart body, JSON nested deeper than ``JSON_MAX_DEPTH``, control
characters other than TAB/CR/LF in any text, ISO dates outside the years 1900–2200 and whole
numbers beyond a 32-bit INTEGER column (in filters, id fields and JSON) each used to reach a
service and end in a 500 (``OverflowError`` on SQLite, ``DataError`` on PostgreSQL) or in
stored text that broke calendars. Such a request is refused as a whole with 400 and a message
naming the field, and nothing is stored. Rules that need to know the field's type (one line or
several, which date format) live in the shared form base (``audit.core.forms.Form``).
"""

from __future__ import annotations

import re

from flask import Flask, abort, request

from audit.core.text import (
    CONTROL_RE,
    DATE_SHAPE_RE,
    YEAR_MESSAGE,
    control_character,
    date_out_of_range,
    integer_out_of_range,
    year_in_range,
)

#: Deepest JSON nesting any API route needs is 4; 20 leaves room without risking recursion.
JSON_MAX_DEPTH = 20
#: Query arguments holding free text, where a long number is a search term, not an id.
FREE_TEXT_ARGS = frozenset({"q", "next"})
#: Query arguments that are a calendar year (the calendar's ``?year=``).
YEAR_ARGS = frozenset({"year"})
#: Form fields whose whole-number value is an id (``site_id``, ``clause_ids``, ``id``).
ID_FIELD_RE = re.compile(r"(?:^|[_-])ids?$")
_JSON_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS_RE = re.compile(rb"[\[\]{}]")


def _refuse(message: str) -> None:
    abort(400, description=message)


def _check_text(where: str, value: str) -> None:
    bad = control_character(value)
    if bad:
        _refuse(f"{where} contains a control character ({bad}), which no text field accepts. "
                "Remove it and send again.")
    if date_out_of_range(value):
        _refuse(f"{where}: {YEAR_MESSAGE}")


def _check_integer(where: str, value: str) -> None:
    if integer_out_of_range(value):
        _refuse(f"{where} is not a valid id or number: it is too large.")


def _label(name) -> str:
    return f"The field “{name}”"


def json_depth_exceeds(raw: bytes, limit: int = JSON_MAX_DEPTH) -> bool:
    """True when the JSON text ``raw`` nests arrays/objects deeper than ``limit``.

    Counted on the bytes before parsing (strings removed first), so a hostile body never
    reaches the recursive parser or a recursive walk.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # too few brackets to nest that deep, wherever they stand
    depth = 0
    for match in _JSON_BRACKETS_RE.finditer(_JSON_STRING_RE.sub(b"", raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def _suspect(value: str) -> bool:
    """Whether ``_check_text`` could refuse ``value`` (its label is worded only then)."""
    return CONTROL_RE.search(value) is not None or DATE_SHAPE_RE.match(value) is not None


def _check_json(value, key: str = "value") -> None:
    # Depth is bounded by json_depth_exceeds, so this recursion is shallow.
    if isinstance(value, dict):
        for k, v in value.items():
            if _suspect(k):
                _check_text(f"The JSON key “{k[:40]}”", k)
            _check_json(v, k)
    elif isinstance(value, list):
        for v in value:
            _check_json(v, key)
    elif isinstance(value, str):
        if _suspect(value):
            _check_text(f"The JSON field “{key}”", value)
    elif isinstance(value, int) and not isinstance(value, bool):
        # Ids must fit an INTEGER column; other numbers (a measured answer) only a 64-bit one.
        bound = 2**31 if ID_FIELD_RE.search(key) else 2**63
        if not -bound <= value < bound:
            _refuse(f"The JSON field “{key}” is too large a number.")


def check_request() -> None:
    """Abort with 400 when the current request carries input the application refuses."""
    for name, value in request.args.items(multi=True):
        _check_text("A query argument name", name)
        _check_text(f"The filter “{name}”", value)
        if name not in FREE_TEXT_ARGS:
            _check_integer(f"The filter “{name}”", value)
        if name in YEAR_ARGS and value.strip().isdigit() and not year_in_range(int(value)):
            _refuse(f"The filter “{name}”: {YEAR_MESSAGE}")
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.is_json:
        if json_depth_exceeds(request.get_data(cache=True)):
            _refuse(f"The JSON body is nested more than {JSON_MAX_DEPTH} levels deep.")
        # Parsed once: the request keeps it for the view's own get_json(silent=True). Not JSON
        # at all gives None: the view answers that in its own words (malformed_json).
        _check_json(request.get_json(silent=True))
        return
    for name, value in request.form.items(multi=True):
        if not name:
            _refuse("The form is malformed: one of its parts has no name.")
        _check_text(_label(name), value)
        if ID_FIELD_RE.search(name):
            _check_integer(_label(name), value)
    for name, upload in request.files.items(multi=True):
        if not name:
            _refuse("The form is malformed: one of its parts has no name.")
        _check_text("The file name", upload.filename or "")


def init_app(app: Flask) -> None:
    """Install the check for every request; call before CSRF protection is installed."""
    app.before_request(check_request)
