"""The audit report's life cycle as one state machine: written by the audit team, signed and
issued by the lead auditor, acknowledged by the auditee representative (ISO 19011 6.5, 6.6).

States: none (no report yet) → draft → signed → issued. Editing after signing withdraws the
signature (``report.save_report``); issuing freezes the audit, and needs the report's blockers
(``blockers.report_blockers``) cleared. Action names are the report views' names.
"""

from __future__ import annotations

import enum

from sqlalchemy import select

from audit.conduct.access import can_answer, is_auditee, team_role
from audit.conduct.blockers import report_blockers
from audit.conduct.checklist_read import build_checklist
from audit.core.workflow import Step, Workflow
from audit.extensions import db
from audit.models import AuditReport, AuditStatus, TeamRole


class ReportState(enum.Enum):
    NONE = "not started"
    DRAFT = "draft"
    SIGNED = "signed"
    ISSUED = "issued"


def get_report(audit) -> AuditReport | None:
    """The audit's report, or None before anyone wrote one."""
    return db.session.scalar(select(AuditReport).where(AuditReport.audit_id == audit.id))


def report_state(audit) -> ReportState:
    """Where the audit's report stands."""
    report = get_report(audit)
    if audit.report_issued_at is not None or (report is not None and report.issued_at is not None):
        return ReportState.ISSUED
    if report is None:
        return ReportState.NONE
    return ReportState.SIGNED if report.signed_at is not None else ReportState.DRAFT


def _team(audit, user) -> bool:
    return can_answer(audit, user)


def _lead(audit, user) -> bool:
    return team_role(audit, user) is TeamRole.LEAD and can_answer(audit, user)


def _team_or_auditee(audit, user) -> bool:
    return can_answer(audit, user) or is_auditee(audit, user)


def _open(audit, user) -> str | None:
    if audit.status in AuditStatus.inactive():
        return f"This audit is {audit.status.label.lower()}: its report cannot change."
    return None


def _conclusions(audit, user) -> str | None:
    return _open(audit, user) or (None if get_report(audit).conclusions else "Write the conclusions before signing.")


def _no_blockers(audit, user) -> str | None:
    problems = report_blockers(audit, get_report(audit), build_checklist(audit))
    if problems:
        return "The report cannot be issued yet: " + " ".join(p.message for p in problems)
    return _open(audit, user)


S = ReportState
_UNISSUED = frozenset({S.NONE, S.DRAFT, S.SIGNED})
_WRITTEN = frozenset({S.DRAFT, S.SIGNED})
#: The auditee acknowledges the report at the closing meeting (signed or not yet), and still may
#: once it is issued: the lead often issues it on site minutes after signing, and the notice of
#: the signature asked the unit owners to acknowledge it by the report's due date.
_ACKNOWLEDGEABLE = frozenset({S.DRAFT, S.SIGNED, S.ISSUED})
_TEAM = "Only the audit team's auditors write this audit's report."
_LEAD = "Only the lead auditor signs and issues the report."

REPORT = Workflow("report", state=report_state, state_label=lambda a: report_state(a).value, steps=[
    Step("report", "Save report", _UNISSUED, _team, _TEAM, _open),
    Step("question_reason", "Record a reason", _UNISSUED, _team, _TEAM, _open),
    Step("sign_report", "Sign as lead auditor", _WRITTEN, _lead, _LEAD, _conclusions),
    Step("issue_report", "Issue report", _UNISSUED, _lead, _LEAD, _no_blockers),
    Step("acknowledge_report", "Record auditee acknowledgement", _ACKNOWLEDGEABLE, _team_or_auditee,
         "Only the auditee representative or the audit team can record this."),
])
