"""Reports: the management review input pack (ISO 9001 9.3.2) and exports."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint and the navigation entry."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.reports import views

    app.register_blueprint(views.bp)
    registry(app).add_navigation("reports.index", "Reports", Permission.VIEW_REPORTS)
