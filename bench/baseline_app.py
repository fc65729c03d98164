"""The baselines, under the same gunicorn as the application, in two kinds (issue 16 item 1).

* **Same work** (``/same/...``): the request the application serves, done with the least
  machinery: raw SQL on the application's own database (``DATABASE_URL``; on SQLite with the
  application's pragmas, foreign keys enforced as ``core.database`` does), the same session
  cookie (Flask's signed cookie, the user looked up with its roles), the same CSRF check
  (Flask-WTF's ``validate_csrf``), permission and team role, version check, trail row and
  idempotency (``applied_mutations``) writes, the same short write transaction. Pages read
  as many rows as the application's page loaded, in as many statements, and answer as many
  bytes; the 304 looks the token up and checks freshness with one query. A ratio of 1.0 to
  these means the product's framework (ORM, forms, templates, workflows) adds nothing.
* **Floor** (``/answers``, ``/page``, ``/ical``, ``/ical-etag``): the physical minimum on a
  separate database (``BASELINE_DATABASE_URL``): a bare upsert, one query and a small table, a
  stored ETag compared. No login, no trail.

Every response says how many SQL statements it sent (``X-Bench-Statements``, transaction
control not counted), as the application does under the bench (bench/counted_app.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sqlite3
import threading

from flask import Flask, Response, jsonify, render_template_string, request, session

app = Flask(__name__)
#: The same secret as the application: the baseline reads the application's session cookies.
app.secret_key = os.environ.get("AUDIT_SECRET_KEY", "bench-only-secret-key-0123456789abcdef")
URL = os.environ.get("BASELINE_DATABASE_URL", "sqlite:////tmp/baseline.db")
APP_URL = os.environ.get("DATABASE_URL", "")
_local = threading.local()
_count = [0]
#: Roles holding the CONDUCT_AUDIT capability, and team roles that answer (audit.auth.permissions).
CONDUCT_ROLES = {"ADMIN", "AUDITOR"}
AUDITING_TEAM_ROLES = {"LEAD", "AUDITOR", "TRAINEE"}
ROWS_IN_TABLE = 20_000

PAGE = """<!doctype html><html><head><title>{{ title }}</title></head><body><h1>{{ title }}</h1>
<p>Signed in as {{ user }}</p>
<table>{% for r in rows %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td></tr>{% endfor %}</table>
</body></html>"""


def _connect(url: str):
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):], timeout=15, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")  # as the application's connections (core.database)
        return conn
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _conn():
    """The floor's own database (one connection per thread)."""
    if getattr(_local, "conn", None) is None:
        _local.conn = _connect(URL)
    return _local.conn


def _app_conn():
    """The application's database, for the same-work endpoints."""
    if getattr(_local, "app_conn", None) is None:
        _local.app_conn = _connect(APP_URL)
    return _local.app_conn


def _sqlite(url: str | None = None) -> bool:
    return (url or URL).startswith("sqlite")


def _run(conn, sql: str, params=()):
    """One counted statement; ``?`` placeholders (and ``{J}`` for a JSON value) per dialect."""
    _count[0] += 1
    lite = isinstance(conn, sqlite3.Connection)
    sql = sql.replace("{J}", "?" if lite else "?::json")
    return conn.execute(sql if lite else sql.replace("?", "%s"), params)


def _stored_time(conn, value: dt.datetime):
    """A UTC instant as SQLAlchemy stores it (naive text on SQLite, aware on PostgreSQL)."""
    if isinstance(conn, sqlite3.Connection):
        return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@app.before_request
def _reset_count():
    _count[0] = 0


@app.after_request
def _statements(response):
    response.headers["X-Bench-Statements"] = str(_count[0])
    return response


def setup_schema() -> None:
    """Create the floor's tables (called once by the bench before starting the server)."""
    conn = _conn()
    conn.execute("CREATE TABLE IF NOT EXISTS answers (audit_id INTEGER, question_id INTEGER, "
                 "verdict VARCHAR(20), note TEXT, version INTEGER, PRIMARY KEY (audit_id, question_id))")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, name VARCHAR(200), "
                 "status VARCHAR(20))")
    count = conn.execute("SELECT count(*) FROM rows").fetchone()[0]
    if not count:
        values = [(i, f"Row {i} with a plausible title", "open") for i in range(1, ROWS_IN_TABLE + 1)]
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


# --------------------------------------------------------------------------- same work


