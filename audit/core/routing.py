"""URL converters shared by every blueprint.

Werkzeug's ``int`` converter accepts any number of digits; an id beyond the id columns' range
then reaches the database driver, and PostgreSQL (integer out of range for int4) or SQLite
(``OverflowError`` beyond 64 bits) fail with a 500 instead of "not found". The bounded converter
below makes such URLs a plain 404 (found by tests/reliability).
"""

from __future__ import annotations

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
