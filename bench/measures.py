"""The measurements: each a small pluggable entry that says what it needs and how to run.

An entry's ``needs(ctx)`` returns None when it can run, or the reason it cannot ("not available
yet: ..."), which becomes a row of the table instead of a crash. ``run(ctx)`` returns a
``Result``: the application's series and, side by side, the bare baseline's series doing the
least the same work needs.
"""

from __future__ import annotations

import json
import re
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import transfer
from bench.harness import (
    WARMUP_CALLS,
    Session,
    Stats,
    interleaved_concurrent,
    interleaved_series,
    request,
)

#: Requests per page measurement, and seconds per concurrent measurement (kept modest so the
#: whole bench stays under 15 minutes on 2 cores).
PAGE_REQUESTS = 60
#: Conditional feed requests per series (each is cheap; more of them steady the median).
CONDITIONAL_REQUESTS = 200
#: Seconds of saves per target, in turns with the baselines (SAVE_TURNS turns of each).
SAVE_SECONDS = 6.0
SAVE_TURNS = 3
SAVE_CLIENTS = 16
#: Renders per in-process feed render measurement (cold ones clear every cache first).
RENDER_COLD = 21
RENDER_WARM = 30
#: Times each measured page is served again by the --preload server before its memory is read.
PRELOAD_ROUNDS = 6
#: Rounds of each HTTP measure, taken in turns across the scales (1, 10, 50, 50, 10, 1, ...):
#: measured one scale after the other, a busy minute at one scale read as growth (the findings
#: list's scale 10 came out slower than its scale 50). Each round does 1/ROUNDS of the requests.
ROUNDS = 3


@dataclass
class Result:
    """The figures of one measurement at one scale on one database."""

    app: Stats | None = None
    #: The floor: the physical minimum (bare upsert, one query, a stored ETag).
    base: Stats | None = None
    notes: list[str] = field(default_factory=list)
    #: The same-work baseline: the same request with the least machinery (bench/baseline_app.py).
    same: Stats | None = None
    #: SQL statements per request: {"app": n, "same": n, "floor": n} (medians of the series).
    statements: dict = field(default_factory=dict)
    #: A single number instead of latencies (memory), with its unit.
    value: float | None = None
    base_value: float | None = None
    unit: str = "ms"
    skipped: str | None = None

    def merge(self, later: Result) -> Result:
        """This round's figures with a later round's of the same measure and scale: the
        latencies of both, errors and wall time added; counts, notes and values of the later."""
        for name in ("app", "base", "same"):
            mine, theirs = getattr(self, name), getattr(later, name)
            if mine is None or theirs is None:
                setattr(self, name, theirs if mine is None else mine)
                continue
            mine.latencies.extend(theirs.latencies)
            mine.errors += theirs.errors
            mine.wall += theirs.wall
            mine.bytes = theirs.bytes
        self.statements = later.statements or self.statements
        self.notes = later.notes
        self.value, self.base_value, self.unit = later.value, later.base_value, later.unit
        return self


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
    #: (e-mail, path) of every page measured, replayed by the --preload memory measure.
    visited: list = field(default_factory=list)
    #: The part of a measure's requests this run makes (1 / rounds when it runs in rounds).
    share: float = 1.0

    def portion(self, count: int) -> int:
        """``count`` requests scaled to this run's share (at least one)."""
        return max(1, round(count * self.share))

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


def _count(headers: dict) -> int | None:
    value = headers.get("x-bench-statements")
    return int(value) if value is not None and value.isdigit() else None


class Counted:
    """Statement counts seen in a series' responses; ``median`` for the table."""

    def __init__(self):
        self.seen: list[int] = []

    def add(self, headers: dict) -> None:
        n = _count(headers)
        if n is not None:
            self.seen.append(n)

    @property
    def median(self) -> float | None:
        return statistics.median(self.seen) if self.seen else None


