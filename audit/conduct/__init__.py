"""Conducting audits on tablets: the checklist screen, its JSON API, evidence and the report."""

from __future__ import annotations

from flask import Flask

from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the page and API blueprints, the audit page's plan, checklist and report, the
    report's notification kind (report to acknowledge), the reports' share of "waiting for me",
    the offline shell's asset version and the daily pruning of replayed mutation ids."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.conduct import agenda, answering, api, offline, report_views, sections, views  # noqa: F401

    # (report_views adds the report pages to the conduct blueprint)
    from audit.scheduling.jobs import sweep

    offline.init_app(app)  # the service worker's cache version, hashed once from the assets
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    reg = registry(app)
    reg.add_audit_section("plan", sections.plan_section)
    reg.add_audit_section("checklist", sections.checklist_section)
    reg.add_audit_section("report", sections.report_section)
    reg.add_email_attachments("audit_plan", agenda.plan_attachments)
    from audit.conduct import report, waiting

    reg.add_notification_kinds(report.NOTIFICATION_KINDS)

    reg.add_waiting_source("reports", waiting.waiting_source)
    keep_days = app.config["OFFLINE_WINDOW_DAYS"]

    def prune_applied_mutations(*, now):
        return answering.prune_applied_mutations(now=now, keep_days=keep_days)

    reg.add_job("prune_applied_mutations", sweep(
        prune_applied_mutations,
        doc="Forget tablet mutation ids older than the offline window (OFFLINE_WINDOW_DAYS)."),
        24 * 3600)
