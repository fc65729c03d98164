"""``make bench``: demo data at several scales, the app under gunicorn, ONE results table.

    .venv/bin/python -m bench [--scales 1,10,50] [--databases sqlite,postgresql] [--only NAMES] [--write]

For each database kind (PostgreSQL only when 127.0.0.1:5432 answers) and scale it builds a fresh
database (migrations + ``flask demo-data --scale N``), starts the application and the bare
baseline (bench/baseline_app.py) under the same gunicorn settings, runs every entry of
``bench.measures.MEASURES`` side by side, and prints one Markdown table on stdout (progress on
stderr). ``--write`` also stores it as bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import sys
import time

from bench import harness
from bench.harness import ROOT, Server, Stats, build_database, log, postgres_reachable
from bench.measures import MEASURES, ROUNDS, Context, Result


def app_rules(db) -> list[tuple[str, frozenset, str]]:
    """The application's URL map, read in-process against the bench database."""
    os.environ.update({k: v for k, v in db.env().items() if k.startswith(("AUDIT_", "DATABASE_URL"))})
    from audit import create_app

    app = create_app()
    return [(r.rule, frozenset(r.methods or ()), r.endpoint) for r in app.url_map.iter_rules()]


def facts(db) -> dict:
    """Ids and counts the measurements need, read from the bench database."""
    from sqlalchemy import func, select

    from audit import create_app
    from audit.demo import DEMO_PASSWORD
    from audit.extensions import db as sqla
    from audit.models import Role, Site, User

    os.environ.update({k: v for k, v in db.env().items() if k.startswith(("AUDIT_", "DATABASE_URL"))})
    app = create_app()
    found: dict = {"password": DEMO_PASSWORD, "users": {}}
    with app.app_context():
        found["sites"] = sqla.session.scalar(select(func.count()).select_from(Site))
        for user in sqla.session.scalars(select(User).order_by(User.id)):
            for role in user.roles:
                found["users"].setdefault(role.value, user.email)
        found["users"].setdefault("auditor_on_audit", found["users"].get(Role.AUDITOR.value))
        for probe in PROBES:
            try:
                probe(sqla.session, found)
            except Exception as exc:  # noqa: BLE001 - a feature not there yet is not an error
                sqla.session.rollback()
                log(f"facts: {probe.__name__} not available ({exc.__class__.__name__}: {str(exc)[:100]})")
        sqla.engine.dispose()
    return found


def _probe_answerable(session, found: dict) -> None:
    """An audit with checklist questions and an auditor on its team (for answer saves)."""
    from sqlalchemy import select

    from audit.conduct import access
    from audit.models import Audit

    for audit in session.scalars(select(Audit).order_by(Audit.id)):
        try:
            access.require_not_frozen(audit)
        except Exception:  # noqa: BLE001 - an issued report cannot be answered
            continue
        questions = _audit_question_ids(session, audit)
        auditors = [m.user.email for m in audit.team if access.can_answer(audit, m.user)]
        if questions and auditors:
            found["answerable"] = {"audit_id": audit.id, "questions": questions, "auditor": auditors[0]}
            found["audit_id"] = audit.id
            found["questions_per_audit"] = len(questions)
            found["users"]["auditor_on_audit"] = auditors[0]
            return


def _audit_question_ids(session, audit) -> list[int]:
    """The checklist question ids of ``audit`` (through its template version, however linked)."""
    from sqlalchemy import select

    from audit.models import AnswerType, ChecklistQuestion

    version_id = getattr(audit, "checklist_version_id", None) or getattr(audit, "template_version_id", None)
    if version_id is None:
        return []
    from audit.models import ChecklistSection

    stmt = (select(ChecklistQuestion.id).join(ChecklistSection)
            .where(ChecklistSection.version_id == version_id,
                   ChecklistQuestion.answer_type == AnswerType.VERDICT).order_by(ChecklistQuestion.id))
    return list(session.scalars(stmt))


def _probe_programme(session, found: dict) -> None:
    from sqlalchemy import func, select

    from audit.models import Audit, Programme

    row = session.execute(
        select(Programme.id, func.count(Audit.id)).join(Audit, Audit.programme_id == Programme.id)
        .group_by(Programme.id).order_by(func.count(Audit.id).desc()).limit(1)
    ).first()
    if row:
        found["programme_id"], found["audits_in_programme"] = row


def _probe_findings(session, found: dict) -> None:
    from sqlalchemy import func, select

    from audit.models import Finding

    found["findings"] = session.scalar(select(func.count()).select_from(Finding))


def _probe_feed(session, found: dict) -> None:
    """A programme feed token for the coordinator (the secret is only known at creation)."""
    import datetime as dt

    from sqlalchemy import select

    from audit.calendar.services import create_token, feed_path
    from audit.models import FeedKind, User

    if not found.get("programme_id"):
        return
    coordinator = session.scalar(select(User).where(User.email == found["users"]["coordinator"]))
    _token, secret = create_token(coordinator, FeedKind.PROGRAMME, found["programme_id"], "bench",
                                  actor=coordinator, now=dt.datetime.now(dt.UTC))
    session.commit()
    found["feed_path"] = feed_path(secret)


