"""The findings feature's periodic job, in the scheduler's ``function(app, now)`` shape.

Registered in ``audit/scheduling/jobs.py`` (``JOBS``) as ``finding_deadlines``; it opens its
own app context, runs the sweep and commits, so running it twice is harmless.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask

from audit.extensions import db

#: Seconds between sweeps.
INTERVAL = 15 * 60


def finding_deadlines(app: Flask, now: dt.datetime) -> dict:
    """Finding reminders, overdue flags and escalation; supplier probation review."""
    from audit.findings.reminders import sweep_finding_deadlines

    with app.app_context():
        try:
            result = {"sweep_finding_deadlines": sweep_finding_deadlines(now)}
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
