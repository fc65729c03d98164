"""Top management's side: quality objectives, process indicators, customer feedback, risks and
opportunities, context changes, and management reviews whose outputs are tracked to closure.

``init_app`` is the feature's only registration point: blueprints, navigation, home panels,
the indicators section on the unit and audit pages, the reminder jobs, notification kinds and the "waiting for me" source.
"""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register everything this feature adds to the application."""
    # Own views only, and only here: nothing imports views at import time.
    from audit.management import (
        objectives,
        panels,
        review_views,
        reviews,
        risk_actions,
        risk_reviews,
        risk_views,  # noqa: F401  (its routes join views.bp: import first)
        views,
        waiting,
    )
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    app.register_blueprint(review_views.bp)
    reg = registry(app)
    reg.add_navigation("management.index", "Management", Permission.VIEW_ORGANISATION)
    reg.add_home_panel(panels.management_panel)
    reg.add_home_panel(panels.my_review_actions_panel)
    reg.add_detail_section("organisation.unit", views.unit_indicators_section)
    reg.add_audit_section("indicators", views.audit_indicators_section)
    reg.add_notification_kinds(reviews.KINDS)
    reg.add_notification_kinds(risk_actions.KINDS)
    reg.add_notification_kinds(risk_reviews.KINDS)
    reg.add_notification_kinds(objectives.KINDS)
    reg.add_waiting_source("management", waiting.waiting_source)
    # One job for the feature's reminders: reviews and their outputs, actions on risks, risks'
    # own effectiveness reviews, then objectives that became at risk or missed without a new
    # measurement (their due date passed).
    reg.add_job("management_review_reminders", sweep(
        reviews.send_review_reminders, risk_actions.send_risk_action_reminders,
        risk_reviews.send_risk_review_notices, objectives.send_objective_notices,
        doc="Reminders before management reviews, before review actions fall due, to owners of "
            "actions on risks before they fall due and once overdue, to coordinators and owners of "
            "risks whose effectiveness review falls due, and to owners of quality objectives at "
            "risk or missed."), 3600)
