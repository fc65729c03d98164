"""The fixed periodic jobs. Each takes ``(app, now)``, opens its own app context, calls
services, commits, and is idempotent (dedupe keys, conditional updates), so a second run or
a run after downtime sends nothing twice.

``JOBS`` is a plain list of ``Job(id, function, interval_seconds)``; other features append
their sweeps (e.g. finding reminders) to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from audit.extensions import db


@dataclass(frozen=True)
class Job:
    id: str
    function: Callable[[Flask, dt.datetime], object]
    interval: int  #: seconds between runs


def _run(app: Flask, now: dt.datetime, *services) -> dict:
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


def extend_programme_horizons(app: Flask, now: dt.datetime) -> dict:
    """Generate the next audits of every active programme rule over its rolling horizon."""
    from audit.programme.generation import extend_horizons

    return _run(app, now, extend_horizons)


def audit_reminders(app: Flask, now: dt.datetime) -> dict:
    """Reminders before audits, report due/overdue, overdue audits, certification deadlines,
    stage-2 major NC deadlines."""
    from audit.audits.reminders import send_audit_reminders, send_overdue_audits, send_report_reminders
    from audit.programme.deadlines import send_certification_warnings
    from audit.programme.stage2 import send_stage2_warnings

    return _run(app, now, send_audit_reminders, send_report_reminders, send_overdue_audits,
                send_certification_warnings, send_stage2_warnings)


def deliver_email(app: Flask, now: dt.datetime) -> dict:
    """Send the e-mail outbox over SMTP."""
    from audit.notifications.email import deliver_outbox

    with app.app_context():
        try:
            return {"deliver_outbox": deliver_outbox(now=now)}
        finally:
            db.session.remove()


def finding_deadlines(app: Flask, now: dt.datetime) -> dict:
    """Finding and corrective-action reminders, overdue flags, escalation, supplier probation."""
    from audit.findings.reminders import sweep_finding_deadlines

    return _run(app, now, sweep_finding_deadlines)


JOBS: list[Job] = [
    Job("extend_programme_horizons", extend_programme_horizons, 6 * 3600),
    Job("audit_reminders", audit_reminders, 15 * 60),
    Job("finding_deadlines", finding_deadlines, 15 * 60),
    Job("deliver_email", deliver_email, 60),
]