PROBES = [_probe_answerable, _probe_programme, _probe_findings, _probe_feed]


# --------------------------------------------------------------------------- table


def _ms(x: float) -> str:
    return "—" if x is None or math.isnan(x) else (f"{x * 1000:.1f}" if x < 10 else f"{x * 1000:.0f}")


def _cell(result: Result | None) -> str:
    if result is None:
        return ""
    if result.skipped:
        return "—"
    if result.value is not None:
        return f"{result.value:.0f} {result.unit}"
    return f"{_ms(result.app.p50)} / {_ms(result.app.p99)}"


def _pair(stats: Stats | None) -> str:
    return "" if stats is None else f"{_ms(stats.p50)} / {_ms(stats.p99)}"


def _times(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if a == a and b and b == b else ""


def _per_s(stats: Stats | None) -> str:
    return "—" if stats is None or not stats.latencies or not stats.wall else f"{stats.throughput:.0f}"


def _n(value) -> str:
    return "—" if value is None else f"{value:g}"


HEAD = ["Measure", "DB", "{scales}", "same-work @{top} p50 / p99", "floor @{top} p50 / p99",
        "× same-work p50 / p99", "× floor p50", "req/s app / same-work / floor @{top}",
        "growth {low}→{top} (p50)", "statements/req app / same-work / floor", "notes"]


def render(results: dict, scales: list[int], databases: list[str], skipped: dict,
           measures: list | None = None) -> str:
    """ONE Markdown table: a row per (measure, database), scales side by side, then the
    same-work baseline and the floor at the largest scale, ratios to both, throughput, growth
    and SQL statements per request."""
    top, low = max(scales), min(scales)
    head = []
    for h in HEAD:
        if h == "{scales}":
            head += [f"scale {s} p50 / p99 (ms)" for s in scales]
        else:
            head.append(h.format(top=top, low=low))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    blank = [""] * (len(head) - len(scales) - 3)
    for measure in measures or MEASURES:
        for kind in databases:
            if (measure.name, kind) in skipped:
                lines.append("| " + " | ".join([measure.name, kind, *[""] * len(scales), *blank,
                                                skipped[(measure.name, kind)]]) + " |")
                continue
            per_scale = results.get((measure.name, kind), {})
            cells = [_cell(per_scale.get(s)) for s in scales]
            last, first = per_scale.get(top), per_scale.get(low)
            same = floor = x_same = x_floor = rate = growth = stmts = notes = ""
            if last and not last.skipped:
                if last.value is not None:
                    floor = f"{last.base_value:.0f} {last.unit}"
                    x_floor = _times(last.value, last.base_value)
                    if first and first.value:
                        growth = f"{last.value / first.value:.2f}×"
                else:
                    same, floor = _pair(last.same), _pair(last.base)
                    if last.same:
                        x_same = f"{_times(last.app.p50, last.same.p50)} / {_times(last.app.p99, last.same.p99)}"
                    if last.base:
                        x_floor = _times(last.app.p50, last.base.p50)
                    rate = " / ".join(_per_s(x) for x in (last.app, last.same, last.base))
                    if first and first.app and first.app.p50:
                        # The same-work baseline's own growth says how much of it the work brings.
                        same_growth = (f"same-work {last.same.p50 / first.same.p50:.2f}×; "
                                       if last.same and first.same and first.same.p50 else "")
                        growth = f"{last.app.p50 / first.app.p50:.2f}× ({same_growth}may: {measure.growth})"
                    errors = last.app.errors
                    if errors:
                        notes = f"**{errors} errors**; "
                if last.statements:
                    stmts = " / ".join(_n(last.statements.get(k)) for k in ("app", "same", "floor"))
                notes += "; ".join(last.notes)
            lines.append("| " + " | ".join([measure.name, kind, *cells, same, floor, x_same, x_floor, rate,
                                            growth, stmts, notes]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def _use_database(db) -> None:
    """Point in-process measures (``create_app()``) at ``db``: every scale is open at once."""
    os.environ.update({k: v for k, v in db.env().items() if k.startswith(("AUDIT_", "DATABASE_URL"))})


def open_scale(kind: str, scale: int, stack: contextlib.ExitStack) -> Context:
    """Build the database at ``scale``, start the app and its baseline on it (closed with
    ``stack``) and return the measures' context."""
    db = build_database(kind, scale)
    rules = app_rules(db)
    found = facts(db)
    base_url = (f"sqlite:///{db.instance}/baseline.db" if kind == "sqlite"
                else harness.fresh_postgres(f"audit_issue8_bench_base_s{scale}"))
    base_env = {**db.env(), "BASELINE_DATABASE_URL": base_url}
    import bench.baseline_app as baseline

    baseline.URL = base_url
    baseline._local.__dict__.clear()
    baseline.setup_schema()
    baseline._local.conn.close()
    baseline._local.__dict__.clear()
    # bench.counted_app is app:app plus the statement-count header (see its docstring).
    app_server = stack.enter_context(Server("bench.counted_app:app", db.env(), name=f"app-{kind}-{scale}"))
    base_server = stack.enter_context(Server("bench.baseline_app:app", base_env, name=f"base-{kind}-{scale}"))
    return Context(db=db, app_port=app_server.port, base_port=base_server.port, rules=rules,
                   facts=found, app_server=app_server, base_server=base_server)


def turns(scales: list[int], rounds: int) -> list[int]:
    """The order scales take their turns in: up, down, up, ... (1, 10, 50, 50, 10, 1, 1, ...),
    so that a slow spell early or late in a measure falls on every scale alike."""
    order: list[int] = []
    for i in range(rounds):
        order += scales if i % 2 == 0 else scales[::-1]
    return order


def run_measures(kind: str, contexts: dict[int, Context], results: dict, skipped: dict,
                 measures: list) -> None:
    """Every measure at every scale of ``kind``: each in ``measure.rounds`` rounds taken in
    turns across the scales, the rounds of a scale merged into one result."""
    for measure in measures:
        reason = next(filter(None, (measure.needs(ctx) for ctx in contexts.values())), None)
        if reason:
            skipped[(measure.name, kind)] = reason
            continue
        started = time.perf_counter()
        merged: dict[int, Result] = {}
        try:
            for scale in turns(sorted(contexts), measure.rounds):
                ctx = contexts[scale]
                ctx.share = 1 / measure.rounds
                _use_database(ctx.db)
                result = measure.run(ctx)
                merged[scale] = merged[scale].merge(result) if scale in merged else result
        except Exception as exc:  # noqa: BLE001 - one broken entry must not sink the table
            log(f"{measure.name} failed: {exc.__class__.__name__}: {exc}")
            skipped[(measure.name, kind)] = f"failed: {exc.__class__.__name__}: {str(exc)[:120]}"
            continue
        for scale, result in merged.items():
            if measure.finish:
                measure.finish(result)
            results.setdefault((measure.name, kind), {})[scale] = result
            base = f"{_ms(result.base.p50)} / {_ms(result.base.p99)}" if result.base else result.base_value
            log(f"{kind} s{scale} {measure.name}: {_cell(result)}, baseline {base}")
        log(f"{kind} {measure.name}: {time.perf_counter() - started:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=os.environ.get("BENCH_SCALES", "1,10,50"))
    parser.add_argument("--databases", default=os.environ.get("BENCH_DATABASES", "sqlite,postgresql"))
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--only", default="", help="comma-separated parts of measure names to run "
                        "(case-insensitive), e.g. --only 'answer save,feed'")
    args = parser.parse_args(argv)
    wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    measures = [m for m in MEASURES if not wanted or any(w in m.name.lower() for w in wanted)]
    if not measures:
        parser.error(f"--only {args.only!r} matches no measure")
    scales = sorted(int(s) for s in args.scales.split(","))
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    started = time.perf_counter()
    notes = []
    if "postgresql" in databases:
        reason = postgres_reachable()
        if reason:
            log(f"PostgreSQL not reachable ({reason}): SQLite only")
            notes.append(f"PostgreSQL not measured: not reachable ({reason}).")
            databases.remove("postgresql")
    results: dict = {}
    skipped: dict = {}
    for kind in databases:
        with contextlib.ExitStack() as stack:
            contexts = {}
            for scale in scales:
                log(f"== {kind} at scale {scale}")
                contexts[scale] = open_scale(kind, scale, stack)
            run_measures(kind, contexts, results, skipped, measures)
        # Keep what is measured so far: a run stopped early still leaves its figures.
        harness.OUT.mkdir(parents=True, exist_ok=True)
        (harness.OUT / "partial.md").write_text(render(results, scales, databases, skipped, measures) + "\n")
    table = render(results, scales, databases, skipped, measures)
    elapsed = time.perf_counter() - started
    header = (f"Benchmark of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}, gunicorn {harness.WORKERS} sync "
              f"workers for the app and for the baseline; {elapsed / 60:.1f} min in all. The application "
              f"and its baselines take turns within each measure, and the scales take turns too (each "
              f"HTTP measure runs in {ROUNDS} rounds going up and down the scales, every scale's "
              f"servers up at once); sequential series start after {harness.WARMUP_CALLS} unmeasured calls "
              f"each (each worker's first request fills its caches).")
    text = "\n".join([header, "", table, "", *notes])
    print(text)
    if args.write and wanted:
        log("--write ignored with --only: bench/RESULTS.md holds full runs only")
    elif args.write:
        (ROOT / "bench" / "RESULTS.md").write_text("# Benchmark results (`make bench`)\n\n" + text + "\n")
        log("wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
