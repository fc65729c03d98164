"""Who carries each corrective action: hand an action to another owner, or withdraw it."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.notifying import notify_transition, responders
from audit.findings.transitions import text
from audit.findings.workflow import ACTION
from audit.models import ActionStatus, CorrectiveAction
from audit.trail.services import record


def could_carry(finding, user) -> bool:
    """An action can be given to any active person of the organisation (a SCAR's: the
    supplier's own contacts), whatever their role: they only mark it implemented."""
    if user is None or not user.is_active:
        return False
    return user.supplier_id == finding.supplier_id if finding.is_scar else user.supplier_id is None


def reassign_action(action: CorrectiveAction, owner, *, actor, now: dt.datetime) -> CorrectiveAction:
    """Give an open action to another owner (trailed; the new owner is told)."""
    ACTION.require(action, actor, "reassign_action")
    finding = action.finding
    if not could_carry(finding, owner):
        raise DomainError("Choose an active person who can carry out actions on this finding.",
                          field="owner_id")
    if owner.id == action.owner_id:
        raise DomainError(f"{owner.name} already owns this action.", field="owner_id")
    old = action.owner
    action.owner = owner
    db.session.flush()
    record(action, "update", actor=actor, now=now,
           summary=f"Action on {finding.reference} given to {owner.name}"
                   + (f" (was {old.name})" if old else ""),
           changes={"owner": [old.name if old else None, owner.name]})
    note = f"Action: {action.description} (due {action.due_on:%d %b %Y})"
    notify_transition(finding, "add_action", actor=actor, now=now, recipients=[owner], note=note,
                      about=f":{action.id}")
    if old is not None:
        notify_transition(finding, "unassign_action", actor=actor, now=now, recipients=[old],
                          note=f"{note}, now with {owner.name}", about=f":{action.id}")
    return action


def remove_action(action: CorrectiveAction, reason: str, *, actor, now: dt.datetime) -> CorrectiveAction:
    """Withdraw an open action with a reason (kept as cancelled: the record stays)."""
    ACTION.require(action, actor, "remove_action")
    reason = text(reason)
    if not reason:
        raise DomainError("Say why the action is withdrawn.", field="reason")
    action.status = ActionStatus.CANCELLED
    db.session.flush()
    record(action, "transition", actor=actor, now=now,
           summary=f"Action on {action.finding.reference} withdrawn",
           changes={"status": ["open", "cancelled"], "reason": reason})
    finding = action.finding
    notify_transition(finding, "remove_action", actor=actor, now=now,
                      recipients=[action.owner, *responders(finding)],
                      note=f"Action: {action.description}\nReason: {reason}", about=f":{action.id}")
    return action
