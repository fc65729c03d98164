"""The auditee's side of a nonconformity: root cause, response, actions; OFI decisions."""

from __future__ import annotations

import datetime as dt
import re

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.probation import update_supplier_status
from audit.findings.transitions import text, transition
from audit.findings.workflow import ACTION, FINDING, SCAR
from audit.models import (
    ISHIKAWA_CATEGORIES,
    ActionKind,
    ActionStatus,
    CorrectiveAction,
    Finding,
    FindingStatus,
    Grade,
    RootCauseMethod,
    ScarStage,
)
from audit.trail.services import record, snapshot

#: Phrases that do not explain a cause on their own (PRACTICE).
_BLAMING_PHRASES = (
    "operator error", "human error", "operator mistake", "human mistake", "user error",
    "retrain", "retrained", "retraining", "re-train", "re-training", "training", "train operator",
    "lack of training", "employee error", "staff error", "carelessness", "careless", "mistake",
    "error", "operator", "staff", "employee", "the", "a", "an", "by", "of", "was", "were", "is",
    "due", "to", "and", "or", "not", "no", "did", "follow", "instructions", "procedure",
    "forgot", "forgotten",
)


def check_root_cause(root_cause: str | None) -> str:
    """Return the cleaned root cause, or refuse blame-only statements.

    "Operator error" or "retrain" alone explain nothing: what let the error happen, or why the
    knowledge was missing, is the cause (PRACTICE).
    """
    cause = text(root_cause)
    if not cause:
        raise DomainError("State the root cause the analysis arrived at.", field="root_cause")
    words = re.findall(r"[a-z]+", cause.lower())
    meaningful = [w for w in words if w not in _BLAMING_PHRASES]
    if len(meaningful) < 2:
        raise DomainError(
            "“Operator error” or “retrain” alone is not a root cause: say what in the method, "
            "machine, material, measurement or environment let it happen.", field="root_cause")
    return cause


def clean_whys(whys) -> list[str]:
    """The non-empty answers of a 5 Whys chain, stripped."""
    return [w.strip() for w in (whys or []) if w and w.strip()]


def clean_ishikawa(ishikawa) -> dict[str, str]:
    """The filled 6M categories of an Ishikawa analysis; unknown categories are refused."""
    result = {}
    for key, value in (ishikawa or {}).items():
        if key not in ISHIKAWA_CATEGORIES:
            raise DomainError(f"Unknown Ishikawa category “{key}”.", field="ishikawa")
        if value and value.strip():
            result[key] = value.strip()
    return result


def _build_action(finding: Finding, spec: dict, *, round_: int) -> CorrectiveAction:
    description = text(spec.get("description"))
    if not description:
        raise DomainError("Describe each action.", field="actions")
    kind = spec.get("kind") or ActionKind.CORRECTIVE
    if isinstance(kind, str):
        kind = ActionKind(kind)
    due_on = spec.get("due_on")
    if due_on is None:
        raise DomainError("Give each action a due date.", field="actions")
    if finding.closure_due_on and due_on > finding.closure_due_on:
        raise DomainError(f"Actions must be due by the closure deadline "
                          f"({finding.closure_due_on:%d %b %Y}); request an extension first.",
                          field="actions")
    owner = spec.get("owner") or finding.owner
    return CorrectiveAction(kind=kind, description=description,
                            owner=owner, due_on=due_on, status=ActionStatus.OPEN, round=round_)


