"""Scheduling adapter: one APScheduler process running fixed, idempotent sweep jobs.

The schedule lives in code (each feature's ``init_app`` registers its jobs in the application's
registry), the state lives in tables. Exactly one scheduler acts at a time, guarded by a database
lease (``lease.py``) that works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the scheduler status page (in the navigation for coordinators) and the
    ``flask scheduler`` commands."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.scheduling import views

    app.register_blueprint(views.bp)
    # Coordinators run the programme, so they see when reminders go out and whether sweeps run.
    registry(app).add_navigation("scheduler.status", "Scheduler", Permission.MANAGE_PROGRAMME)
