"""Scheduling adapter: one APScheduler process running fixed, idempotent sweep jobs.

The schedule lives in code (each feature's ``init_app`` registers its jobs in the application's
registry), the state lives in tables. Exactly one scheduler acts at a time, guarded by a database
lease (``lease.py``) that works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the scheduler status page and the ``flask scheduler`` commands."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.scheduling import views

    app.register_blueprint(views.bp)
