"""The audit programme's life cycle as one state machine (DOMAIN.md §2, ISO 19011 5.4/5.5).

draft → approved → active → closed; "approve" is also taken again on an approved or active
programme whose scope, period, objectives or rules changed since its last approval. The audit
client (top management) approves, and never the person who prepared or manages the programme;
coordinators activate, close or send back to draft. Action names: "approve", and the target
statuses' values for the others.
"""

from __future__ import annotations

from audit.auth.permissions import Permission
from audit.core.workflow import Step, Workflow
from audit.models import ProgrammeStatus, Role

S = ProgrammeStatus


def _approver(programme, user) -> bool | str:
    if not user.can(Permission.APPROVE_PROGRAMME):
        return False
    if user.id in {programme.prepared_by_id, programme.manager_id}:
        return "You prepared this programme: someone else (top management) must approve it."
    return True


def _approvable(programme, user) -> str | None:
    if programme.status is not S.DRAFT and not programme.changed_since_approval:
        return "This version of the programme is already approved."
    if not (programme.objectives or "").strip():
        return "State the programme's objectives before approval."
    return None


def _approved_as_it_stands(programme, user) -> str | None:
    if programme.changed_since_approval:
        return ("The programme changed since it was approved: top management approves it again "
                "before it becomes active.")
    return None


def _coordinates(programme, user) -> bool:
    return Role.ADMIN in user.roles or user.can(Permission.MANAGE_PROGRAMME)


_COORDINATOR = "Only a coordinator changes a programme's status."

PROGRAMME = Workflow("programme", state=lambda p: p.status, state_label=lambda p: p.status.value, steps=[
    Step("approve", "Approve programme", frozenset({S.DRAFT, S.APPROVED, S.ACTIVE}), _approver,
         "Only the audit client (top management) approves a programme.", _approvable),
    Step(S.ACTIVE.value, "Active", frozenset({S.APPROVED}), _coordinates, _COORDINATOR, _approved_as_it_stands),
    Step(S.DRAFT.value, "Draft", frozenset({S.APPROVED}), _coordinates, _COORDINATOR),
    Step(S.CLOSED.value, "Closed", frozenset({S.ACTIVE}), _coordinates, _COORDINATOR),
])
