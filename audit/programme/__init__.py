"""Audit programmes: rules that generate audits, certification cycles, planner, coverage, workload."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry

NOTIFICATION_KINDS = {
    "certification_deadline": "Certification deadline approaching, or an audit dated after it",
    "audit_triggered": "An audit of your area was triggered (complaint, incident, change)",
    "stage2_major_nc": "Stage-2 major nonconformity: verification deadline (6 months)",
    "programme_approval": "A programme awaits your approval (new, or changed since approval)",
    "programme_approved": "A programme you coordinate was approved",
}


def init_app(app: Flask) -> None:
    """Register the blueprint, navigation, home panels, audit-page sections, the "waiting for me"
    source (programmes to approve) and sweeps."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.programme import coverage_watch, deadlines, generation, panels, stage2, views, waiting
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    reg = registry(app)
    reg.add_navigation("programme.index", "Programme", Permission.VIEW_ORGANISATION)
    reg.add_home_panel(panels.my_audits_panel)
    reg.add_home_panel(panels.health_panel)
    reg.add_audit_section("cycle", panels.cycle_section)
    reg.add_audit_section("triggers", panels.trigger_section)
    reg.add_audit_section("stage2", panels.stage2_section)
    reg.add_audit_section("rule", panels.rule_section)
    reg.add_notification_kinds(NOTIFICATION_KINDS)
    # A programme awaiting approval is the turn of whoever may approve it (top management).
    reg.add_waiting_source("programme", waiting.waiting_source)
    reg.add_job("extend_programme_horizons", sweep(
        generation.extend_horizons,
        doc="Generate the next audits of every active programme rule over its rolling horizon."), 6 * 3600)
    reg.add_job("certification_deadlines", sweep(
        deadlines.send_certification_warnings,
        doc="Warn before surveillance, recertification and certificate expiry deadlines."), 15 * 60)
    reg.add_notification_kinds(coverage_watch.KINDS)
    reg.add_job("coverage_gaps", sweep(
        coverage_watch.send_coverage_warnings,
        doc="Tell the coordinators which units fall due for an audit with nothing planned in time."),
        6 * 3600)
    reg.add_job("stage2_major_nc_deadlines", sweep(
        stage2.send_stage2_warnings,
        doc="Warn 30 and 7 days before a stage-2 major NC's 6-month deadline; flag repeat stage 2 after."),
        15 * 60)
