"""People: user accounts, roles, auditor qualifications and training records."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint, the navigation entry, and qualification renewals: their
    notification kind, the coordinators' "Waiting for me" items and the daily sweep."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.people import renewals, views
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    reg = registry(app)
    reg.add_navigation("people.user_list", "People", Permission.VIEW_ORGANISATION)
    reg.add_notification_kinds(renewals.KINDS)
    reg.add_waiting_source("people", renewals.waiting_source)
    reg.add_job("qualification_renewals", sweep(
        renewals.send_renewal_notices,
        doc="Tell auditors and coordinators when a qualification ends within 60 days, and when "
            "it has ended unrenewed."), 3600)