def _session_user() -> dict | None:
    """The signed-in user of the application's session cookie: one statement, roles joined."""
    key, _, version = str(session.get("_user_id", "")).partition(":")
    if not (key.isdigit() and version.isdigit()):
        return None
    rows = _run(_app_conn(), "SELECT u.id, u.name, u.is_active, u.session_version, r.role FROM users u "
                "LEFT JOIN user_roles r ON r.user_id = u.id WHERE u.id = ?", (int(key),)).fetchall()
    if not rows or not rows[0][2] or rows[0][3] != int(version):
        return None
    return {"id": rows[0][0], "name": rows[0][1], "roles": {r[4] for r in rows if r[4]}}


def _csrf_ok() -> bool:
    from flask_wtf.csrf import validate_csrf
    from wtforms.validators import ValidationError

    from audit.core.compression import unmask_token

    try:
        # Pages mask the token per response (BREACH): unmask it as the application does.
        validate_csrf(unmask_token(request.headers.get("X-CSRFToken")))
    except ValidationError:
        return False
    return True


READ_ANSWER = """
SELECT a.id, a.reference, a.version_id, a.report_issued_at,
       (SELECT m.role FROM audit_team_members m WHERE m.audit_id = a.id AND m.user_id = ? LIMIT 1),
       q.id, q.key, ans.id, ans.version, ans.verdict, ans.note, am.audit_id, am.result
FROM audits a
LEFT JOIN checklist_questions q ON q.id = ? AND q.section_id IN
     (SELECT s.id FROM checklist_sections s WHERE s.version_id = a.checklist_version_id)
LEFT JOIN checklist_answers ans ON ans.audit_id = a.id AND ans.question_id = ?
LEFT JOIN applied_mutations am ON am.mutation_id = ?
WHERE a.id = ?"""


@app.put("/same/answers/<int:audit_id>/<int:question_id>")
def same_save(audit_id: int, question_id: int):
    """An answer save as the application does it, in raw SQL (see the module docstring)."""
    user = _session_user()
    if user is None:
        return {"error": "unauthorized"}, 401
    if not _csrf_ok():
        return {"error": "csrf"}, 400
    if not CONDUCT_ROLES & user["roles"]:
        return {"error": "forbidden"}, 403
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "malformed_json"}, 400
    mutation_id = str(body.get("mutation_id") or "")[:64] or None
    base_version = body.get("base_version", 0)
    verdict, note = body.get("verdict"), (body.get("note") or "").strip() or None
    conn = _app_conn()
    row = _run(conn, READ_ANSWER, (user["id"], question_id, question_id, mutation_id or "", audit_id)).fetchone()
    if row is None or row[5] is None:
        return {"error": "not_found"}, 404
    (_a, reference, audit_version, issued, team_role, _q, key, answer_id, version, old_verdict,
     old_note, replay_audit, replay_result) = row
    if replay_audit is not None:
        result = json.loads(replay_result) if isinstance(replay_result, str) else replay_result
        return jsonify(answer=result, replayed=True)
    if team_role not in AUDITING_TEAM_ROLES:
        return {"error": "forbidden"}, 403
    if issued is not None:
        return {"error": "frozen"}, 409
    stored_verdict = verdict.upper() if isinstance(verdict, str) else None
    current = version or 0
    if base_version != current:
        return jsonify(error="conflict", current={"version": current}), 409
    now = dt.datetime.now(dt.UTC)
    payload = {"question_id": question_id, "verdict": verdict, "value": None, "note": note,
               "version": current + 1, "answered_by": user["name"], "answered_at": now.isoformat()}
    at = _stored_time(conn, now)
    lite = isinstance(conn, sqlite3.Connection)
    if lite:
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.execute("BEGIN")
    try:
        if answer_id is None:
            cur = _run(conn, "INSERT INTO checklist_answers (audit_id, question_id, verdict, note, version, "
                       "answered_by_id, answered_at) SELECT ?, ?, ?, ?, 1, ?, ? WHERE EXISTS "
                       "(SELECT 1 FROM audits WHERE id = ? AND version_id = ?) RETURNING id",
                       (audit_id, question_id, stored_verdict, note, user["id"], at, audit_id, audit_version))
            inserted = cur.fetchone()
            answer_id = inserted[0] if inserted else None
            if answer_id is None:
                conn.execute("ROLLBACK")
                return jsonify(error="conflict", current={"version": current}), 409
        else:
            cur = _run(conn, "UPDATE checklist_answers SET verdict = ?, note = ?, version = ?, "
                       "answered_by_id = ?, answered_at = ? WHERE id = ? AND version = ? AND EXISTS "
                       "(SELECT 1 FROM audits WHERE id = ? AND version_id = ?)",
                       (stored_verdict, note, current + 1, user["id"], at, answer_id, current, audit_id,
                        audit_version))
        if answer_id is None or (version is not None and cur.rowcount != 1):
            conn.execute("ROLLBACK")
            return jsonify(error="conflict", current={"version": current}), 409
        changes = {"verdict": [old_verdict, stored_verdict], "note": [old_note, note]}
        _run(conn, "INSERT INTO trail_entries (at, actor_id, action, object_type, object_id, summary, changes) "
             "VALUES (?, ?, 'update', 'ChecklistAnswer', ?, ?, {J})",
             (at, user["id"], answer_id or 0, f"Changed answer {key} in {reference}", json.dumps(changes)))
        if mutation_id:
            _run(conn, "INSERT INTO applied_mutations (mutation_id, audit_id, kind, user_id, result, applied_at) "
                 "VALUES (?, ?, 'answer', ?, {J}, ?)", (mutation_id, audit_id, user["id"], json.dumps(payload), at))
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return jsonify(answer=payload, replayed=False)


