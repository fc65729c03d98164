"""The findings state machines, declared once: finding, supplier SCAR and corrective action.

Who may act is decided on the object, not only the role (DOMAIN.md §5, ISO 19011 6.4.8):

- the *audit side* (issue, assign, review, verify, close, reopen) is the audit's team — its lead
  and auditors, and for verification also the follow-up audit's — plus coordinators;
- the *auditee side* (respond, decide, plan actions, ask for more time) is the finding's owner or
  the unit's owner; for a SCAR, the supplier's own contacts;
- a verifier never owns the finding or one of its actions (no self-verification).

Action names are the names of the views that take them (``findings.<name>``, ``scar.<name>``),
so pages, services and the tests that walk them all speak of the same thing.
"""

from __future__ import annotations

from audit.auth.permissions import Permission
from audit.core.workflow import Step, Workflow
from audit.models import ActionStatus, ExtensionStatus, FindingStatus, Grade, Role, ScarStage, TeamRole

S = FindingStatus
OPEN_STATUSES = tuple(s for s in FindingStatus if s.is_open)
#: Team roles that decide on findings; trainees record drafts but do not issue or verify.
DECIDING_ROLES = (TeamRole.LEAD, TeamRole.AUDITOR)


def _id(obj, fallback):
    """The id of a related object even before a flush sets the foreign key."""
    return obj.id if obj is not None else fallback


def is_admin(user) -> bool:
    return user is not None and Role.ADMIN in user.roles


def _coordinates(user) -> bool:
    return is_admin(user) or user.can(Permission.MANAGE_PROGRAMME)


def team_role(audit, user) -> TeamRole | None:
    """``user``'s role in ``audit``'s team, or None."""
    if audit is None or user is None:
        return None
    return next((m.role for m in audit.team if _id(m.user, m.user_id) == user.id), None)


def can_record(audit, user) -> bool:
    """Record a draft finding on ``audit``: its auditing team members (trainees too) and
    coordinators. Technical experts, observers and guides never raise findings."""
    if user is None:
        return False
    if _coordinates(user):
        return True
    role = team_role(audit, user)
    return user.can(Permission.CONDUCT_AUDIT) and role is not None and role.is_auditing


def can_issue(finding, user) -> bool:
    """The audit side of ``finding``: its audit's lead or auditors, or a coordinator."""
    if user is None:
        return False
    if _coordinates(user):
        return True
    return user.can(Permission.CONDUCT_AUDIT) and team_role(finding.audit, user) in DECIDING_ROLES


def can_respond(finding, user) -> bool:
    """The auditee side: the finding's owner or the unit's owner; for a SCAR, the supplier."""
    if user is None:
        return False
    if is_admin(user):
        return True
    if finding.is_scar:
        return (user.can(Permission.RESPOND_SCAR) and user.supplier_id is not None
                and user.supplier_id == finding.supplier_id)
    if not user.can(Permission.RESPOND_FINDING):
        return False
    return _id(finding.owner, finding.owner_id) == user.id or (
        finding.unit is not None and _id(finding.unit.owner, finding.unit.owner_id) == user.id)


def can_verify(finding, user) -> bool:
    """Review responses and verify effectiveness: the audit side (or the follow-up audit's team),
    never someone who owns the finding or one of its actions."""
    if user is None or not user.can(Permission.VERIFY_FINDING):
        return False
    if _id(finding.owner, finding.owner_id) == user.id:
        return False
    if any(_id(a.owner, a.owner_id) == user.id for a in finding.actions):
        return False
    return can_issue(finding, user) or team_role(finding.follow_up_audit, user) in DECIDING_ROLES


