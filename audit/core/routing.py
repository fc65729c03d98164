"""URL converters shared by every blueprint, and the one check for local redirect targets.

Werkzeug's ``int`` converter accepts any number of digits; an id beyond the id columns' range
then reaches the database driver, and PostgreSQL (integer out of range for int4) or SQLite
(``OverflowError`` beyond 64 bits) fail with a 500 instead of "not found". The bounded converter
below makes such URLs a plain 404 (found by tests/reliability).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Flask
from werkzeug.routing import IntegerConverter

#: The largest value an ``Integer`` id column holds on PostgreSQL (int4).
MAX_DATABASE_INT = 2**31 - 1


class DatabaseIntegerConverter(IntegerConverter):
    """``<int:...>`` limited to what a database integer column can hold (404 beyond)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", MAX_DATABASE_INT)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the converters; must run before any blueprint is registered."""
    app.url_map.converters["int"] = DatabaseIntegerConverter


#: Longest redirect target followed; anything longer is not a link this app made.
_MAX_TARGET = 2000
#: Percent-decoding rounds inspected: a target still changing after that is refused.
_DECODE_ROUNDS = 4


def _is_local_layer(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return False
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: the guard for every redirect target.

    Browsers are lenient where this is strict: they strip tabs and newlines inside URLs, trim
    spaces, read ``\\`` as ``/`` and treat ``//host`` as another site, and a path may be decoded
    once more by a proxy or by the next hop. So the raw value must be printable ASCII without
    spaces, and it and every percent-decoded form of it must start with exactly one ``/``, hold
    no backslash and no control character, and parse without a scheme or host.
    """
    if not target or len(target) > _MAX_TARGET:
        return None
    if any(not ("!" <= c <= "~") for c in target):
        return None
    layer = target
    for _ in range(_DECODE_ROUNDS):
        if not _is_local_layer(layer):
            return None
        decoded = unquote(layer)
        if decoded == layer:
            return target
        layer = decoded
    return None
