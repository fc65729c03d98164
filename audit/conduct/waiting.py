"""Reports in "waiting for me" (``core.todo``): what the REPORT workflow waits for, from whom.

- the lead auditor: the report to write (none yet), to finish (a draft without conclusions), to
  sign (conclusions written), to issue (signed; the item counts the blockers still in the way);
- the owners of the audited units: the report to acknowledge (written, not yet acknowledged);
- coordinators: an audit whose report is pending but has no active lead who could write it
  (the lead left or lost the auditor role) — name another lead on the audit page; and a
  third-party audit's report, which the certification body writes and issues — record its
  arrival (the audit's status "report issued").

Every item carries the report's due date, ``Audit.report_due_on``: the date the report sweep
(``audits.reminders.send_report_reminders``) reminds and escalates on. Only audits whose
fieldwork started and whose report is not issued are pending (the sweep's own selection).

The candidates, their reports and the checklists the blockers need are loaded in a fixed number
of queries whatever the number of audits (``_checklists`` builds them together).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.conduct.blockers import report_blockers
from audit.conduct.checklist_read import Checklist, QuestionRow, SectionRow, answer_state
from audit.conduct.report_workflow import REPORT, ReportState
from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditReport,
    AuditStatus,
    AuditTeamMember,
    ChecklistAnswer,
    ChecklistQuestion,
    ChecklistSection,
    Evidence,
    Finding,
    FindingStatus,
    Role,
    TeamRole,
    Unit,
    User,
    UserRole,
)

#: What each report step asks of the person, as the list says it.
LABELS = {"write": "Report to write", "finish": "Report to finish", "sign_report": "Report to sign",
          "issue_report": "Report to issue", "acknowledge_report": "Report to acknowledge",
          "name_lead": "Name a lead auditor for the report",
          "record_cb_report": "Certification body's report to record"}
#: At most this many audits are examined (the earliest report due dates first).
LIMIT = 300


def _state(audit, report) -> ReportState:
    """``report_workflow.report_state`` on the loaded report (no query per audit)."""
    if audit.report_issued_at is not None or (report is not None and report.issued_at is not None):
        return ReportState.ISSUED
    if report is None:
        return ReportState.NONE
    return ReportState.SIGNED if report.signed_at is not None else ReportState.DRAFT


def _coordinates(user) -> bool:
    return Role.ADMIN not in user.roles and user.can(Permission.MANAGE_PROGRAMME)


def acting_lead(audit) -> User | None:
    """The audit's lead when they are active and the workflow lets them write and sign."""
    lead = next((m.user for m in audit.team if m.role is TeamRole.LEAD), None)
    if lead is None or not lead.is_active or not REPORT.steps["sign_report"].who(audit, lead):
        return None
    return lead


def _roles_that_answer() -> list[Role]:
    """Roles holding the capability ``can_answer`` asks of a team member (CONDUCT_AUDIT)."""
    return [r for r in Role if Permission.CONDUCT_AUDIT in permissions_for({r})]


def _without_acting_lead():
    """SQL twin of ``acting_lead(audit) is None``: no lead on the team who is active and holds
    a role that may answer. Coordinators see only these audits (to name a lead), so the list
    no longer loads every pending audit of the organisation on every page (issue 16)."""
    return ~exists().where(
        AuditTeamMember.audit_id == Audit.id, AuditTeamMember.role == TeamRole.LEAD,
        AuditTeamMember.user_id == User.id, User.is_active.is_(True),
        exists().where(UserRole.user_id == User.id, UserRole.role.in_(_roles_that_answer())))


def _candidates(user) -> list[Audit]:
    involved = or_(
        Audit.id.in_(select(AuditTeamMember.audit_id).where(AuditTeamMember.user_id == user.id,
                                                            AuditTeamMember.role == TeamRole.LEAD)),
        Audit.units.any(Unit.owner_id == user.id))
    stmt = select(Audit).where(Audit.status.in_(AuditStatus.fieldwork()),
                               Audit.report_issued_at.is_(None),
                               or_(involved, _without_acting_lead(), Audit.kind == AuditKind.THIRD_PARTY)
                               if _coordinates(user) else involved)
    stmt = stmt.options(
        # The zone decides "overdue" (local_today): joined, not one lazy load per audit.
        joinedload(Audit.site), joinedload(Audit.supplier),
        selectinload(Audit.team).joinedload(AuditTeamMember.user).selectinload(User.role_links),
        selectinload(Audit.units).selectinload(Unit.owner),
        selectinload(Audit.units).selectinload(Unit.members),
    ).order_by(Audit.report_due_on.is_(None), Audit.report_due_on, Audit.id).limit(LIMIT)
    return list(db.session.scalars(stmt).unique())


