"""The auditee's side of a nonconformity: root cause, response, actions; OFI decisions."""

from __future__ import annotations

import datetime as dt
import re

from flask import current_app

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.deadlines import compute_deadlines, local_date
from audit.findings.notifying import notify_transition
from audit.findings.ownership import could_carry
from audit.findings.probation import update_supplier_status
from audit.findings.transitions import text, transition
from audit.findings.workflow import ACTION, FINDING, SCAR
from audit.models import (
    EIGHT_D_DISCIPLINES,
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

#: Causes that blame a person, in any phrasing: they say who, not what let it happen (PRACTICE).
_BLAME = re.compile(
    r"\b(?:operators?|humans?|users?|employees?|staff|workers?|people|person|technicians?|"
    r"inspectors?|drivers?|shift)(?:'s)?\s+(?:errors?|mistakes?|faults?|slips?|failures?|"
    r"negligence|oversights?)\b"
    r"|\bre-?train(?:ed|ing)?\b|\bforg[eo]t(?:ten)?\b|\bcareless(?:ness)?\b|\bnegligen"
    r"|\bmistakes?\b|\bhuman factors?\b|\black of (?:training|attention|care|discipline)\b"
    r"|\b(?:did ?n[o']t|failed to|not) follow(?:ed|ing)?\b|\binattent", re.I)


def root_cause_categories() -> dict[str, str]:
    """Where a cause may lie: the configured list (default: Ishikawa 6M)."""
    return current_app.config.get("ROOT_CAUSE_CATEGORIES") or {c: c.capitalize() for c in ISHIKAWA_CATEGORIES}


def blames_people(statement: str | None) -> bool:
    """True when ``statement`` names a person's error, forgetting or retraining as the cause."""
    return bool(_BLAME.search(statement or ""))


def check_root_cause(root_cause: str | None, *, category: str | None = None,
                     whys=None) -> tuple[str, str]:
    """Return the cleaned (root cause, category), or refuse a cause that only blames people.

    A cause is categorised (6M or the configured list). "Operator error", "retrain" or "forgot",
    in any phrasing, is accepted only with a why beneath it (the last why of the chain) that
    names a system cause: what in the method, training system, design or equipment let it
    happen (PRACTICE). Short real causes such as "Fatigue" or "Miscalibration" pass.
    """
    cause = text(root_cause)
    if not cause:
        raise DomainError("State the root cause the analysis arrived at.", field="root_cause")
    category = text(category)
    categories = root_cause_categories()
    if category not in categories:
        raise DomainError("Choose where the cause lies: " + ", ".join(categories.values()) + ".",
                          field="root_cause_category")
    if blames_people(cause):
        # The chain must reach the blame and go beneath it: a later why that blames nobody.
        chain = clean_whys(whys)
        blamed = [i for i, why in enumerate(chain) if blames_people(why)]
        if not blamed or not any(not blames_people(why) for why in chain[blamed[-1] + 1:]):
            raise DomainError(
                "“Operator error”, “forgot” or “retrain” names who, not why: it is not a root cause "
                "until a why beneath it "
                "names the system cause (method, training system, design, equipment...).",
                field="root_cause")
    return cause, category


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


def clean_eight_d(eight_d) -> dict[str, str]:
    """The filled disciplines of an 8D report; unknown keys are refused."""
    keys = {key for key, _ in EIGHT_D_DISCIPLINES}
    result = {}
    for key, value in (eight_d or {}).items():
        if key not in keys:
            raise DomainError(f"Unknown 8D discipline “{key}”.", field="eight_d")
        if value and value.strip():
            result[key] = value.strip()
    return result


def check_analysis(method: RootCauseMethod | None, whys, ishikawa, eight_d):
    """The cleaned (whys, ishikawa, eight_d) of an analysis, refused unless the chosen method's
    own fields are filled: two whys, one 6M contribution, or the 8D team, problem and cause."""
    if method is None:
        raise DomainError("Choose the root-cause method used.", field="root_cause_method")
    whys, ishikawa, eight_d = clean_whys(whys), clean_ishikawa(ishikawa), clean_eight_d(eight_d)
    if method is RootCauseMethod.FIVE_WHYS and len(whys) < 2:
        raise DomainError("Ask “why?” at least twice (up to five times).", field="whys")
    if method is RootCauseMethod.ISHIKAWA and not ishikawa:
        raise DomainError("Record at least one Ishikawa (6M) contribution.", field="ishikawa")
    if method is RootCauseMethod.EIGHT_D:
        missing = [label for key, label in EIGHT_D_DISCIPLINES[:4] if key != "d3" and key not in eight_d]
        if missing:
            raise DomainError("Fill the 8D disciplines " + ", ".join(missing) + ".", field="eight_d")
    return whys, ishikawa, eight_d


def _build_action(finding: Finding, spec: dict, *, round_: int, actor=None) -> CorrectiveAction:
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
    # Unnamed: the finding's owner; on a SCAR, the supplier contact who planned it.
    owner = spec.get("owner") or (actor if finding.is_scar and actor is not None
                                  and actor.supplier_id == finding.supplier_id else finding.owner)
    if spec.get("owner") is not None and not could_carry(finding, owner):
        raise DomainError(f"{owner.name} cannot carry actions on this finding: choose an active "
                          "person of the organisation (a SCAR's: the supplier's contacts).", field="actions")
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
    eight_d: dict[str, str] | None = None,
    root_cause_category: str | None = None,
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
    whys, ishikawa, eight_d = check_analysis(root_cause_method, whys, ishikawa, eight_d)
    root_cause, category = check_root_cause(root_cause, category=root_cause_category, whys=whys)
    new_actions = [_build_action(finding, spec, round_=finding.recurrence_count, actor=actor)
                   for spec in actions]
    if not any(a.kind is ActionKind.CORRECTIVE for a in new_actions):
        raise DomainError("Plan at least one corrective action that removes the cause.",
                          field="actions")
    finding.containment = containment
    finding.extent_check = extent_check
    finding.root_cause_method = root_cause_method
    finding.whys = whys or None
    finding.ishikawa = ishikawa or None
    finding.eight_d = eight_d or None
    finding.root_cause = root_cause
    finding.root_cause_category = category
    finding.response_submitted_at = now
    finding.actions.extend(new_actions)
    db.session.flush()
    transition(finding, FindingStatus.RESPONSE_SUBMITTED, actor=actor, now=now,
                summary=f"Response to {finding.reference} submitted",
                extra={"root_cause": root_cause, "containment": containment,
                       "extent_check": extent_check,
                       "actions": "; ".join(
                           f"{a.kind.value}: {a.description} ({a.owner.name if a.owner else '—'}, "
                           f"due {a.due_on})" for a in new_actions)})
    if finding.is_scar:
        finding.scar_stage = ScarStage.ACTION_PLAN
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "respond", actor=actor, now=now)
    return finding


