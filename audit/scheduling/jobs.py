"""How a periodic job runs the services it sweeps with.

Features register their jobs in their ``init_app`` (``registry(app).add_job``), usually as
``sweep(service, ...)``: a job that opens its own app context, calls each service with ``now``,
commits after each, and rolls back on failure. Services are idempotent (dedupe keys, conditional
updates), so a second run, or a run after downtime, sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from audit.extensions import db


def run_services(app: Flask, now: dt.datetime, *services: Callable) -> dict:
    """Call each ``service(now=now)`` in ``app``'s context, committing after each one."""
    results = {}
    with app.app_context():
        try:
            for service in services:
                results[service.__name__] = service(now=now)
                db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    return results


def sweep(*services: Callable, doc: str) -> Callable[[Flask, dt.datetime], dict]:
    """A job function ``(app, now)`` that runs ``services`` in order (see ``run_services``)."""

    def job(app: Flask, now: dt.datetime) -> dict:
        return run_services(app, now, *services)

    job.__doc__ = doc
    job.__name__ = "sweep_" + "_".join(s.__name__ for s in services)
    return job


def describe_result(result: object) -> str:
    """A job's result as people read it: ``{"send_audit_reminders": 3}`` → "audit reminders: 3"."""
    if isinstance(result, dict):
        if not result:
            return "nothing to do"
        return "; ".join(f"{_label(name)}: {describe_result(value)}" for name, value in result.items())
    if result is None:
        return "done"
    if isinstance(result, list | tuple | set):
        return str(len(result))
    return str(result)


def _label(name: str) -> str:
    words = str(name).split("_")
    if words and words[0] in ("send", "run", "sweep", "deliver"):
        words = words[1:] or words
    return " ".join(words)
