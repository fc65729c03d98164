"""The bare baselines: the least work each measured request needs, under the same gunicorn.

Run as ``gunicorn bench.baseline_app:app`` with ``BASELINE_DATABASE_URL`` pointing at the same
kind of database as the application being measured. No ORM, no login, no trail: a ratio of 1.0
would mean the product adds nothing on top of the unavoidable work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading

from flask import Flask, Response, render_template_string, request

app = Flask(__name__)
URL = os.environ.get("BASELINE_DATABASE_URL", "sqlite:////tmp/baseline.db")
_local = threading.local()

PAGE = """<!doctype html><html><head><title>{{ title }}</title></head><body><h1>{{ title }}</h1>
<table>{% for r in rows %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td></tr>{% endfor %}</table>
</body></html>"""


def _conn():
    conn = getattr(_local, "conn", None)
    if conn is None:
        if URL.startswith("sqlite:///"):
            conn = sqlite3.connect(URL[len("sqlite:///"):], timeout=15, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        else:
            import psycopg

            conn = psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        _local.conn = conn
    return conn


def _sqlite() -> bool:
    return URL.startswith("sqlite")


def setup_schema() -> None:
    """Create the baseline tables (called once by the bench before starting the server)."""
    conn = _conn()
    conn.execute("CREATE TABLE IF NOT EXISTS answers (audit_id INTEGER, question_id INTEGER, "
                 "verdict VARCHAR(20), note TEXT, version INTEGER, PRIMARY KEY (audit_id, question_id))")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, name VARCHAR(200), "
                 "status VARCHAR(20))")
    count = conn.execute("SELECT count(*) FROM rows").fetchone()[0]
    if not count:
        values = [(i, f"Row {i} with a plausible title", "open") for i in range(1, 5001)]
        if _sqlite():
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO rows VALUES (?, ?, ?)", values)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO rows VALUES (%s, %s, %s)", values)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.put("/answers/<int:audit_id>/<int:question_id>")
def upsert(audit_id: int, question_id: int):
    """Parse JSON, upsert one row in a write transaction, answer JSON: an answer save's core."""
    data = request.get_json()
    conn = _conn()
    if _sqlite():
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO answers VALUES (?, ?, ?, ?, 1) ON CONFLICT (audit_id, question_id) DO UPDATE "
            "SET verdict = excluded.verdict, note = excluded.note, version = answers.version + 1",
            (audit_id, question_id, data.get("verdict"), data.get("note")),
        )
        conn.execute("COMMIT")
    else:
        conn.execute(
            "INSERT INTO answers VALUES (%s, %s, %s, %s, 1) ON CONFLICT (audit_id, question_id) DO UPDATE "
            "SET verdict = excluded.verdict, note = excluded.note, version = answers.version + 1",
            (audit_id, question_id, data.get("verdict"), data.get("note")),
        )
    return {"ok": True}


@app.get("/page")
def page():
    """One query for ``n`` rows and a plain Jinja table: a list page's unavoidable work."""
    n = request.args.get("n", 50, type=int)
    ph = "?" if _sqlite() else "%s"
    rows = _conn().execute(f"SELECT id, name, status FROM rows ORDER BY id LIMIT {ph}", (n,)).fetchall()
    return render_template_string(PAGE, title="Baseline", rows=rows)


def _events(n: int) -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//baseline//EN")
    cal.add("version", "2.0")
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    for i in range(n):
        event = Event()
        event.add("uid", f"audit-{i}@baseline")
        event.add("dtstamp", start)
        event.add("dtstart", start + dt.timedelta(days=i, hours=1))
        event.add("dtend", start + dt.timedelta(days=i, hours=3))
        event.add("summary", f"Audit {i}: Production – machining (ISO 9001)")
        event.add("location", "Berlin plant")
        cal.add_component(event)
    return cal.to_ical()


@app.get("/ical")
def ical():
    """``icalendar`` alone serialising ``n`` events, with an ETag and a 304 on a match."""
    n = request.args.get("n", 10, type=int)
    body = _events(n)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, mimetype="text/calendar", headers={"ETag": etag})


@app.get("/ical-etag")
def ical_etag():
    """The least a conditional feed request needs: compare a stored ETag, answer 304."""
    etag = '"' + hashlib.sha256(json.dumps(request.args.get("n", "")).encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(b"", headers={"ETag": etag})
