"""Authentication (Flask-Login) and capability-based authorisation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.auth import views

    app.register_blueprint(views.bp)
