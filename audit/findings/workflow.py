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
    # Naming the first owner and reassigning later are one step, open while the finding is.
    Step("assign", "Assign owner", _ANSWERED, can_issue, _AUDIT_SIDE),
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
    # Costs keep arriving after closure (customer returns): recording one changes no finding.
    Step("add_cost", "Record a cost", _ANSWERED | {S.DRAFT, S.CLOSED}, _may_cost, "You may not record costs on this finding.",
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

def _action_finding_open(action, user) -> str | None:
    if action.finding.status in _ANSWERED:
        return None
    return f"The finding is {action.finding.status.label.lower()}: its actions are a record now."


def _action_finding_acting(action, user) -> str | None:
    if action.finding.status in _ACTING:
        return None
    return f"The finding is {action.finding.status.label.lower()}: its actions are not being implemented."


def _plans_actions(action, user) -> bool:
    """Who hands out and withdraws actions: the audit side and the internal finding's owner."""
    return can_issue(action.finding, user) or _auditee(action.finding, user)


def _another_open(action, user) -> str | None:
    if any(a is not action and a.status is ActionStatus.OPEN for a in action.finding.actions):
        return None
    return "This is the last open action: mark it implemented, or add another before removing it."


_PLANNER = "Only the audit side or the finding's owner hands out or removes actions."
ACTION = Workflow("action", state=lambda a: a.status, state_label=lambda a: a.status.value, steps=[
    Step("complete_action", "Mark implemented", frozenset({ActionStatus.OPEN}),
         lambda a, u: can_respond(a.finding, u) or _id(a.owner, a.owner_id) == u.id,
         "Only the action's owner or the finding's owner completes it.", _action_finding_acting),
    Step("reassign_action", "Reassign action", frozenset({ActionStatus.OPEN}), _plans_actions, _PLANNER,
         _action_finding_open),
    Step("remove_action", "Remove action", frozenset({ActionStatus.OPEN}), _plans_actions, _PLANNER,
         lambda a, u: _action_finding_open(a, u) or _another_open(a, u)),
])


# --- what is waiting for whom -------------------------------------------------------------------
#
# An item waits for a person when the workflow grants them an action that moves it on. The
# to-do list, the navigation count and the stranded-finding check all read this, so they can
# never disagree with what the pages offer.

#: Forward actions of a finding, in the order the to-do list names them. Not forward: reopen,
#: request_extension, add_cost (optional), and ``assign`` / ``add_action`` except as below.
FORWARD_FINDING = ("issue", "assign", "decide", "respond", "accept", "verify", "close",
                   "decide_extension", "add_action")
#: The SCAR step that moves each stage on (the same step from the next stage only edits).
FORWARD_SCAR = {ScarStage.ISSUED: "acknowledge", ScarStage.ACKNOWLEDGED: "containment",
                ScarStage.CONTAINMENT: "root_cause", ScarStage.ROOT_CAUSE: "plan"}


def page_for(finding, user) -> str:
    """Where ``user`` works on ``finding``: a supplier contact on the SCAR page (the only one they
    may open), everyone else -- the auditors reviewing a SCAR too -- on the finding's page."""
    outside = getattr(user, "supplier_id", None) is not None
    return f"/scar/{finding.id}" if outside else f"/findings/{finding.id}"


def may_answer(finding, user) -> bool:
    """``user`` is an active, non-administrator person who can answer ``finding`` (an
    administrator's blanket rights never count as someone answering)."""
    return (user is not None and getattr(user, "is_active", True) and not is_admin(user)
            and can_respond(finding, user))


def could_own(finding, user) -> bool:
    """Whether ``user``, made the owner, could answer ``finding`` (``can_respond`` for an owner)."""
    if user is None or not getattr(user, "is_active", True) or is_admin(user):
        return False
    if finding.is_scar:
        return user.can(Permission.RESPOND_SCAR) and user.supplier_id == finding.supplier_id
    return user.can(Permission.RESPOND_FINDING) and user.supplier_id is None


def needs_owner(finding) -> bool:
    """An issued internal finding that nobody on the auditee side can answer: no owner, or an
    owner (and unit owner) without the capability — e.g. a coordinator owning a unit."""
    if finding.is_scar or finding.status not in (S.ISSUED, S.AWAITING_RESPONSE):
        return False
    if finding.status is S.ISSUED and finding.grade.is_nonconformity:
        return True  # an issued NC waits in "issued" exactly until it has an owner
    people = [finding.owner, finding.unit.owner if finding.unit is not None else None]
    return not any(may_answer(finding, p) for p in people if p is not None)


#: Forward steps of the auditee side: they wait for someone who answers the finding (its owner,
#: the unit's owner, the supplier's contacts), never for an administrator's blanket rights.
AUDITEE_STEPS = frozenset({"decide", "respond", "add_action"})

#: Audit-side steps the audit's own team does; a coordinator is their fallback only.
TEAM_STEPS = frozenset({"issue", "accept", "verify", "close"})


def _team_can(finding, name: str) -> bool:
    """An active member of the audit's (or the follow-up audit's) lead and auditors may take
    ``name`` on ``finding`` now."""
    for audit in (finding.audit, finding.follow_up_audit):
        for member in (audit.team if audit is not None else ()):
            person = member.user
            if (member.role in DECIDING_ROLES and person is not None and person.is_active
                    and not is_admin(person) and FINDING.decide(finding, person, name).allowed):
                return True
    return False


def on_team(finding, user) -> bool:
    """``user`` is a lead or auditor of the finding's audit or of its follow-up audit."""
    return (team_role(finding.audit, user) in DECIDING_ROLES
            or team_role(finding.follow_up_audit, user) in DECIDING_ROLES)


def audit_side_turn(finding) -> bool:
    """Whether ``finding`` now waits for the audit side -- an owner to name, a response to
    review, a verification or the closing -- rather than for its owner or supplier. The sweep's
    overdue notice goes to whoever's turn it is, and the unit owner's rung of the escalation
    ladder (the auditee's line manager) concerns the auditee's turn only."""
    if finding.status in (S.DRAFT, S.RESPONSE_SUBMITTED, S.PENDING_VERIFICATION, S.DECLINED):
        return True
    if finding.status is S.ACCEPTED:  # an accepted OFI: its actions, then the audit side closes
        return not any(a.status is ActionStatus.OPEN for a in finding.actions)
    return needs_owner(finding)


def waiting_steps(finding, user) -> list[str]:
    """The forward actions ``user`` is granted on ``finding`` now: what it waits for from them.

    ``assign`` counts only while nobody can answer (otherwise it is a reassignment), and
    ``add_action`` only while an NC's actions are all done yet it is in progress (after "not
    effective", new actions are due).
    ``reject`` is the other face of ``accept``: one item, "review the response".
    The audit side's steps (issue, review, verify, close) wait for the audit's team; for a
    coordinator who is not on it, only when no active team member can take them (the lead left,
    nobody on the team may verify): coordinators see what is theirs — owners to name, stranded
    findings, extensions — not every verification of every audit. The auditee side's steps wait
    only for someone who answers (``may_answer``): an administrator may act for anyone, but
    nothing waits for them because of it.
    """
    granted = FINDING.allowed(finding, user)
    answers = may_answer(finding, user)
    steps = []
    for name in FORWARD_FINDING:
        if name not in granted:
            continue
        if name in AUDITEE_STEPS and not answers:
            continue  # an administrator's blanket rights are not the auditee's turn
        if name in TEAM_STEPS and not on_team(finding, user) and _team_can(finding, name):
            continue
        if name == "assign" and not needs_owner(finding):
            continue
        if name == "add_action" and (finding.status is not S.ACTION_IN_PROGRESS or any(
                a.status is ActionStatus.OPEN for a in finding.actions)):
            continue  # an accepted OFI with its actions done waits for closure instead
        steps.append(name)
    if finding.is_scar and answers:
        forward = FORWARD_SCAR.get(finding.scar_stage)
        if forward and SCAR.decide(finding, user, forward).allowed:
            steps.append(forward)
    return steps


def action_waits_for(action, user) -> bool:
    """An open action waits for its owner; for the finding's owner (who may also mark it
    implemented) only when the action has no active owner to do it."""
    if not ACTION.decide(action, user, "complete_action").allowed:
        return False
    owner = action.owner
    if owner is not None and owner.is_active and ACTION.decide(action, owner, "complete_action").allowed:
        return owner.id == user.id
    return True
