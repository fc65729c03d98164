"""Moving the audit along its life cycle as it is conducted (plan issued, first answer, report).

The rules of the life cycle stay in ``audit.audits.workflow``; this only asks it. When they
refuse a move (a lead's qualification lapsed before the audit day, say), what was done is kept
-- the answers an auditor saves on the floor, the plan the lead issued -- and the audit keeps its
status: the competence rule still holds, and only a coordinator may decide how to restore it
(record the renewal, change the team, or postpone the audit). The refusal is not silent: it is
written to the trail and the coordinators and the lead are told once (``_report_refusal``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select

from audit.audits.services import change_status
from audit.audits.staffing_watch import KIND
from audit.audits.workflow import can_move
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, AuditStatus, TrailEntry
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.trail.services import record

#: The trail action of a move the life cycle refused.
REFUSED = "status_refused"
#: What each audience is expected to do about a refused move.
EXPECTED = {
    "coordinator": "Fix what the message names on the audit page (record a renewed qualification, change "
                   "the team, set the dates), then move the audit on with its status form; or postpone it "
                   "with a reason.",
    "lead": "Carry on: what you record is kept. Agree with the audit coordinator how the team is put right; "
            "the audit moves on once it is.",
}


def advance_status(audit: Audit, target: AuditStatus, *, actor, now: dt.datetime) -> bool:
    """Move the audit to ``target`` through the audit life-cycle service when its rules allow.

    A refusal by the rules (``DomainError``) keeps the audit's status and whatever the caller
    recorded, and is reported once (trail, coordinators and lead). Returns whether it moved."""
    if not can_move(audit, target):
        return False
    try:
        with db.session.begin_nested():
            change_status(audit, target, actor=actor, now=now)
    except DomainError as refusal:
        _report_refusal(audit, target, refusal.message, actor=actor, now=now)
        return False
    return True


def _report_refusal(audit: Audit, target: AuditStatus, reason: str, *, actor, now: dt.datetime) -> None:
    """Record in the trail and tell the coordinators and the lead, once per audit, status, target
    and reason, that ``audit`` could not move to ``target``: every later answer meets the same
    refusal, and must not repeat it."""
    status = audit.status.label.lower()
    summary = f"{audit.reference} stays {status}: it could not move to {target.label.lower()}. {reason}"
    seen = db.session.scalar(select(TrailEntry.id).where(
        TrailEntry.object_type == "Audit", TrailEntry.object_id == audit.id, TrailEntry.action == REFUSED,
        TrailEntry.summary == summary).limit(1))
    if seen is not None:
        return
    record(audit, REFUSED, actor=actor, now=now, summary=summary,
           changes={"status": [audit.status.value, target.value], "reason": reason})
    digest = hashlib.sha1(summary.encode()).hexdigest()[:12]
    audience = [(person, "coordinator") for person in coordinators()]
    if audit.lead is not None:
        audience.append((audit.lead, "lead"))
    for person, role in audience:
        body = "\n".join([f"What happened: {reason} {audit.reference} ({audit.title}) therefore stays "
                          f"{status} instead of moving to {target.label.lower()}; what was recorded is kept.",
                          f"What is expected of you: {EXPECTED[role]}"])
        notify(person, kind=KIND, title=f"{audit.reference} stays {status}: its move to "
                                         f"{target.label.lower()} was refused",
               body=body, link=f"/audits/{audit.id}",
               dedupe_key=f"audit:{audit.id}:refused:{target.value}:{digest}:{person.id}", now=now)


def start_fieldwork(audit: Audit, *, actor, now: dt.datetime) -> None:
    """The first answer puts a scheduled audit in progress (when the life cycle allows it)."""
    advance_status(audit, AuditStatus.IN_PROGRESS, actor=actor, now=now)
