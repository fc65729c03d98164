"""Every transition tells the people it concerns: one table, one function.

``notify_transition(finding, action, actor=..., now=...)`` is called by the services after each
transition. ``CONCERNS`` says, per action, who hears about it, under which notification kind
(so people tune them on their preferences page), what happened, what is now expected of them and
by when. The person who acted is never told about their own step. Each message is queued once
per (finding, action, moment, person), so a retried request sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from audit.extensions import db
from audit.findings.deadlines import DEADLINE_LABELS
from audit.findings.waiting import suppliers_with_contacts, waits_on_the_supplier
from audit.findings.workflow import DECIDING_ROLES, can_verify, may_answer, page_for
from audit.models import ActionStatus, Finding, FindingStatus, User
from audit.notifications.services import notify
from audit.people.services import coordinators, supplier_contacts


def responders(finding: Finding) -> list[User]:
    """Who answers ``finding``: its supplier's active contacts, else its owner."""
    if finding.is_scar:
        return supplier_contacts(finding.supplier_id)
    return [finding.owner] if finding.owner is not None else []


def _internal(people: list[User]) -> list[User]:
    """Only the organisation's own people (no supplier contacts)."""
    return [u for u in people if u.supplier_id is None]


def action_owners(finding: Finding) -> list[User]:
    """Owners of the finding's open actions."""
    return [a.owner for a in finding.actions if a.status is ActionStatus.OPEN and a.owner is not None]


def verifiers(finding: Finding) -> list[User]:
    """The audit side that reviews and verifies: the audit's (or follow-up audit's) active lead
    and auditors whom the workflow lets verify; coordinators when none can (a deactivated lead
    would otherwise count as someone, and the notice reach nobody)."""
    team = [m.user for audit in (finding.audit, finding.follow_up_audit) if audit is not None
            for m in audit.team if m.role in DECIDING_ROLES and m.user.is_active]
    people = [u for u in team if can_verify(finding, u)]
    return people or [u for u in coordinators() if can_verify(finding, u)]


def lead(finding: Finding) -> list[User]:
    """The audit's active lead, else its active auditors, else the coordinators: they stand in
    for a missing team in the waiting list, so they hear of its steps too."""
    team = [m.user for m in finding.audit.team if m.role in DECIDING_ROLES and m.user.is_active]
    leads = [u for u in team if u is finding.audit.lead]
    return leads or team or coordinators()


@dataclass(frozen=True)
class Concern:
    """Who hears about one action, and what they are told."""

    kind: str
    who: Callable[[Finding], list[User]]
    happened: str  #: e.g. "{ref} was issued to you" (``{ref}``, ``{grade}``, ``{actor}``)
    expected: str  #: what is now asked of them
    deadline: bool = True  #: say the finding's current deadline


def _owners_and_actions(f: Finding) -> list[User]:
    return [*responders(f), *action_owners(f)]


