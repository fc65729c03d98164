"""The application as the bench serves it: ``app:app`` plus two response headers.

``X-Bench-Statements`` is the number of SQL statements (SELECT/INSERT/UPDATE/DELETE; not
BEGIN/COMMIT) the request sent, ``X-Bench-Rows`` the number of ORM objects it loaded (the
rows a page read). Counting is an SQLAlchemy event on every engine and a mapper ``load`` event:
an integer increment per statement or object, far below the millisecond the figures are
reported in. Gunicorn sync workers serve one request at a time per process, so a
process-wide counter reset when a request starts is the request's own count. Only the bench
serves this module; production serves ``app:app``, which knows nothing of it.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper

from app import app as _flask_app

_counts = {"statements": 0, "rows": 0}
_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip()[:6].upper().startswith(_COUNTED):
        _counts["statements"] += 1


@event.listens_for(Mapper, "load")
def _loaded(target, context):
    _counts["rows"] += 1


def app(environ, start_response):
    """WSGI entry: the Flask app, with the request's counts added to its response headers."""
    _counts["statements"] = _counts["rows"] = 0

    def counted_start(status, headers, exc_info=None):
        # Flask has run the view (and its queries) before it starts the response.
        headers = [*headers, ("X-Bench-Statements", str(_counts["statements"])),
                   ("X-Bench-Rows", str(_counts["rows"]))]
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    return _flask_app(environ, counted_start)