def _page(ctx: Context, session: Session, path: str, base_rows: int) -> Result:
    """The app's page, the same-work page (same rows, statements and bytes) and the floor table."""
    # The first view of a session also works out its navigation badge, kept in the session for
    # a minute (core.todo), and each worker's first view fills what it keeps (statements,
    # published checklists): the page as a person browsing sees it comes after every worker
    # has served it, and its statements and rows are what the same-work baseline repeats.
    for _ in range(WARMUP_CALLS):
        session.get(path)
    _s, headers, body = session.get(path)
    rows = int(headers.get("x-bench-rows", "0") or 0)
    statements = _count(headers) or 1
    same_path = f"/same/page?rows={rows}&statements={statements}&size={len(body)}"
    counts = {"app": Counted(), "same": Counted(), "floor": Counted()}

    def app_call():
        status, h, body = session.get(path)
        counts["app"].add(h)
        return status == 200, len(body)

    def same_call():
        status, h, body = request(ctx.base_port, "GET", same_path, headers=session._headers())
        counts["same"].add(h)
        return status == 200, len(body)

    def base_call():
        status, h, body = request(ctx.base_port, "GET", f"/page?n={base_rows}")
        counts["floor"].add(h)
        return status == 200, len(body)

    same_call()
    app_stats, same_stats, base_stats = interleaved_series([app_call, same_call, base_call],
                                                           ctx.portion(PAGE_REQUESTS))
    result = Result(app=app_stats, same=same_stats, base=base_stats,
                    notes=[f"{{bytes}} B page, {rows} rows read; same-work "
                           f"{{same_bytes}} B; floor {base_rows} rows"])
    result.statements = {k: c.median for k, c in counts.items()}
    return result


@dataclass
class Measure:
    name: str
    needs: Callable[[Context], str | None]
    run: Callable[[Context], Result]
    #: "flat" for pages, "linear" for feeds/planner: how it may grow from scale 1 to the largest.
    growth: str = "flat"
    #: Rounds taken in turns across the scales; 1 for measures that take turns inside
    #: themselves (in-process renders), remember history (planner) or read a state (memory).
    rounds: int = ROUNDS
    #: Called on the merged result of all rounds (notes that quote the merged figures).
    finish: Callable[[Result], None] | None = None


# --------------------------------------------------------------------------- answer save

ANSWER_RULE = r"^/api/audits/<[^>]*audit_id>/answers/<[^>]*question_id>$"


def _needs_answer_save(ctx: Context) -> str | None:
    if not ctx.find_rule(ANSWER_RULE, "PUT"):
        return "not available yet: no PUT /api/audits/<audit_id>/answers/<question_id> route"
    if not ctx.facts.get("answerable"):
        return "not available yet: demo data has no audit with checklist questions and an auditor"
    return None


def _run_answer_save(ctx: Context) -> Result:
    """16 clients saving answers: the app, the same-work raw-SQL save, and the bare upsert."""
    rule = ctx.find_rule(ANSWER_RULE, "PUT")
    target = ctx.facts["answerable"]
    session = ctx.session(target["auditor"])
    questions = target["questions"]
    _status, _h, data = session.get(f"/api/audits/{target['audit_id']}/answers")
    known = {a["question_id"]: a["version"] for a in json.loads(data).get("answers", [])} if _status == 200 else {}
    # One version map for the app and the same-work saves: both write the same answers.
    versions: dict = dict(known)
    counts = {"app": Counted(), "same": Counted(), "floor": Counted()}

    def make_save_call(port: int, path_of, which: str):
        def make(i):
            # Each client owns its own questions and sends the version it last saw: real saves,
            # not conflicts (a 409 counts as an error: it measures less work).
            mine = questions[i::SAVE_CLIENTS] or questions
            counter = iter(range(10**9))

            def call():
                q = mine[next(counter) % len(mine)]
                body = json.dumps({"verdict": "conforming", "note": f"bench {i} {uuid.uuid4().hex[:6]}",
                                   "base_version": versions.get(q, 0),
                                   "mutation_id": str(uuid.uuid4())}).encode()
                csrf = {"X-CSRFToken": session.csrf or ""}
                if port == ctx.app_port:  # keeps a refreshed session cookie, as a browser does
                    status, h, data = session.send("PUT", path_of(q), body, "application/json", csrf)
                else:
                    status, h, data = request(port, "PUT", path_of(q), body,
                                              session._headers({"Content-Type": "application/json", **csrf}))
                counts[which].add(h)
                if status == 200:
                    versions[q] = json.loads(data)["answer"]["version"]
                elif status == 409:
                    versions[q] = (json.loads(data).get("current") or {}).get("version", 0)
                return status == 200, 0
            return call
        return make

    def make_floor_call(i):
        counter = iter(range(10**9))

        def call():
            mine = questions[i::SAVE_CLIENTS] or questions
            q = mine[next(counter) % len(mine)]
            body = json.dumps({"verdict": "conforming", "note": f"bench {i}"}).encode()
            status, h, _b = request(ctx.base_port, "PUT", f"/answers/{target['audit_id']}/{q}", body,
                                    {"Content-Type": "application/json"})
            counts["floor"].add(h)
            return status == 200, 0
        return call

    audit_id = target["audit_id"]
    app, same, base = interleaved_concurrent(
        [make_save_call(ctx.app_port, lambda q: fill(rule, audit_id=audit_id, question_id=q), "app"),
         make_save_call(ctx.base_port, lambda q: f"/same/answers/{audit_id}/{q}", "same"),
         make_floor_call], SAVE_CLIENTS, SAVE_SECONDS * ctx.share, rounds=ctx.portion(SAVE_TURNS))
    result = Result(app=app, same=same, base=base)
    result.statements = {k: c.median for k, c in counts.items()}
    _save_notes(result)
    return result


