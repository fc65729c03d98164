"""Verification of effectiveness and closure (ISO 9001 10.2.1 d)."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.findings.notifying import notify_transition
from audit.findings.probation import update_supplier_status
from audit.findings.responses import restart_deadlines
from audit.findings.transitions import text, transition
from audit.findings.workflow import FINDING
from audit.models import (
    Finding,
    FindingStatus,
    ScarStage,
)


def verify_effectiveness(finding: Finding, *, effective: bool, note: str, actor,
                         now: dt.datetime) -> Finding:
    """Review whether the actions worked (ISO 9001 10.2.1 d).

    Effective → closed, with implementation and effectiveness verified. Not effective → back to
    action in progress, recurrence count + 1; the owner plans further actions.
    """
    FINDING.require(finding, actor, "verify")
    note = text(note)
    if not note:
        raise DomainError("Record what the verification looked at.", field="note")
    finding.verified_by_id = actor.id
    finding.verified_at = now
    finding.verification_note = note
    if effective:
        finding.implementation_verified = True
        finding.effectiveness_verified = True
        finding.closed_at = now
        finding.closed_by_id = actor.id
        if finding.is_scar:
            finding.scar_stage = ScarStage.CLOSED
        transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                    summary=f"{finding.reference} verified effective and closed",
                    extra={"effective": True, "note": note})
    else:
        finding.recurrence_count += 1
        finding.implementation_verified = False
        finding.effectiveness_verified = False
        extra = {"effective": False, "note": note, "recurrence_count": finding.recurrence_count}
        # Internal owners add actions on the finding's page; a supplier re-plans (D5) on the
        # SCAR page, so its SCAR goes back to the plan stage and awaits the new plan, due
        # afresh (the old plan date passed long ago). Either way the closure is due afresh:
        # further actions must fit before it, and the old date is often past already.
        if finding.is_scar:
            finding.scar_stage = ScarStage.ROOT_CAUSE
            extra.update(restart_deadlines(finding, now))
        else:
            extra.update(restart_deadlines(finding, now, fields=("closure_due_on",)))
        transition(finding, FindingStatus.AWAITING_RESPONSE if finding.is_scar
                   else FindingStatus.ACTION_IN_PROGRESS, actor=actor, now=now,
                    summary=f"{finding.reference} not effective: back to action", extra=extra)
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "close" if effective else "not_effective", actor=actor, now=now,
                      note=f"Verification: {note}")
    return finding


def close_finding(finding: Finding, *, note: str, actor, now: dt.datetime) -> Finding:
    """Close a finding without an effectiveness review where the rules allow it.

    - a minor NC pending verification: the verifier confirms implementation;
    - an accepted OFI/observation once its improvement actions are done;
    - a declined OFI/observation.
    A major never closes this way: it needs ``verify_effectiveness``.
    """
    FINDING.require(finding, actor, "close")  # the workflow refuses majors and open actions
    note = text(note)
    if finding.status is FindingStatus.PENDING_VERIFICATION:
        if not note:
            raise DomainError("Record how the implementation was verified.", field="note")
        finding.implementation_verified = True
        finding.verified_by_id = actor.id
        finding.verified_at = now
        finding.verification_note = note
    finding.closed_at = now
    finding.closed_by_id = actor.id
    if finding.is_scar:
        finding.scar_stage = ScarStage.CLOSED
    transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                summary=f"{finding.reference} closed", extra={"note": note})
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "close", actor=actor, now=now)
    return finding
