"""Top management's side: quality objectives, process indicators, customer feedback, risks and
opportunities, context changes, and management reviews whose outputs are tracked to closure.

``init_app`` is the feature's only registration point (blueprints, navigation, home panels,
sections on the unit and audit pages, the reminder job, notification kinds); ``create_app``
calls it. Until the shared registry exists it appends to the existing lists, once.
"""

from __future__ import annotations

from flask import Flask


def _append_once(items: list, item) -> None:
    if item not in items:
        items.append(item)


def init_app(app: Flask) -> None:
    """Register everything this feature adds to the application."""
    from audit.audits import AUDIT_PAGE_SECTIONS
    from audit.auth.permissions import Permission
    from audit.core.templating import NAVIGATION
    from audit.home.views import HOME_PANELS
    from audit.management import panels, review_views, reviews, views
    from audit.notifications.services import KINDS
    from audit.organisation.views import UNITS
    from audit.scheduling.jobs import JOBS, Job

    app.register_blueprint(views.bp)
    app.register_blueprint(review_views.bp)
    _append_once(NAVIGATION, ("management.index", "Management", Permission.VIEW_ORGANISATION))
    _append_once(HOME_PANELS, panels.management_panel)
    _append_once(HOME_PANELS, panels.my_review_actions_panel)
    _append_once(UNITS.sections, views.unit_indicators_section)
    _append_once(AUDIT_PAGE_SECTIONS, views.audit_indicators_section)
    if not any(job.id == "management_review_reminders" for job in JOBS):
        JOBS.append(Job("management_review_reminders", review_reminders, 3600))
    KINDS.update(reviews.KINDS)


def review_reminders(app: Flask, now) -> dict:
    """Scheduler job: remind of coming reviews and due review actions."""
    from audit.management.reviews import send_review_reminders
    from audit.scheduling.jobs import _run

    return _run(app, now, send_review_reminders)