def accept_response(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """The auditor accepts the response: actions go ahead."""
    FINDING.require(finding, actor, "accept")
    transition(finding, FindingStatus.ACTION_IN_PROGRESS, actor=actor, now=now,
                summary=f"Response to {finding.reference} accepted")
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "accept", actor=actor, now=now)
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
    extra = {"reason": reason, "rejection_count": finding.rejection_count}
    if finding.is_scar:
        finding.scar_stage = (ScarStage.CONTAINMENT if finding.scar_containment_at
                              else ScarStage.ACKNOWLEDGED)
        extra.update(restart_deadlines(finding, now))
    transition(finding, FindingStatus.AWAITING_RESPONSE, actor=actor, now=now,
                summary=f"Response to {finding.reference} rejected", extra=extra)
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "reject", actor=actor, now=now, note=f"Reason: {reason}")
    return finding


def restart_deadlines(finding: Finding, now: dt.datetime,
                      fields: tuple[str, ...] = ("response_due_on", "closure_due_on")) -> dict:
    """Give a finding sent back for another round fresh ``fields`` deadlines, and return the
    changed dates for the trail: a SCAR back with the supplier (response rejected, actions not
    effective) its plan and closure, an internal finding whose actions were not effective its
    closure (its owner plans further actions, which must fit before it).

    They were dated from the issue; re-dated from the old issue they would be past the moment
    the finding reopens. So they are set again by the rule of the issue (``compute_deadlines``),
    counted from today where the audit happened; a SCAR's root-cause stage follows its plan
    date (``Finding.scar_due_dates``). A deadline is never brought forward.
    """
    fresh = dict(zip(("response_due_on", "closure_due_on"),
                     compute_deadlines(finding, local_date(finding, now)), strict=True))
    changes = {}
    for field, day in ((f, d) for f, d in fresh.items() if f in fields):
        old = getattr(finding, field)
        if day is not None and (old is None or day > old):
            setattr(finding, field, day)
            changes[field] = [old, day]
    return changes


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
                             "due_on": due_on, "owner": action.owner.name if action.owner else None}))
    notify_transition(finding, "add_action", actor=actor, now=now, recipients=[action.owner],
                      note=f"Action: {action.description} (due {action.due_on:%d %b %Y})",
                      about=f":{action.id}")
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
        notify_transition(finding, "implemented", actor=actor, now=now)
    elif not still_open and finding.status is FindingStatus.ACCEPTED:
        # An accepted OFI's improvements are done: the audit side may close it now.
        notify_transition(finding, "implemented", actor=actor, now=now)
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
    notify_transition(finding, "decide", actor=actor, now=now,
                      note=f"Decision: {'accepted' if accept else 'declined'} — {rationale}")
    return finding
