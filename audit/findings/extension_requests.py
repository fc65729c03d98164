"""Requests for more time on a response or closure deadline, and their decision."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings.deadlines import local_date
from audit.findings.notifying import notify_transition, responders
from audit.findings.probation import update_supplier_status
from audit.findings.transitions import text
from audit.findings.workflow import FINDING
from audit.models import (
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    FindingStatus,
)
from audit.trail.services import record, snapshot

#: While the finding is in one of these, its response is still due (and may be given more time).
RESPONSE_PENDING = (FindingStatus.ISSUED, FindingStatus.AWAITING_RESPONSE)


def _deadline_name(finding: Finding, deadline: str) -> str:
    """The deadline as the person asking knows it: a supplier's response is its action plan and
    its closure the implementation (``Finding.scar_due_dates``)."""
    if finding.is_scar:
        return {"response": "action plan", "closure": "implementation"}[deadline]
    return deadline


def extendable_deadlines(finding: Finding) -> list[str]:
    """The deadlines that still lie ahead of the finding's owner, the current one first: the
    response only while it is still to be given (an accepted response's date is history, and
    extending it would quietly move the closure by as many days), the closure while it is set."""
    names = []
    if finding.status in RESPONSE_PENDING and finding.response_due_on is not None:
        names.append("response")
    if finding.closure_due_on is not None:
        names.append("closure")
    return names


def request_extension(finding: Finding, *, deadline: str, new_due_on: dt.date | None,
                      reason: str, actor, now: dt.datetime) -> ExtensionRequest:
    """The owner asks to move the response or closure deadline, with a reason."""
    FINDING.require(finding, actor, "request_extension")
    if deadline not in ("response", "closure"):
        raise DomainError("Choose the response or the closure deadline.", field="deadline")
    if deadline == "response" and finding.status not in RESPONSE_PENDING:
        raise DomainError(f"The {_deadline_name(finding, 'response')} was given already: ask for more "
                          f"time on the {_deadline_name(finding, 'closure')} deadline instead.",
                          field="deadline")
    current = finding.response_due_on if deadline == "response" else finding.closure_due_on
    if current is None:
        raise DomainError(f"This finding has no {_deadline_name(finding, deadline)} deadline to extend.",
                          field="deadline")
    name = _deadline_name(finding, deadline)
    if new_due_on is None or new_due_on <= current:
        raise DomainError(f"The new date must be after the current {name} deadline "
                          f"({current:%d %b %Y}).", field="new_due_on")
    today = local_date(finding, now)
    if new_due_on <= today:
        # An approved extension must leave a day to act: a date already past is overdue at once.
        raise DomainError(f"The new date must be after today ({today:%d %b %Y}): ask for a day still "
                          "ahead.", field="new_due_on")
    if any(e.status is ExtensionStatus.PENDING for e in finding.extensions):
        raise DomainError("An extension request is already waiting for a decision.")
    reason = text(reason)
    if not reason:
        raise DomainError("Say why more time is needed.", field="reason")
    ext = ExtensionRequest(finding=finding, deadline=deadline, current_due_on=current,
                           requested_due_on=new_due_on, reason=reason,
                           requested_by_id=actor.id, requested_at=now)
    db.session.add(ext)
    db.session.flush()
    record(ext, "create", actor=actor, now=now,
           summary=f"Extension of {finding.reference} {deadline} deadline requested",
           changes=snapshot({"from": current, "to": new_due_on, "reason": reason}))
    notify_transition(finding, "request_extension", actor=actor, now=now,
                      note=f"Asked: {deadline} deadline from {current:%d %b %Y} to {new_due_on:%d %b %Y}. "
                           f"Reason: {reason}")
    return ext


def _require_still_current(ext: ExtensionRequest) -> None:
    """Refuse to approve a request the finding has moved past: a response extension once the
    response was given (approving it would move the closure by as many days, unseen), or any
    request whose deadline changed since it was asked (re-dated after "not effective", or
    extended otherwise): its new date could bring the deadline forward."""
    finding = ext.finding
    name = _deadline_name(finding, ext.deadline)
    if ext.deadline == "response" and finding.status not in RESPONSE_PENDING:
        raise DomainError(f"The {name} was given since this request was made: reject it with a note; "
                          f"more time on the {_deadline_name(finding, 'closure')} can be asked for "
                          "separately.", field="note")
    current = finding.response_due_on if ext.deadline == "response" else finding.closure_due_on
    if current != ext.current_due_on:
        now_due = f"{current:%d %b %Y}" if current else "none"
        raise DomainError(f"The {name} deadline changed since this request was made "
                          f"({ext.current_due_on:%d %b %Y} then, {now_due} now): reject it with a note; "
                          "a new request can start from the current date.", field="note")


def decide_extension(ext: ExtensionRequest, *, approve: bool, note: str | None, actor,
                     now: dt.datetime) -> ExtensionRequest:
    """A coordinator approves (the deadline moves) or rejects an extension request."""
    finding = ext.finding
    FINDING.require(finding, actor, "decide_extension")
    if actor.id == ext.requested_by_id:
        raise NotAllowed("Nobody decides their own extension request.")
    if ext.status is not ExtensionStatus.PENDING:
        raise DomainError("This request was decided already.")
    if not approve and not text(note):
        raise DomainError("Say why the extension is refused.", field="note")
    if approve:
        _require_still_current(ext)
    ext.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
    ext.decided_by_id = actor.id
    ext.decided_at = now
    ext.decision_note = text(note) or None
    db.session.flush()
    record(ext, "transition", actor=actor, now=now,
           summary=f"Extension of {finding.reference} {ext.status.value}",
           changes={"status": ["pending", ext.status.value], "note": ext.decision_note})
    if approve:
        field = "response_due_on" if ext.deadline == "response" else "closure_due_on"
        old = getattr(finding, field)
        setattr(finding, field, ext.requested_due_on)
        if ext.deadline == "response" and finding.closure_due_on and ext.current_due_on:
            # More time to answer leaves the same time to act: closure moves by as many days.
            finding.closure_due_on += ext.requested_due_on - ext.current_due_on
        finding.updated_at = now
        db.session.flush()
        record(finding, "update", actor=actor, now=now,
               summary=f"{ext.deadline.capitalize()} deadline extended",
               changes=snapshot({field: [old, ext.requested_due_on]}))
        if finding.is_scar:
            update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "decide_extension", actor=actor, now=now,
                      recipients=[*responders(finding), ext.requested_by],
                      note=f"Extension {ext.status.value}" + (f": {ext.decision_note}" if ext.decision_note else "."))
    return ext