CONCERNS: dict[str, Concern] = {
    "issue": Concern("finding_issued", responders, "{grade} {ref} was issued to you by {actor}.",
                     "Answer it: containment, root cause and actions (observations and OFIs: accept or decline)."),
    "assign": Concern("finding_assigned", responders, "{actor} made you the owner of {grade} {ref}.",
                      "Answer the finding on its page."),
    "respond": Concern("finding_to_review", verifiers, "{actor} submitted the response to {grade} {ref}.",
                       "Review the response: accept it or reject it with a reason."),
    "accept": Concern("finding_decided", _owners_and_actions, "{actor} accepted the response to {grade} {ref}.",
                      "Implement the actions by their due dates and record the evidence."),
    "reject": Concern("finding_decided", responders, "{actor} rejected the response to {grade} {ref}.",
                      "Read the reason on the finding's page and answer again."),
    "decide": Concern("finding_decided", lead, "{actor} decided on {grade} {ref}.",
                      "Nothing unless you disagree; close it once its improvement actions are done.",
                      deadline=False),
    "implemented": Concern("finding_to_review", verifiers, "All actions of {grade} {ref} are implemented.",
                           "Verify the implementation and its effectiveness."),
    "not_effective": Concern("finding_decided", responders,
                             "{actor} found the actions on {grade} {ref} not effective.",
                             "Plan further actions (suppliers: submit a new action plan)."),
    "close": Concern("finding_decided", _owners_and_actions, "{actor} closed {grade} {ref}.",
                     "Nothing: the finding is closed.", deadline=False),
    "request_extension": Concern("finding_to_review", lambda f: coordinators(),
                                 "{actor} asked for more time on {grade} {ref}.",
                                 "Approve or refuse the extension request."),
    "decide_extension": Concern("finding_decided", responders, "{actor} decided the extension of {grade} {ref}.",
                                "Keep to the deadline below."),
    "add_action": Concern("finding_assigned", action_owners, "{actor} gave you an action on {grade} {ref}.",
                          "Implement it by its due date and record the evidence."),
    "stranded": Concern("finding_stranded", lambda f: coordinators(),
                        "{grade} {ref} was issued, but its owner cannot answer findings.",
                        "Reassign it to someone who can answer, or give the owner the auditee role."),
    "no_contact": Concern("finding_stranded", lambda f: coordinators(),
                          "SCAR {ref} waits on its supplier, but nobody there can answer it any more.",
                          "Have an administrator add a contact for the supplier (People), or take the "
                          "SCAR up with the supplier directly."),
    # The previous owner stops answering: told so that nobody keeps working on what is no longer
    # theirs (the new owner hears "assign"/"add_action" above).
    "unassign": Concern("finding_assigned", responders, "{actor} gave {grade} {ref} to another owner.",
                        "Nothing more: the new owner answers it now.", deadline=False),
    "unassign_action": Concern("finding_assigned", action_owners,
                               "{actor} gave your action on {grade} {ref} to another owner.",
                               "Nothing more: the new owner carries it out.", deadline=False),
    # A withdrawn action concerns whoever was to carry it out and the finding's owner, who
    # answers for the finding's actions as a whole (recipients: both, given by the service).
    "remove_action": Concern("finding_decided", _owners_and_actions, "{actor} withdrew an action on {grade} {ref}.",
                             "Nothing for that action; the finding's other actions stay due.", deadline=False),
    # A cost concerns the finding's owner (their process bears it and answers for it) and the
    # coordinators, who report the cost of poor quality to the management review and decide
    # whether a cost arriving after closure (a customer return) calls for a repeat finding.
    # The audit team is not told: costs change nothing they review or verify. Nor is a
    # supplier: costs are internal figures (the SCAR page shows none).
    "add_cost": Concern("finding_cost", lambda f: [*_internal(responders(f)), *coordinators()],
                        "{actor} recorded a cost of poor quality on {grade} {ref}.",
                        "Check the amount on the finding's page; it counts in the cost trends.",
                        deadline=False),
    "acknowledge": Concern("scar_progress", lead, "The supplier acknowledged SCAR {ref}.",
                           "Nothing yet: the supplier's containment is due next."),
    "containment": Concern("scar_progress", lead, "The supplier recorded containment on SCAR {ref}.",
                           "Check the containment is adequate; the root cause is due next."),
    "root_cause": Concern("scar_progress", lead, "The supplier recorded the root cause of SCAR {ref}.",
                          "Nothing yet: the action plan is due next."),
}


def notify_transition(finding: Finding, action: str, *, actor, now: dt.datetime,
                      recipients: list[User] | None = None, note: str | None = None,
                      about: str = "") -> int:
    """Tell the people ``action`` on ``finding`` concerns; returns how many were told.

    ``recipients`` overrides the table's people (e.g. one action's new owner), ``note`` adds a
    line (a rejection reason, a decision), ``about`` names what within the finding it is about
    (an action, a cost) so that two of them at the same moment are each told.
    """
    concern = CONCERNS[action]
    people = recipients if recipients is not None else concern.who(finding)
    fmt = {"ref": finding.reference, "grade": finding.grade.label,
           "actor": getattr(actor, "name", None) or "The system"}
    lines = [f"What happened: {concern.happened.format(**fmt)}"]
    if note:
        lines.append(note)
    lines.append(f"What is expected of you: {concern.expected}")
    deadline, due = finding.current_deadline()
    if concern.deadline and due is not None:
        lines.append(f"By: {due:%d %b %Y} ({DEADLINE_LABELS[deadline].lower()} deadline)")
    sent, seen = 0, set()
    for user in people:
        if user is None or user.id in seen or (actor is not None and user.id == getattr(actor, "id", None)):
            continue
        seen.add(user.id)
        if notify(user, kind=concern.kind, title=concern.happened.format(**fmt),
                  body="\n".join(lines), link=page_for(finding, user),
                  dedupe_key=f"finding:{finding.id}:{action}{about}:{now.isoformat()}:{user.id}", now=now):
            sent += 1
    return sent


def notify_if_stranded(finding: Finding, *, actor, now: dt.datetime) -> int:
    """Flag an issued finding that nobody on the auditee side can answer to the coordinators."""
    from audit.findings.workflow import needs_owner

    if finding.owner is not None and needs_owner(finding) and not may_answer(finding, finding.owner):
        return notify_transition(finding, "stranded", actor=actor, now=now)
    return 0


def notify_if_supplier_unanswered(supplier_id: int | None, *, actor, now: dt.datetime) -> int:
    """After a supplier contact left (deactivated, role or company changed): tell the coordinators
    of each SCAR that waits on that supplier when nobody there can answer it now, the rule of
    their "Supplier contact to add" item (``waiting.suppliers_with_contacts``). (A SCAR is never
    issued to a supplier without an active contact: ``issue_finding`` refuses it.)"""
    if supplier_id is None:
        return 0
    scars = [f for f in db.session.scalars(select(Finding).where(
        Finding.supplier_id == supplier_id, Finding.status == FindingStatus.AWAITING_RESPONSE))
        if waits_on_the_supplier(f)]
    if not scars or supplier_id in suppliers_with_contacts(scars):
        return 0
    return sum(notify_transition(f, "no_contact", actor=actor, now=now) for f in scars)
