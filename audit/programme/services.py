"""Programme rules: create, edit and move a programme through draft → approved → active → closed."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.models import Programme, ProgrammeStatus, User
from audit.trail.services import apply_changes, record, snapshot

PROGRAMME_TRANSITIONS = {
    ProgrammeStatus.DRAFT: (ProgrammeStatus.APPROVED,),
    ProgrammeStatus.APPROVED: (ProgrammeStatus.ACTIVE, ProgrammeStatus.DRAFT),
    ProgrammeStatus.ACTIVE: (ProgrammeStatus.CLOSED,),
    ProgrammeStatus.CLOSED: (),
}


def _values(data: dict) -> dict:
    name = (data.get("name") or "").strip()
    if not name:
        raise DomainError("Name the programme.", field="name")
    start, end = data.get("period_start"), data.get("period_end")
    if start is None:
        raise DomainError("Give the first day of the period.", field="period_start")
    if end is None:
        raise DomainError("Give the last day of the period.", field="period_end")
    if end < start:
        raise DomainError("The period must end after it starts.", field="period_end")
    if (end - start).days > 3 * 366 + 31:
        raise DomainError("A programme covers at most a 3-year certification cycle.", field="period_end")
    manager = db.session.get(User, data["manager_id"]) if data.get("manager_id") else None
    return {
        "name": name, "period_start": start, "period_end": end,
        "objectives": (data.get("objectives") or "").strip() or None,
        "scope": (data.get("scope") or "").strip() or None,
        "risks": (data.get("risks") or "").strip() or None,
        "audit_client": (data.get("audit_client") or "").strip() or None,
        "manager": manager,
    }


def create_programme(data: dict, *, actor, now: dt.datetime) -> Programme:
    """A new draft programme."""
    values = _values(data)
    programme = Programme(status=ProgrammeStatus.DRAFT, created_at=now, **values)
    db.session.add(programme)
    db.session.flush()
    record(programme, "create", actor=actor, now=now, summary=f"Created programme {programme.name}",
           changes=snapshot(values))
    return programme


def update_programme(programme: Programme, data: dict, *, actor, now: dt.datetime) -> Programme:
    """Edit a programme (not once closed)."""
    if programme.status is ProgrammeStatus.CLOSED:
        raise DomainError("A closed programme can no longer be edited.")
    changes = apply_changes(programme, _values(data))
    if changes:
        db.session.flush()
        record(programme, "update", actor=actor, now=now, summary=f"Updated programme {programme.name}",
               changes=changes)
    return programme


def change_programme_status(programme: Programme, new: ProgrammeStatus, *, actor, now: dt.datetime) -> Programme:
    """Approve (by the audit client's delegate), activate, or close a programme."""
    old = programme.status
    if new not in PROGRAMME_TRANSITIONS[old]:
        raise DomainError(f"A programme cannot go from {old.value} to {new.value}.", field="status")
    if new is ProgrammeStatus.APPROVED:
        from audit.auth.permissions import Permission

        if actor is not None and not actor.can(Permission.APPROVE_PROGRAMME):
            raise NotAllowed("Only the audit client (or a coordinator on their behalf) approves a programme.")
        if not (programme.objectives or "").strip():
            raise DomainError("State the programme's objectives before approval.", field="status")
        programme.approved_by = actor
        programme.approved_at = now
    programme.status = new
    db.session.flush()
    record(programme, "status", actor=actor, now=now,
           summary=f"Programme {programme.name}: {old.value} → {new.value}",
           changes={"status": [old.value, new.value]})
    return programme
