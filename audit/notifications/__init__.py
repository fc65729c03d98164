"""Notifications: in-app list and e-mail outbox."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint, the outbox page's navigation entry and the delivery job."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.notifications import email, views
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    registry(app).add_job("deliver_email", sweep(email.deliver_outbox, doc="Send the e-mail outbox over SMTP."), 60)
    registry(app).add_navigation("notifications.outbox", "Outbox", Permission.VIEW_OUTBOX)
