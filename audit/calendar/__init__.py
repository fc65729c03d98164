"""Calendar subscriptions: the pure iCalendar serialiser, feeds, tokens and downloads."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint, the navigation entry and the audit page's calendar box."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.calendar import views

    app.register_blueprint(views.bp)
    reg = registry(app)
    reg.add_navigation("calendar.index", "Calendar", Permission.OWN_ACCOUNT)
    reg.add_audit_section("calendar", views.audit_section)
