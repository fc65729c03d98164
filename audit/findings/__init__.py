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
    # Every transition tells the people it concerns (audit.findings.notifying).
    "finding_assigned": "A finding or corrective action was given to you",
    "finding_to_review": "A response, verification or extension waits for your decision",
    "finding_decided": "A decision was taken on a finding you answer",
    "finding_stranded": "A finding nobody can answer needs an owner (coordinators)",
    "scar_progress": "A supplier recorded a SCAR stage",
    "finding_cost": "A cost of poor quality was recorded on a finding (owners, coordinators)",
}


def init_app(app: Flask) -> None:
    """Register both blueprints, navigation, the home panel, the audit-page section and the sweep."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.findings import panels, rates_views, register_views, reminders, scar_views, views  # noqa: F401
    from audit.findings.probation import KINDS as SUPPLIER_STATUS_KINDS

    # (register_views adds the register pages to the findings blueprint)
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    app.register_blueprint(scar_views.bp)
    app.register_blueprint(rates_views.bp)
    reg = registry(app)
    reg.add_navigation("findings.index", "Findings", Permission.VIEW_ORGANISATION)
    reg.add_navigation("scar.index", "My SCARs", Permission.RESPOND_SCAR)
    reg.add_navigation("findings.waiting", "Waiting for me", Permission.OWN_ACCOUNT,
                       badge=panels.waiting_badge)
    reg.add_home_panel(panels.waiting_panel)
    reg.add_waiting_source("findings", panels.waiting_source)
    reg.add_audit_section("findings", panels.audit_findings_section)
    reg.add_notification_kinds(NOTIFICATION_KINDS)
    reg.add_notification_kinds(SUPPLIER_STATUS_KINDS)
    reg.add_job("finding_deadlines", sweep(
        reminders.sweep_finding_deadlines,
        doc="Finding and corrective-action reminders, overdue flags, escalation, supplier probation."),
        15 * 60)