def _save_notes(result: Result) -> None:
    """The save's notes, from its (merged) figures."""
    app, same, base = result.app, result.same, result.base
    result.notes = [f"{app.throughput:.0f} saves/s vs same-work {same.throughput:.0f}/s vs floor "
                    f"{base.throughput:.0f}/s at {SAVE_CLIENTS} clients; errors {app.errors} / "
                    f"{same.errors} / {base.errors}"]
    if same.errors or base.errors:
        # A baseline that refuses saves does less work: its numbers compare nothing.
        result.notes.append("WARNING: a baseline answered errors, so its ratios are not valid")


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
        ctx.visited.append((ctx.facts["users"][who], path))
        result = _page(ctx, ctx.session(ctx.facts["users"][who]), path, rows)
        result.notes = [n.replace("{bytes}", str(result.app.bytes)).replace("{same_bytes}", str(result.same.bytes))
                        for n in result.notes]
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
    """The feed over HTTP; for the 304 also the same-work token + freshness query."""
    path = ctx.facts["feed_path"]
    status, headers, body = request(ctx.app_port, "GET", path)
    events = body.count(b"BEGIN:VEVENT")
    etag = headers.get("etag", "")
    counts = {"app": Counted(), "same": Counted(), "floor": Counted()}

    def app_call():
        h = {"If-None-Match": etag} if conditional else {}
        s, rh, b = request(ctx.app_port, "GET", path, headers=h)
        counts["app"].add(rh)
        return s == (304 if conditional else 200), len(b)

    base_path = f"/ical-etag?n={events}" if conditional else f"/ical?n={events}"
    base_etag = request(ctx.base_port, "GET", base_path)[1].get("etag", "")

    def base_call():
        h = {"If-None-Match": base_etag} if conditional else {}
        s, rh, b = request(ctx.base_port, "GET", base_path, headers=h)
        counts["floor"].add(rh)
        return s == (304 if conditional else 200), len(b)

    notes = [f"{events} events, {len(body)} B" + (", ETag" if etag else ", no ETag!")
             + ("" if conditional else "; floor: icalendar alone on as many events")]
    if not conditional:
        app_stats, base_stats = interleaved_series([app_call, base_call], ctx.portion(PAGE_REQUESTS))
        result = Result(app=app_stats, base=base_stats, notes=notes)
    else:
        same_path = path.replace("/calendar/feed/", "/same/feed/", 1)
        same_etag = request(ctx.base_port, "GET", same_path)[1].get("etag", "")

        def same_call():
            s, rh, b = request(ctx.base_port, "GET", same_path, headers={"If-None-Match": same_etag})
            counts["same"].add(rh)
            return s == 304, len(b)

        # A 304 takes a millisecond or two: more of them for a steady median.
        app_stats, same_stats, base_stats = interleaved_series([app_call, same_call, base_call],
                                                               ctx.portion(CONDITIONAL_REQUESTS))
        result = Result(app=app_stats, same=same_stats, base=base_stats, notes=notes)
        result.notes.append("same-work: token and freshness in one query; floor: a stored ETag compared")
    result.statements = {k: c.median for k, c in counts.items()}
    return result


def _run_render(ctx: Context, cold: bool) -> Result:
    """The coordinator feed's events rendered in-process: icalendar + fragment cache (the
    product) against the hand-written writer it replaced (bench/handwritten_ical.py), cold
    (every cache cleared before each render) or warm (fragments cached)."""
    import time

    from audit import create_app
    from audit.calendar import feeds, ical, services, vtext, zones
    from audit.extensions import db
    from audit.models import utcnow
    from bench import handwritten_ical

    app = create_app()
    with app.app_context():
        token = services.find_active_token(ctx.facts["feed_path"].rsplit("/", 1)[1][: -len(".ics")])
        target = feeds.load_target(token.kind, token.target_id)
        feed = feeds.build_feed(token.kind, target, token.user, day=utcnow().date(), links=feeds.Links(app),
                                org_name=app.config.get("ORGANISATION_NAME", "Audits"))
        db.session.remove()
        db.engine.dispose()

    def clear_product():
        ical.fragments.clear()
        vtext.clear_caches()
        for cached in (zones.vtimezone, zones.zone_of, ical._head):
            cached.cache_clear()

    writers = ((ical.render_feed, clear_product), (handwritten_ical.render_feed, handwritten_ical.clear_caches))
    product, written = Stats(), Stats()
    for render, _clear in writers:
        render(feed)  # warm imports; a cold series clears every cache below anyway
    # The two writers take turns, so both meet the machine in the same state.
    for _ in range(RENDER_COLD if cold else RENDER_WARM):
        for (render, clear), stats in zip(writers, (product, written), strict=True):
            if cold:
                clear()
            t0 = time.perf_counter()
            stats.bytes = len(render(feed))
            stats.latencies.append(time.perf_counter() - t0)
    for stats in (product, written):
        stats.wall = sum(stats.latencies)
    return Result(app=product, same=written, notes=[
        f"{len(feed.events)} events, {product.bytes} B vs {written.bytes} B; same-work = the hand-written "
        f"RFC 5545 writer replaced by icalendar (issue 16 asks ≤ 1.0×); in-process, "
        + ("every cache cleared before each render" if cold else "fragments cached")])


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