def can_read(finding, user) -> bool:
    """Whether ``user`` may open ``finding`` (``readable_findings`` is the same rule in SQL).

    Drafts are the audit side's work in progress; everything else is read by coordinators and
    report readers, by whoever answers or acts on the finding, and by the process owners of its
    unit. Supplier contacts read their own company's SCARs, on the SCAR pages.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.supplier_id is not None:
        return finding.is_scar and finding.supplier_id == user.supplier_id
    if finding.status is S.DRAFT:
        return can_record(finding.audit, user)
    if _coordinates(user) or user.can(Permission.VIEW_REPORTS) or can_issue(finding, user):
        return True
    if can_respond(finding, user) or any(_id(a.owner, a.owner_id) == user.id for a in finding.actions):
        return True
    return finding.unit is not None and any(m.id == user.id for m in finding.unit.members)


def _auditee(finding, user) -> bool:
    return can_respond(finding, user) and not finding.is_scar


def _may_cost(finding, user) -> bool:
    if finding.status is S.DRAFT:  # drafts are the audit side's work in progress
        return can_issue(finding, user)
    return can_respond(finding, user) or can_issue(finding, user) or can_verify(finding, user)


# --- guards: "not now", with the reason the page and the 409 show ------------------------------

def _nonconformity(finding, user) -> str | None:
    return None if finding.grade.is_nonconformity else "Only nonconformities are answered this way."


def _ofi_or_observation(finding, user) -> str | None:
    if finding.grade in (Grade.OFI, Grade.OBSERVATION):
        return None
    return "Only observations and OFIs are accepted or declined."


def _closable(finding, user) -> str | None:
    if finding.grade is Grade.MAJOR:
        return ("A major nonconformity cannot close without verified implementation and an "
                "effectiveness review.")
    if finding.status is S.ACCEPTED and (not finding.actions or any(
            a.status is ActionStatus.OPEN for a in finding.actions)):
        return "The improvement actions are not all done yet."
    return None


def _has_open_action(finding, user) -> str | None:
    if any(a.status is ActionStatus.OPEN for a in finding.actions):
        return None
    return "No action is open."


def _extension_possible(finding, user) -> str | None:
    if not (finding.response_due_on or finding.closure_due_on):
        return "This finding has no deadline to extend."
    if any(e.status is ExtensionStatus.PENDING for e in finding.extensions):
        return "An extension request is already waiting for a decision."
    return None


def _extension_waiting(finding, user) -> str | None:
    pending = [e for e in finding.extensions if e.status is ExtensionStatus.PENDING]
    if not pending:
        return "No extension request is waiting."
    if all(e.requested_by_id == user.id for e in pending):
        return "Nobody decides their own extension request."
    return None


_ANSWERED = frozenset({S.ISSUED, S.AWAITING_RESPONSE, S.RESPONSE_SUBMITTED, S.ACTION_IN_PROGRESS,
                       S.PENDING_VERIFICATION, S.ACCEPTED, S.DECLINED})
_ACTING = frozenset({S.ACTION_IN_PROGRESS, S.ACCEPTED})
_AUDIT_SIDE = "Only the audit's lead or auditors, or a coordinator, do this."
_VERIFIER = ("Only the audit side (its lead or auditors, the follow-up audit's team, a coordinator) "
             "reviews and verifies, never an owner of the finding or of one of its actions.")
_OWNER = "Only the finding's owner or the unit's owner does this."

FINDING = Workflow("finding", state=lambda f: f.status, state_label=lambda f: f.status.label.lower(), steps=[
    Step("issue", "Issue finding", frozenset({S.DRAFT}), can_issue, _AUDIT_SIDE),
    Step("assign", "Assign owner", frozenset({S.ISSUED, S.AWAITING_RESPONSE}), can_issue, _AUDIT_SIDE),
    Step("decide", "Decide", frozenset({S.ISSUED}), _auditee, _OWNER, _ofi_or_observation),
    Step("respond", "Respond", frozenset({S.AWAITING_RESPONSE}), _auditee, _OWNER, _nonconformity),
    Step("accept", "Accept response", frozenset({S.RESPONSE_SUBMITTED}), can_verify, _VERIFIER),
    Step("reject", "Reject response", frozenset({S.RESPONSE_SUBMITTED}), can_verify, _VERIFIER),
    Step("add_action", "Add action", _ACTING, _auditee, _OWNER),
    Step("verify", "Verify effectiveness", frozenset({S.PENDING_VERIFICATION}), can_verify, _VERIFIER),
    Step("close", "Close finding", frozenset({S.PENDING_VERIFICATION, S.DECLINED, S.ACCEPTED}),
         can_verify, _VERIFIER, _closable),
    Step("reopen", "Raise repeat finding", frozenset({S.CLOSED}), can_issue, _AUDIT_SIDE),
    Step("request_extension", "Request an extension", _ANSWERED, can_respond, _OWNER, _extension_possible),
    Step("decide_extension", "Decide extension", _ANSWERED,
         lambda f, u: _coordinates(u), "Only a coordinator decides on extensions.", _extension_waiting),
    Step("add_cost", "Record a cost", _ANSWERED | {S.DRAFT}, _may_cost, "You may not record costs on this finding.",
         _nonconformity),
])


# --- supplier corrective action requests: the supplier's own stages -----------------------------

def _supplier(finding, user) -> bool:
    return finding.is_scar and can_respond(finding, user)


def _awaiting(finding, user) -> str | None:
    if finding.status is S.AWAITING_RESPONSE:
        return None
    return f"The SCAR is {finding.status.label.lower()}: nothing is asked of the supplier now."


_SUPPLIER = "Only the supplier's own contacts answer this SCAR."
SCAR = Workflow("SCAR", state=lambda f: f.scar_stage,
                state_label=lambda f: f"at stage “{f.scar_stage.label}”" if f.scar_stage else "not a SCAR", steps=[
    Step("acknowledge", "Acknowledge", frozenset({ScarStage.ISSUED}), _supplier, _SUPPLIER, _awaiting),
    Step("containment", "Record containment", frozenset({ScarStage.ACKNOWLEDGED, ScarStage.CONTAINMENT}),
         _supplier, _SUPPLIER, _awaiting),
    Step("root_cause", "Record the root cause", frozenset({ScarStage.CONTAINMENT, ScarStage.ROOT_CAUSE}),
         _supplier, _SUPPLIER, _awaiting),
    Step("plan", "Submit the action plan", frozenset({ScarStage.ROOT_CAUSE}), _supplier, _SUPPLIER, _awaiting),
])


# --- one corrective action ----------------------------------------------------------------------

def _action_finding_acting(action, user) -> str | None:
    if action.finding.status in _ACTING:
        return None
    return f"The finding is {action.finding.status.label.lower()}: its actions are not being implemented."


ACTION = Workflow("action", state=lambda a: a.status, state_label=lambda a: a.status.value, steps=[
    Step("complete_action", "Mark implemented", frozenset({ActionStatus.OPEN}),
         lambda a, u: can_respond(a.finding, u) or _id(a.owner, a.owner_id) == u.id,
         "Only the action's owner or the finding's owner completes it.", _action_finding_acting),
])
