"""The audit life cycle (DOMAIN.md §4) as one state machine: where an audit may go, who moves
it, and what must hold first. Action names are the target statuses' values.

The coordinator moves audits by hand (the audit page's status form). The report page issues our
own reports (sign-off, frozen records), so "report issued" is offered by hand only for
third-party audits, whose report the certification body issues. Planner, generation and the
checklist move audits too; they are held to the same table of states (``require_move``).
"""

from __future__ import annotations

from audit.audits.team import coverage_problems, team_problems
from audit.auth.permissions import Permission
from audit.core.errors import Conflict
from audit.core.workflow import Step, Workflow
from audit.models import AuditKind, AuditStatus, Role, utcnow

S = AuditStatus

#: Allowed moves of the life cycle. Side exits (postponed, cancelled) need a reason.
TRANSITIONS: dict[AuditStatus, tuple[AuditStatus, ...]] = {
    S.PLANNED: (S.SCHEDULED, S.POSTPONED, S.CANCELLED),
    S.SCHEDULED: (S.PLAN_ISSUED, S.IN_PROGRESS, S.PLANNED, S.POSTPONED, S.CANCELLED),
    S.PLAN_ISSUED: (S.IN_PROGRESS, S.POSTPONED, S.CANCELLED),
    S.IN_PROGRESS: (S.FIELDWORK_COMPLETE,),
    S.FIELDWORK_COMPLETE: (S.REPORT_ISSUED, S.IN_PROGRESS),
    S.REPORT_ISSUED: (S.FOLLOW_UP, S.CLOSED),
    S.FOLLOW_UP: (S.CLOSED,),
    S.POSTPONED: (S.PLANNED, S.SCHEDULED, S.CANCELLED),
    S.CLOSED: (),
    S.CANCELLED: (),
}
NEEDS_REASON = (S.POSTPONED, S.CANCELLED)
#: Statuses from which the audit counts as staffed and dated.
NEEDS_LEAD_AND_DATES = (S.SCHEDULED, S.PLAN_ISSUED, S.IN_PROGRESS)


def _coordinates(audit, user) -> bool:
    return Role.ADMIN in user.roles or user.can(Permission.MANAGE_PROGRAMME)


def staffing_problem(audit) -> str | None:
    """Why the audit cannot count as scheduled yet (lead, dates, team rules), or None."""
    # Third-party audits are staffed by the certification body; our people join as guides.
    if audit.lead is None and audit.kind is not AuditKind.THIRD_PARTY:
        return "Assign a lead auditor first (technical experts and observers do not count as auditors)."
    if audit.starts_at is None:
        return "Set the audit dates first."
    today = utcnow().date()
    # The team as a whole must cover every standard before the audit counts as scheduled.
    problems = team_problems(audit, today=today) + coverage_problems(audit, today=today)
    return problems[0].message if problems else None


def _guard(target: AuditStatus):
    def guard(audit, user) -> str | None:
        if target is S.REPORT_ISSUED and audit.kind is not AuditKind.THIRD_PARTY:
            return ("Issue the report from the audit's report page: it records the lead auditor's "
                    "sign-off and freezes the audit.")
        if target in NEEDS_LEAD_AND_DATES:
            return staffing_problem(audit)
        return None
    return guard


def _sources(target: AuditStatus) -> frozenset:
    return frozenset(source for source, targets in TRANSITIONS.items() if target in targets)


AUDIT = Workflow("audit", state=lambda a: a.status, state_label=lambda a: a.status.label.lower(), steps=[
    Step(target.value, target.label, _sources(target), _coordinates,
         "Only a coordinator changes an audit's status.", _guard(target))
    for target in AuditStatus if _sources(target)
])


def can_move(audit, target: AuditStatus) -> bool:
    """Whether the table of states lets ``audit`` go to ``target`` (system moves)."""
    return audit.status in AUDIT.steps[target.value].states


def require_move(audit, target: AuditStatus) -> None:
    """For moves the system makes (planner, checklist, generation): the same table of states."""
    if not can_move(audit, target):
        raise Conflict(f"An audit cannot go from {audit.status.label.lower()} to {target.label.lower()}.",
                       field="status")
