"""Scheduler status page, the ``flask scheduler run`` command, and the in-process dev start."""

from __future__ import annotations

import ast
import datetime as dt
import os
import signal
import sys
import threading

import click
from flask import Blueprint, Flask, render_template
from sqlalchemy import select

from audit.auth.permissions import Permission, requires
from audit.core.registry import registry
from audit.extensions import db
from audit.models import JobRun, SchedulerLease, utcnow
from audit.scheduling.jobs import describe_result

bp = Blueprint("scheduler", __name__, url_prefix="/admin/scheduler")


#: How far ahead the page lists the reminders the sweeps will send.
UPCOMING_DAYS = 14


def job_rows(jobs, runs: dict[str, JobRun], now: dt.datetime) -> list[dict]:
    """Per job: its interval, last run, readable result and next run (``last + interval``; a job
    never run, or overdue, runs as soon as a scheduler holds the lease)."""
    rows = []
    for job in jobs:
        run = runs.get(job.id)
        due = run.last_run_at + dt.timedelta(seconds=job.interval) if run else None
        rows.append({"id": job.id, "doc": (job.function.__doc__ or "").strip(),
                     "every": f"{job.interval // 60} min" if job.interval >= 60 else f"{job.interval} s",
                     "last": run.last_run_at if run else None, "result": _readable(run.result) if run else None,
                     "next": due if due is not None and due > now else None})
    return rows


def _readable(stored: str | None) -> str | None:
    """Rows recorded before results were stored as text hold a dict's repr: show it as text."""
    if stored and stored.startswith("{"):
        try:
            return describe_result(ast.literal_eval(stored))
        except (ValueError, SyntaxError):
            return stored
    return stored


@bp.get("/")
@requires(Permission.MANAGE_PROGRAMME)
def status():
    """Which process holds the lease, each job's last and next run, and the reminders due soon."""
    from audit.audits.reminders import upcoming_reminders

    now = utcnow()
    runs = {r.job_id: r for r in db.session.scalars(select(JobRun))}
    lease = db.session.get(SchedulerLease, "scheduler")
    return render_template("scheduling/status.html", jobs=job_rows(registry().jobs, runs, now), lease=lease,
                           now=now, upcoming=upcoming_reminders(now=now, days=UPCOMING_DAYS),
                           upcoming_days=UPCOMING_DAYS)


def _parse_now(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise click.BadParameter("give a zone, e.g. 2026-03-10T09:00Z")
    return parsed.astimezone(dt.UTC)


@bp.cli.command("run")
@click.option("--once", is_flag=True, help="Run every job once (if this process gets the lease) and exit.")
@click.option("--now", "now_text", default=None, help="Fixed clock for the jobs (ISO 8601 with zone); tests.")
@click.option("--interval", type=int, default=None, help="Run every job every N seconds (tests, demos).")
@click.option("--duration", type=float, default=None, help="Stop after N seconds (tests).")
def run_command(once: bool, now_text: str | None, interval: int | None, duration: float | None) -> None:
    """Run the scheduler: fixed sweep jobs, exactly one active process (database lease)."""
    import logging

    from flask import current_app

    from audit.scheduling.runner import SchedulerProcess

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fixed = _parse_now(now_text)
    process = SchedulerProcess(current_app._get_current_object(), clock=(lambda: fixed) if fixed else None,
                               interval=interval)
    if once:
        results = process.run_all_once()
        click.echo("lease not held: another scheduler is active" if all(v is None for v in results.values())
                   else f"ran: {results}")
        process.stop()
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    process.start()
    click.echo(f"scheduler {process.holder} running {len(process.jobs)} jobs (Ctrl+C to stop)")
    sys.stdout.flush()
    stop.wait(timeout=duration)
    process.stop()
    click.echo(f"scheduler {process.holder} stopped after {len(process.runs)} job runs")


def _is_dev_server() -> bool:
    """True only inside ``flask run`` (not gunicorn, not other CLI commands, not the reloader parent)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.info_name != "run" or ctx.parent is None or ctx.parent.parent is not None:
        return False
    if os.environ.get("FLASK_DEBUG") in ("1", "true") and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return False  # the reloader's watcher process; its child starts the scheduler
    return "gunicorn" not in sys.modules


@bp.record_once
def _maybe_start_in_process(state) -> None:
    app: Flask = state.app
    if (app.config.get("SCHEDULER_IN_PROCESS") and not app.config.get("TESTING")
            and app.config.get("CONFIG_NAME") != "production" and _is_dev_server()):
        from audit.scheduling.runner import start_in_process

        start_in_process(app)
