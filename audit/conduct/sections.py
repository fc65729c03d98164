"""The conduct sections of the audit page (plan and agenda, checklist progress, report).

Registered by ``audit.conduct.init_app``.
"""

from __future__ import annotations

from flask import url_for

from audit.conduct import access, agenda, checklist_read, report


def plan_section(audit, user) -> dict | None:
    """The agenda with a link to edit and issue it."""
    if not access.can_view(audit, user):
        return None
    return {"title": "Plan and agenda", "template": "conduct/_section_plan.html",
            "context": {"sessions": agenda.load_sessions(audit),
                        "can_edit_plan": agenda.can_edit_plan(audit, user)}}


def checklist_section(audit, user) -> dict | None:
    """Checklist progress per section with the link to the tablet screen."""
    if not access.can_view(audit, user) or audit.checklist_version_id is None:
        return None
    can_answer = access.can_edit_records(audit, user)
    result = {"title": "Checklist", "template": "conduct/_section_checklist.html",
              "context": {"checklist": checklist_read.build_checklist(audit),
                          "can_answer": can_answer}}
    if can_answer:
        # The section sits far down the page; those who answer get the way in at the top.
        result["head_link"] = {"label": "Open checklist",
                               "url": url_for("conduct.checklist", audit_id=audit.id)}
    return result


def report_section(audit, user) -> dict | None:
    """Where the report stands: draft, signed, issued; due date; links to page and PDF."""
    if not access.can_view(audit, user):
        return None
    return {"title": "Report", "template": "conduct/_section_report.html",
            "context": {"report": report.get_report(audit)}}