def _memory_result(app: list[dict], base: list[dict], note: str) -> Result:
    worst = max(app, key=lambda m: m["uss"]) if app else {"uss": float("nan"), "pss": float("nan"),
                                                            "rss": float("nan")}
    return Result(value=worst["uss"], base_value=max((m["uss"] for m in base), default=float("nan")),
                  unit="MiB", notes=[f"largest private (USS) of {len(app)} workers; its PSS {worst['pss']:.0f} "
                                     f"MiB, RSS {worst['rss']:.0f} MiB; baseline = the baseline app's workers; {note}"])


def _run_memory(ctx: Context) -> Result:
    """Worker memory of the app as served for the whole run (no --preload)."""
    return _memory_result(ctx.app_server.worker_memory_mib(), ctx.base_server.worker_memory_mib(),
                          "after every measure above")


def _run_memory_preload(ctx: Context) -> Result:
    """The same app under ``gunicorn --preload``, after every page measured above was served
    again (each path ``PRELOAD_ROUNDS`` times), so each worker has touched what it serves."""
    from bench.harness import Server

    # Each round of a page measure noted its page: serve each page once per pass.
    visited = list(dict.fromkeys(ctx.visited)) or [
        (next(iter(ctx.sessions), None) or ctx.facts["users"]["coordinator"], "/")]
    with Server(ctx.app_server.target, ctx.app_server.env, preload=True, name="app-preload") as server:
        sessions: dict = {}
        for email, _path in visited:
            if email not in sessions:
                sessions[email] = Session(server.port)
                sessions[email].login(email, ctx.facts["password"])
        for _ in range(PRELOAD_ROUNDS):
            for email, path in visited:
                sessions[email].get(path)
        return _memory_result(server.worker_memory_mib(), ctx.base_server.worker_memory_mib(),
                              f"--preload, each page served {PRELOAD_ROUNDS}×")


MEASURES: list[Measure] = [
    Measure("checklist answer save (16 clients)", _needs_answer_save, _run_answer_save, finish=_save_notes),
    _page_measure("checklist page", r"^/audits/<[^>]+>/checklist", "audit_id", "auditor_on_audit",
                  arg="audit_id", rows_fact="questions_per_audit"),
    _page_measure("coordinator programme page", r"^/programmes?/<[^>]+>/?$", "programme_id", "coordinator",
                  arg="programme_id", rows_fact="audits_in_programme"),
    _page_measure("findings list", r"^/findings/?$", "", "coordinator", rows_fact="findings"),
    _page_measure("dashboard", r"dashboard", "", "coordinator", rows_fact="findings"),
    Measure("coordinator feed full", _needs_feed, lambda ctx: _run_feed(ctx, False), growth="linear"),
    Measure("coordinator feed 304", _needs_feed, lambda ctx: _run_feed(ctx, True)),
    Measure("feed render cold: icalendar vs hand-written", _needs_feed, lambda ctx: _run_render(ctx, True),
            growth="linear", rounds=1),
    Measure("feed render warm: icalendar vs hand-written", _needs_feed, lambda ctx: _run_render(ctx, False),
            growth="linear", rounds=1),
    Measure("planner on the scaled programme", lambda ctx: _needs_planner(ctx), lambda ctx: _run_planner(ctx),
            growth="linear", rounds=1),
    _reference_page(),
    transfer.measure(),
    # memory last: it reads the workers after everything above has run through them
    Measure("worker private memory (USS)", lambda ctx: None, _run_memory, rounds=1),
    Measure("worker private memory, gunicorn --preload", lambda ctx: None, _run_memory_preload, rounds=1),
]
