"""The application as the bench serves it: ``app:app`` plus two response headers.

``X-Bench-Statements`` is the number of SQL statements (SELECT/INSERT/UPDATE/DELETE; not
BEGIN/COMMIT) the request sent, ``X-Bench-Rows`` the number of rows it read from the database,
whether they became ORM objects or stayed plain rows (the same-work page reads as many).
Counting is an SQLAlchemy event on every engine and a wrapper around the result's row fetches:
an integer increment per statement or fetch, far below the millisecond the figures are
reported in. Gunicorn sync workers serve one request at a time per process, so a
process-wide counter reset when a request starts is the request's own count. Only the bench
serves this module; production serves ``app:app``, which knows nothing of it.
"""

from __future__ import annotations

import functools

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.cursor import BufferedRowCursorFetchStrategy, CursorFetchStrategy

from app import app as _flask_app

_counts = {"statements": 0, "rows": 0}
_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip()[:6].upper().startswith(_COUNTED):
        _counts["statements"] += 1


def _counting(fetch, many: bool):
    """``fetch`` (a fetch strategy's fetchone/fetchmany/fetchall), counting the rows it returns."""

    @functools.wraps(fetch)
    def counted(self, *args, **kwargs):
        rows = fetch(self, *args, **kwargs)
        _counts["rows"] += len(rows) if many else rows is not None
        return rows

    return counted


for _strategy in (CursorFetchStrategy, BufferedRowCursorFetchStrategy):
    _strategy.fetchone = _counting(_strategy.fetchone, many=False)
    _strategy.fetchmany = _counting(_strategy.fetchmany, many=True)
    _strategy.fetchall = _counting(_strategy.fetchall, many=True)


def app(environ, start_response):
    """WSGI entry: the Flask app, with the request's counts added to its response headers."""
    _counts["statements"] = _counts["rows"] = 0

    def counted_start(status, headers, exc_info=None):
        # Flask has run the view (and its queries) before it starts the response.
        headers = [*headers, ("X-Bench-Statements", str(_counts["statements"])),
                   ("X-Bench-Rows", str(_counts["rows"]))]
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    return _flask_app(environ, counted_start)