def submit_response(
    finding: Finding,
    *,
    containment: str | None,
    extent_check: str | None,
    root_cause_method: RootCauseMethod | None,
    root_cause: str | None,
    actions: list[dict],
    whys: list[str] | None = None,
    ishikawa: dict[str, str] | None = None,
    actor,
    now: dt.datetime,
) -> Finding:
    """The owner answers an NC: correction/containment, extent check, root cause and actions.

    All of it is required (ISO 9001 10.2.1): a response without a corrective action, or with a
    blame-only root cause, is refused with nothing stored.
    """
    if finding.is_scar:  # the supplier answers stage by stage; the plan completes the response
        SCAR.require(finding, actor, "plan")
    else:
        FINDING.require(finding, actor, "respond")
    if not finding.grade.is_nonconformity:
        raise DomainError("Observations and OFIs are accepted or declined, not answered.")
    containment = text(containment)
    if not containment:
        raise DomainError("Record the correction / containment taken.", field="containment")
    extent_check = text(extent_check)
    if not extent_check:
        raise DomainError("Say whether the nonconformity exists or could occur elsewhere.",
                          field="extent_check")
    if root_cause_method is None:
        raise DomainError("Choose the root-cause method used.", field="root_cause_method")
    whys = clean_whys(whys)
    ishikawa = clean_ishikawa(ishikawa)
    if root_cause_method is RootCauseMethod.FIVE_WHYS and len(whys) < 2:
        raise DomainError("Ask “why?” at least twice (up to five times).", field="whys")
    if root_cause_method is RootCauseMethod.ISHIKAWA and not ishikawa:
        raise DomainError("Record at least one Ishikawa (6M) contribution.", field="ishikawa")
    root_cause = check_root_cause(root_cause)
    new_actions = [_build_action(finding, spec, round_=finding.recurrence_count)
                   for spec in actions]
    if not any(a.kind is ActionKind.CORRECTIVE for a in new_actions):
        raise DomainError("Plan at least one corrective action that removes the cause.",
                          field="actions")
    finding.containment = containment
    finding.extent_check = extent_check
    finding.root_cause_method = root_cause_method
    finding.whys = whys or None
    finding.ishikawa = ishikawa or None
    finding.root_cause = root_cause
    finding.response_submitted_at = now
    finding.actions.extend(new_actions)
    db.session.flush()
    transition(finding, FindingStatus.RESPONSE_SUBMITTED, actor=actor, now=now,
                summary=f"Response to {finding.reference} submitted",
                extra={"root_cause": root_cause, "containment": containment,
                       "extent_check": extent_check,
                       "actions": [f"{a.kind.value}: {a.description} (due {a.due_on})"
                                   for a in new_actions]})
    if finding.is_scar:
        finding.scar_stage = ScarStage.ACTION_PLAN
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def accept_response(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """The auditor accepts the response: actions go ahead."""
    FINDING.require(finding, actor, "accept")
    transition(finding, FindingStatus.ACTION_IN_PROGRESS, actor=actor, now=now,
                summary=f"Response to {finding.reference} accepted")
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def reject_response(finding: Finding, reason: str, *, actor, now: dt.datetime) -> Finding:
    """The auditor rejects the response with a reason: the owner answers again."""
    FINDING.require(finding, actor, "reject")
    reason = text(reason)
    if not reason:
        raise DomainError("Say why the response is rejected.", field="reason")
    # The planned actions go with the rejected response; a new response plans them again.
    for action in list(finding.actions):
        if action.status is ActionStatus.OPEN and action.round == finding.recurrence_count:
            action.status = ActionStatus.CANCELLED
    finding.rejection_reason = reason
    finding.rejection_count += 1
    if finding.is_scar:
        finding.scar_stage = (ScarStage.CONTAINMENT if finding.scar_containment_at
                              else ScarStage.ACKNOWLEDGED)
    transition(finding, FindingStatus.AWAITING_RESPONSE, actor=actor, now=now,
                summary=f"Response to {finding.reference} rejected",
                extra={"reason": reason, "rejection_count": finding.rejection_count})
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def add_action(finding: Finding, *, kind: ActionKind, description: str, due_on: dt.date | None,
               owner=None, actor, now: dt.datetime) -> CorrectiveAction:
    """Plan a further action while actions are in progress (e.g. after "not effective")."""
    FINDING.require(finding, actor, "add_action")
    action = _build_action(finding, {"kind": kind, "description": description,
                                     "due_on": due_on, "owner": owner},
                           round_=finding.recurrence_count)
    finding.actions.append(action)
    db.session.flush()
    record(action, "create", actor=actor, now=now,
           summary=f"Action planned on {finding.reference}",
           changes=snapshot({"kind": kind, "description": action.description,
                             "due_on": due_on, "owner_id": action.owner_id}))
    return action


def complete_action(action: CorrectiveAction, evidence: str, *, actor,
                    now: dt.datetime) -> CorrectiveAction:
    """Mark an action implemented with its evidence.

    When the last open action of an NC is done, the finding waits for verification.
    """
    finding = action.finding
    ACTION.require(action, actor, "complete_action")
    if action.status is not ActionStatus.OPEN:
        raise DomainError("This action is not open.")
    evidence = text(evidence)
    if not evidence:
        raise DomainError("Describe the implementation evidence (what shows it is done).",
                          field="evidence")
    action.status = ActionStatus.DONE
    action.completed_at = now
    action.implementation_evidence = evidence
    db.session.flush()
    record(action, "transition", actor=actor, now=now,
           summary=f"Action on {finding.reference} implemented",
           changes={"status": ["open", "done"], "implementation_evidence": evidence})
    still_open = [a for a in finding.actions if a.status is ActionStatus.OPEN]
    if not still_open and finding.status is FindingStatus.ACTION_IN_PROGRESS:
        if finding.is_scar:
            finding.scar_stage = ScarStage.IMPLEMENTED
        transition(finding, FindingStatus.PENDING_VERIFICATION, actor=actor, now=now,
                    summary=f"{finding.reference}: all actions implemented, awaiting verification")
    return action


def decide_finding(finding: Finding, *, accept: bool, rationale: str, actor, now: dt.datetime,
                   action_description: str | None = None,
                   action_due_on: dt.date | None = None) -> Finding:
    """The owner accepts an OFI/observation (it becomes an improvement action) or declines it.

    Either way the rationale is recorded: it is the decision the standard asks for.
    """
    FINDING.require(finding, actor, "decide")
    if finding.grade not in (Grade.OFI, Grade.OBSERVATION):
        raise DomainError("Only observations and OFIs are accepted or declined.")
    rationale = text(rationale)
    if not rationale:
        raise DomainError("Give the rationale for the decision.", field="rationale")
    finding.decision_rationale = rationale
    if accept:
        if not text(action_description) or action_due_on is None:
            raise DomainError("Describe the improvement action and when it will be done.",
                              field="action_description")
        finding.actions.append(CorrectiveAction(
            kind=ActionKind.IMPROVEMENT, description=text(action_description),
            owner=actor, due_on=action_due_on, status=ActionStatus.OPEN))
        finding.closure_due_on = action_due_on
        transition(finding, FindingStatus.ACCEPTED, actor=actor, now=now,
                    summary=f"{finding.reference} accepted as an improvement",
                    extra={"rationale": rationale, "action": text(action_description)})
    else:
        transition(finding, FindingStatus.DECLINED, actor=actor, now=now,
                    summary=f"{finding.reference} declined", extra={"rationale": rationale})
    return finding
