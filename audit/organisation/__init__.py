"""Sites, auditable units, suppliers, certification bodies and certificates."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint, the navigation entry, the "waiting for me" source and the
    notification kind of certificate status changes."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.organisation import certificate_status, views, waiting

    app.register_blueprint(views.bp)
    reg = registry(app)
    reg.add_navigation("organisation.site_list", "Organisation", Permission.VIEW_ORGANISATION)
    reg.add_waiting_source("organisation", waiting.waiting_source)
    reg.add_notification_kinds(certificate_status.KINDS)
