"""Findings and their corrective-action workflow, including supplier SCARs."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry

NOTIFICATION_KINDS = {
    "finding_issued": "A finding was issued to you",
    "finding_due_soon": "A finding response or closure is due soon",
    "finding_overdue": "A finding you own is overdue",
    "finding_escalated": "Overdue findings escalated to you (coordinators, unit owners)",
    "action_due": "A corrective action you own is due",
}


def init_app(app: Flask) -> None:
    """Register both blueprints, navigation, the home panel, the audit-page section and the sweep."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.findings import panels, reminders, scar_views, views
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    app.register_blueprint(scar_views.bp)
    reg = registry(app)
    reg.add_navigation("findings.index", "Findings", Permission.VIEW_ORGANISATION)
    reg.add_navigation("scar.index", "My SCARs", Permission.RESPOND_SCAR)
    reg.add_home_panel(panels.my_open_findings_panel)
    reg.add_audit_section("findings", panels.audit_findings_section)
    reg.add_notification_kinds(NOTIFICATION_KINDS)
    reg.add_job("finding_deadlines", sweep(
        reminders.sweep_finding_deadlines,
        doc="Finding and corrective-action reminders, overdue flags, escalation, supplier probation."),
        15 * 60)