def _checklists(audits) -> dict[int, Checklist]:
    """``checklist_read.build_checklist`` for many audits at once, as far as the report's
    blockers need it (questions, answers, evidence, findings; no carry-forward)."""
    if not audits:
        return {}
    ids = [a.id for a in audits]
    sections: dict[int, list[ChecklistSection]] = {}
    for section in db.session.scalars(
            select(ChecklistSection).where(ChecklistSection.version_id.in_({a.checklist_version_id for a in audits}))
            .order_by(ChecklistSection.position)
            .options(selectinload(ChecklistSection.questions).selectinload(ChecklistQuestion.clauses))):
        sections.setdefault(section.version_id, []).append(section)
    answers = {(a.audit_id, a.question_id): a for a in db.session.scalars(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id.in_(ids)))}
    evidence: dict[tuple[int, int], list[Evidence]] = {}
    for ev in db.session.scalars(select(Evidence).where(Evidence.audit_id.in_(ids)).order_by(Evidence.id)):
        evidence.setdefault((ev.audit_id, ev.question_id), []).append(ev)
    findings: dict[tuple[int, int], list[Finding]] = {}
    drafts: dict[int, list[str]] = {}
    for f in db.session.scalars(select(Finding).where(Finding.audit_id.in_(ids)).order_by(Finding.id)
                                .options(selectinload(Finding.answer))):
        if f.answer is not None:
            findings.setdefault((f.audit_id, f.answer.question_id), []).append(f)
        if f.status is FindingStatus.DRAFT:
            drafts.setdefault(f.audit_id, []).append(f.reference)
    result = {}
    for audit in audits:
        states, rows = {}, []
        for section in sections.get(audit.checklist_version_id, []):
            section_rows = []
            for q in section.questions:
                answer = answers.get((audit.id, q.id))
                states[q.key] = answer_state(answer)
                section_rows.append(QuestionRow(q, answer, None, evidence.get((audit.id, q.id), []),
                                                findings.get((audit.id, q.id), [])))
            rows.append(SectionRow(section, section_rows))
        checklist = Checklist(audit, rows, None, [], drafts.get(audit.id, []))
        for row in checklist.rows:
            if row.question.condition_key:
                row.visible = states.get(row.question.condition_key) == row.question.condition_value
        result[audit.id] = checklist
    return result


def _steps(audit, report, user) -> list[str]:
    """What the report of ``audit`` waits for from ``user`` (step names of ``LABELS``)."""
    state = _state(audit, report)
    if state is ReportState.ISSUED:
        return []
    if audit.kind is AuditKind.THIRD_PARTY:
        # The certification body writes, signs and issues it: ours is to record that it came.
        return ["record_cb_report"] if _coordinates(user) else []
    lead = acting_lead(audit)
    steps = []
    if lead is not None and lead.id == user.id:
        if state is ReportState.NONE:
            steps.append("write")
        elif state is ReportState.DRAFT:
            steps.append("sign_report" if report.conclusions else "finish")
        else:
            steps.append("issue_report")
    if (state in REPORT.steps["acknowledge_report"].states and report.acknowledged_at is None
            and any(u.owner_id == user.id for u in audit.units)):
        steps.append("acknowledge_report")
    if lead is None and _coordinates(user):
        steps.append("name_lead")
    return steps


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """The reports' share of "waiting for me", each with the report's due date."""
    if user.supplier_id is not None or not user.is_active:
        return []
    audits = _candidates(user)
    if not audits:
        return []
    reports = {r.audit_id: r for r in db.session.scalars(
        select(AuditReport).where(AuditReport.audit_id.in_([a.id for a in audits])))}
    wanted = {a.id: _steps(a, reports.get(a.id), user) for a in audits}
    signed = [a for a in audits if "issue_report" in wanted[a.id]]
    checklists = _checklists(signed)
    todos = []
    for audit in audits:
        report = reports.get(audit.id)
        due = audit.report_due_on
        overdue = due is not None and due < audit.local_today(now)
        for step in wanted[audit.id]:
            # Plain paths: the list is also computed outside requests (sweeps, tests).
            label, url = LABELS[step], f"/audits/{audit.id}/report"
            if step == "issue_report":
                checklist = checklists.get(audit.id, Checklist(audit, [], None, []))
                count = len(report_blockers(audit, report, checklist))
                if count:  # in the label: the list shortens long titles
                    label = f"{label} ({count} blocker{'s' if count > 1 else ''} to clear)"
            if step in ("name_lead", "record_cb_report"):
                url = f"/audits/{audit.id}"
            todos.append(ToDo("reports", step, label, audit.reference, audit.title, url, due,
                              "Report", overdue))
    return todos
