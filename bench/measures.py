"""The measurements: each a small pluggable entry that says what it needs and how to run.

An entry's ``needs(ctx)`` returns None when it can run, or the reason it cannot ("not available
yet: ..."), which becomes a row of the table instead of a crash. ``run(ctx)`` returns a
``Result``: the application's series and, side by side, the bare baseline's series doing the
least the same work needs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import transfer
from bench.harness import Session, Stats, concurrent_series, request, timed_series

#: Requests per page measurement, and seconds per concurrent measurement (kept modest so the
#: whole bench stays under 15 minutes on 2 cores).
PAGE_REQUESTS = 60
SAVE_SECONDS = 4.0
SAVE_CLIENTS = 16


@dataclass
class Result:
    """The figures of one measurement at one scale on one database."""

    app: Stats | None = None
    base: Stats | None = None
    notes: list[str] = field(default_factory=list)
    #: A single number instead of latencies (memory), with its unit.
    value: float | None = None
    base_value: float | None = None
    unit: str = "ms"
    skipped: str | None = None


@dataclass
class Context:
    """What a measurement can use: ports, the database, and facts about the app."""

    db: object  # harness.Database
    app_port: int
    base_port: int
    rules: list[tuple[str, frozenset, str]]  #: (rule, methods, endpoint)
    facts: dict  #: ids and counts read from the database (see bench.__main__.facts)
    app_server: object = None
    base_server: object = None
    sessions: dict = field(default_factory=dict)

    def find_rule(self, pattern: str, method: str = "GET") -> str | None:
        for rule, methods, _endpoint in self.rules:
            if method in methods and re.search(pattern, rule):
                return rule
        return None

    def session(self, email: str) -> Session:
        if email not in self.sessions:
            s = Session(self.app_port)
            s.login(email, self.facts["password"])
            self.sessions[email] = s
        return self.sessions[email]


def fill(rule: str, **values) -> str:
    """``/audits/<int:audit_id>/x`` → ``/audits/7/x``."""
    def sub(match):
        name = match.group(1).split(":")[-1]
        return str(values[name])
    return re.sub(r"<([^>]+)>", sub, rule)


def _page(ctx: Context, session: Session, path: str, base_rows: int, *, n: int = PAGE_REQUESTS) -> Result:
    def app_call():
        status, _h, body = session.get(path)
        return status == 200, len(body)

    def base_call():
        status, _h, body = request(ctx.base_port, "GET", f"/page?n={base_rows}")
        return status == 200, len(body)

    app_call()  # warm each worker's caches before timing
    return Result(app=timed_series(app_call, n), base=timed_series(base_call, n),
                  notes=[f"{{bytes}} B page, baseline {base_rows} rows"])


@dataclass
class Measure:
    name: str
    needs: Callable[[Context], str | None]
    run: Callable[[Context], Result]
    #: "flat" for pages, "linear" for feeds/planner: how it may grow from scale 1 to the largest.
    growth: str = "flat"


# --------------------------------------------------------------------------- answer save

ANSWER_RULE = r"^/api/audits/<[^>]*audit_id>/answers/<[^>]*question_id>$"


def _needs_answer_save(ctx: Context) -> str | None:
    if not ctx.find_rule(ANSWER_RULE, "PUT"):
        return "not available yet: no PUT /api/audits/<audit_id>/answers/<question_id> route"
    if not ctx.facts.get("answerable"):
        return "not available yet: demo data has no audit with checklist questions and an auditor"
    return None


def _run_answer_save(ctx: Context) -> Result:
    rule = ctx.find_rule(ANSWER_RULE, "PUT")
    target = ctx.facts["answerable"]
    session = ctx.session(target["auditor"])
    questions = target["questions"]
    _status, _h, data = session.get(f"/api/audits/{target['audit_id']}/answers")
    known = {a["question_id"]: a["version"] for a in json.loads(data).get("answers", [])} if _status == 200 else {}

    versions: dict = dict(known)

    def make_app_call(i):
        # Each client owns its own questions and sends the version it last saw: real saves,
        # not conflicts (a 409 would still count as answered, but measures less work).
        mine = questions[i::SAVE_CLIENTS] or questions
        counter = iter(range(10**9))

        def call():
            q = mine[next(counter) % len(mine)]
            body = json.dumps({"verdict": "conforming", "note": f"bench {i} {uuid.uuid4().hex[:6]}",
                               "base_version": versions.get(q, 0),
                               "mutation_id": str(uuid.uuid4())}).encode()
            status, _h, data = session.send(
                "PUT", fill(rule, audit_id=target["audit_id"], question_id=q), body,
                "application/json", {"X-CSRFToken": session.csrf or ""})
            if status == 200:
                versions[q] = json.loads(data)["answer"]["version"]
            elif status == 409:
                versions[q] = (json.loads(data).get("current") or {}).get("version", 0)
            return status == 200, 0
        return call

    def make_base_call(i):
        counter = iter(range(10**9))

        def call():
            mine = questions[i::SAVE_CLIENTS] or questions
            q = mine[next(counter) % len(mine)]
            body = json.dumps({"verdict": "conforming", "note": f"bench {i}"}).encode()
            status, _h, _b = request(ctx.base_port, "PUT", f"/answers/{target['audit_id']}/{q}", body,
                                     {"Content-Type": "application/json"})
            return status == 200, 0
        return call

    app = concurrent_series(make_app_call, SAVE_CLIENTS, SAVE_SECONDS)
    base = concurrent_series(make_base_call, SAVE_CLIENTS, SAVE_SECONDS)
    return Result(app=app, base=base, notes=[
        f"{app.throughput:.0f} saves/s vs {base.throughput:.0f}/s at {SAVE_CLIENTS} clients, "
        f"{app.errors} errors"])


# --------------------------------------------------------------------------- pages


def _page_measure(name: str, pattern: str, fact: str, who: str, *, arg: str | None = None,
                  rows_fact: str | None = None) -> Measure:
    """A GET page found by ``pattern`` in the URL map, filled with ``facts[fact]``."""

    def needs(ctx: Context) -> str | None:
        if not ctx.find_rule(pattern):
            return f"not available yet: no GET route matching {pattern}"
        if arg and not ctx.facts.get(fact):
            return f"not available yet: demo data has no {fact}"
        return None

    def run(ctx: Context) -> Result:
        rule = ctx.find_rule(pattern)
        path = fill(rule, **{a: ctx.facts[fact] for a in re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)}) if arg else rule
        rows = ctx.facts.get(rows_fact, 50) if rows_fact else 50
        result = _page(ctx, ctx.session(ctx.facts["users"][who]), path, rows)
        result.notes = [n.replace("{bytes}", str(result.app.bytes)) for n in result.notes]
        return result

    return Measure(name, needs, run)


def _reference_page() -> Measure:
    """A page that exists from the start (sites list), so the harness proves itself end to end."""
    return _page_measure("reference: sites list", r"^/organisation/sites/$", "", "coordinator",
                         rows_fact="sites")


# --------------------------------------------------------------------------- feeds

FEED_PATTERN = r"(feed|calendar|\.ics)"


def _feed_rule(ctx: Context) -> str | None:
    for rule, methods, _e in ctx.rules:
        if "GET" in methods and re.search(FEED_PATTERN, rule) and "<" in rule and "token" in rule:
            return rule
    return None


def _needs_feed(ctx: Context) -> str | None:
    if not _feed_rule(ctx):
        return "not available yet: no token calendar feed route"
    if not ctx.facts.get("feed_path"):
        return "not available yet: no coordinator feed token in the demo data"
    return None


def _run_feed(ctx: Context, conditional: bool) -> Result:
    path = ctx.facts["feed_path"]
    status, headers, body = request(ctx.app_port, "GET", path)
    events = body.count(b"BEGIN:VEVENT")
    etag = headers.get("etag", "")
    base_etag = request(ctx.base_port, "GET", f"/ical?n={events}")[1].get("etag", "")

    def app_call():
        h = {"If-None-Match": etag} if conditional else {}
        s, _h, b = request(ctx.app_port, "GET", path, headers=h)
        return s == (304 if conditional else 200), len(b)

    base_path = f"/ical-etag?n={events}" if conditional else f"/ical?n={events}"
    if conditional:
        base_etag = request(ctx.base_port, "GET", base_path)[1].get("etag", "")

    def base_call():
        h = {"If-None-Match": base_etag} if conditional else {}
        s, _h, b = request(ctx.base_port, "GET", base_path, headers=h)
        return s == (304 if conditional else 200), len(b)

    n = PAGE_REQUESTS
    result = Result(app=timed_series(app_call, n), base=timed_series(base_call, n),
                    notes=[f"{events} events, {len(body)} B" + (", ETag" if etag else ", no ETag!")])
    return result


# --------------------------------------------------------------------------- planner


def _needs_planner(ctx: Context) -> str | None:
    try:
        from audit.programme.planner import propose_plan  # noqa: F401
    except ImportError:
        return "not available yet: no audit.programme.planner.propose_plan"
    if not ctx.facts.get("programme_id"):
        return "not available yet: demo data has no programme with audits"
    return None


#: (database kind) → [(scale, audits to place, planner p50 seconds)], filled as scales run in
#: ascending order, so the largest scale's notes can report growth against the smallest.
PLANNER_GROWTH: dict[str, list[tuple[int, int, float]]] = {}


def planner_growth_note(history: list[tuple[int, int, float]]) -> str:
    """``to place: s1 12, s10 120; time ×8.10 for ×10.00 audits (time/audits 0.81)``: the issue's
    "growth no worse than growth in audits to place" holds when the last figure is ≤ 1."""
    parts = "to place: " + ", ".join(f"s{scale} {count}" for scale, count, _ in history)
    (_, first_count, first_p50), (_, last_count, last_p50) = history[0], history[-1]
    if len(history) < 2 or not first_count or not first_p50:
        return parts
    time_growth, audit_growth = last_p50 / first_p50, last_count / first_count
    return (f"{parts}; planner time ×{time_growth:.2f} for ×{audit_growth:.2f} audits to place "
            f"(time growth / audit growth {time_growth / audit_growth:.2f}, ≤ 1 is no worse)")


def _run_planner(ctx: Context) -> Result:
    """The planner proposing dates and teams for the largest programme (read-only), vs rrule alone."""
    import datetime as dt
    import time

    from dateutil.rrule import MONTHLY, rrule

    from audit import create_app
    from audit.extensions import db
    from audit.models import Programme
    from audit.programme.planner import propose_plan

    app = create_app()
    app_stats, base_stats = Stats(), Stats()
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        programme = db.session.get(Programme, ctx.facts["programme_id"])
        rules = len(getattr(programme, "rules", []) or []) or 1
        placed = unplaced = 0
        for _ in range(5):
            t0 = time.perf_counter()
            proposals, not_placed = propose_plan(programme, now=now)
            app_stats.latencies.append(time.perf_counter() - t0)
            placed, unplaced = len(proposals), len(not_placed)
            db.session.rollback()
        audits = ctx.facts.get("audits_in_programme", 10)
        for _ in range(5):
            t0 = time.perf_counter()
            slots = [{"start": d, "rule": i % rules} for i, d in enumerate(
                rrule(MONTHLY, dtstart=now, count=max(1, audits)))]
            base_stats.latencies.append(time.perf_counter() - t0)
            assert slots
        db.session.remove()
        db.engine.dispose()
    history = PLANNER_GROWTH.setdefault(ctx.db.kind, [])
    history.append((ctx.db.scale, placed + unplaced, app_stats.p50))
    return Result(app=app_stats, base=base_stats,
                  notes=[f"propose_plan: {placed} proposed, {unplaced} unplaceable, programme of "
                         f"{ctx.facts.get('audits_in_programme')} audits (in-process, read-only); "
                         "baseline: dateutil rrule for as many dates",
                         planner_growth_note(history)])


# --------------------------------------------------------------------------- memory


def _run_memory(ctx: Context) -> Result:
    app = ctx.app_server.worker_rss_mib()
    base = ctx.base_server.worker_rss_mib()
    return Result(value=max(app) if app else float("nan"), base_value=max(base) if base else float("nan"),
                  unit="MiB", notes=[f"max RSS of {len(app)} workers after the run"])


MEASURES: list[Measure] = [
    Measure("checklist answer save (16 clients)", _needs_answer_save, _run_answer_save),
    _page_measure("checklist page", r"^/audits/<[^>]+>/checklist", "audit_id", "auditor_on_audit",
                  arg="audit_id", rows_fact="questions_per_audit"),
    _page_measure("coordinator programme page", r"^/programmes?/<[^>]+>/?$", "programme_id", "coordinator",
                  arg="programme_id", rows_fact="audits_in_programme"),
    _page_measure("findings list", r"^/findings/?$", "", "coordinator", rows_fact="findings"),
    _page_measure("dashboard", r"dashboard", "", "coordinator", rows_fact="findings"),
    Measure("coordinator feed full", _needs_feed, lambda ctx: _run_feed(ctx, False), growth="linear"),
    Measure("coordinator feed 304", _needs_feed, lambda ctx: _run_feed(ctx, True)),
    Measure("planner on the scaled programme", lambda ctx: _needs_planner(ctx), lambda ctx: _run_planner(ctx),
            growth="linear"),
    _reference_page(),
    transfer.measure(),
    # memory last: it reads the workers after everything above has run through them
    Measure("worker memory (RSS)", lambda ctx: None, _run_memory),
]
for _m in MEASURES:
    if _m.name.startswith("planner"):
        _m.growth = "linear"
