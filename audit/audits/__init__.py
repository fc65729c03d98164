"""Audits: the audit page, its team and its life cycle.

Other features add sections to the audit page with ``registry(app).add_audit_section(slot, fn)``,
``fn(audit, user) -> dict(title=..., template=..., context=dict) | None``; the page renders the
returned sections in the order of ``audit.core.registry.AUDIT_PAGE_SLOTS``.
"""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry

#: Notification kinds of audits' own reminders and escalations (kind → preferences label).
NOTIFICATION_KINDS = {
    "audit_prepare": "Prepare for an audit you are in (before the audit)",
    "audit_plan": "An audit of your area is coming (audit plan to auditees)",
    "audit_plan_due": "An audit plan is yours to issue to the auditees (lead, else programme manager or coordinators)",
    "audit_day_before": "Audit tomorrow",
    "report_due": "Audit report due soon",
    "report_overdue": "Audit report overdue (escalation)",
    "report_issued": "An audit report was issued (auditees, distribution list, coordinators, team)",
    "audit_overdue": "Audit overdue (escalation to coordinators)",
}


def init_app(app: Flask) -> None:
    """Register the blueprint, navigation, notification kinds (reminders, announcements, team
    problems), the announcements' calendar invitation, the "waiting for me" source (audits the
    coordinators must act on) and the reminder sweep."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.audits import announcements, reminders, staffing_watch, views, waiting
    from audit.scheduling.jobs import sweep

    app.register_blueprint(views.bp)
    reg = registry(app)
    reg.add_navigation("audits.audit_list", "Audits", Permission.VIEW_ORGANISATION)
    reg.add_notification_kinds(NOTIFICATION_KINDS)
    reg.add_notification_kinds(announcements.NOTIFICATION_KINDS)
    reg.add_notification_kinds(staffing_watch.KINDS)
    reg.add_email_attachments(announcements.TEAM_KIND, announcements.invitation_attachments)
    # Overdue audits, audits due by a deadline still to staff or date, teams no longer qualified.
    reg.add_waiting_source("audits", waiting.waiting_source)
    reg.add_job("audit_reminders", sweep(
        reminders.send_audit_reminders, reminders.send_report_reminders, reminders.send_overdue_audits,
        staffing_watch.send_staffing_warnings,
        doc="Reminders before audits, report due and overdue, overdue audits, and coming audits whose "
            "team no longer covers the scope (a qualification lapsed)."), 15 * 60)