@app.get("/same/page")
def same_page():
    """A signed-in page reading ``rows`` rows in ``statements`` statements, ``size`` bytes long."""
    user = _session_user()
    if user is None:
        return "login", 401
    rows_wanted = request.args.get("rows", 50, type=int)
    statements = max(2, request.args.get("statements", 2, type=int))
    size = request.args.get("size", 0, type=int)
    per = max(1, math.ceil(rows_wanted / (statements - 1)))
    rows: list = []
    for i in range(statements - 1):
        take = max(0, min(per, rows_wanted - len(rows)))
        start = (i * per) % ROWS_IN_TABLE
        rows += _run(_conn(), "SELECT id, name, status FROM rows WHERE id > ? ORDER BY id LIMIT ?",
                     (start, take)).fetchall()
    html = render_template_string(PAGE, title="Same-work baseline", user=user["name"], rows=rows)
    pad = size - len(html.encode("utf-8"))
    if pad > 9:
        html += "<!--" + "x" * (pad - 7) + "-->"
    return html


FEED_FRESHNESS = """
SELECT t.id, t.revoked_at, u.is_active, count(a.id), sum(a.id), sum(a.id * a.version_id), max(a.updated_at)
FROM calendar_tokens t JOIN users u ON u.id = t.user_id
LEFT JOIN audits a ON a.programme_id = t.target_id AND a.status <> 'POSTPONED'
     AND (a.status <> 'CANCELLED' OR a.cancelled_at >= ?)
     AND ((a.starts_at IS NOT NULL AND a.starts_at < ? AND a.ends_at >= ?)
          OR (a.starts_at IS NULL AND a.planned_date BETWEEN ? AND ?))
WHERE t.token_hash = ?
GROUP BY t.id, t.revoked_at, u.is_active"""


@app.get("/same/feed/<token>.ics")
def same_feed(token: str):
    """A programme feed's conditional GET: the token and the feed's freshness in one query."""
    conn = _app_conn()
    today = dt.date.today()
    start, end = today - dt.timedelta(days=90), today + dt.timedelta(days=549)
    lo = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), dt.UTC)
    since = dt.datetime.combine(today - dt.timedelta(days=14), dt.time(), dt.UTC)
    digest = hashlib.sha256(token.encode("ascii")).hexdigest()
    row = _run(conn, FEED_FRESHNESS, (_stored_time(conn, since), _stored_time(conn, hi), _stored_time(conn, lo),
                                      start, end, digest)).fetchone()
    if row is None or row[1] is not None or not row[2]:
        return Response(status=404)
    etag = '"' + hashlib.sha256(json.dumps([str(v) for v in row] + [today.isoformat()]).encode()).hexdigest() + '"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(b"", headers={"ETag": etag})


# --------------------------------------------------------------------------- floor


@app.put("/answers/<int:audit_id>/<int:question_id>")
def upsert(audit_id: int, question_id: int):
    """Parse JSON, upsert one row in a write transaction, answer JSON: an answer save's core."""
    data = request.get_json()
    conn = _conn()
    if _sqlite():
        conn.execute("BEGIN IMMEDIATE")
    _run(conn, "INSERT INTO answers VALUES (?, ?, ?, ?, 1) ON CONFLICT (audit_id, question_id) DO UPDATE "
         "SET verdict = excluded.verdict, note = excluded.note, version = answers.version + 1",
         (audit_id, question_id, data.get("verdict"), data.get("note")))
    if _sqlite():
        conn.execute("COMMIT")
    return {"ok": True}


@app.get("/page")
def page():
    """One query for ``n`` rows and a plain Jinja table: a list page's unavoidable work."""
    n = request.args.get("n", 50, type=int)
    rows = _run(_conn(), "SELECT id, name, status FROM rows ORDER BY id LIMIT ?", (n,)).fetchall()
    return render_template_string(PAGE, title="Baseline", user="-", rows=rows)


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
