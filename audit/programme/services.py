"""Programme rules: create, edit and move a programme through draft → approved → active → closed."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Programme, ProgrammeStatus, User
from audit.programme.workflow import PROGRAMME
from audit.trail.services import apply_changes, record, snapshot


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
    programme = Programme(status=ProgrammeStatus.DRAFT, created_at=now, content_version=1,
                          prepared_by_id=getattr(actor, "id", None), **values)
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
    if APPROVED_CONTENT & changes.keys():
        mark_changed(programme)
    if changes:
        db.session.flush()
        record(programme, "update", actor=actor, now=now, summary=f"Updated programme {programme.name}",
               changes=changes)
    return programme


#: What top management approves: changing any of it after approval needs approval again.
APPROVED_CONTENT = frozenset({"period_start", "period_end", "objectives", "scope"})


def mark_changed(programme: Programme) -> None:
    """Scope, period, objectives or rules changed: a new content version (an approved programme
    then shows "changed since approval" until approved again)."""
    programme.content_version = (programme.content_version or 1) + 1


def approve_programme(programme: Programme, *, actor, now: dt.datetime) -> Programme:
    """Approve the programme as it stands (first approval, or again after a change); the trail
    keeps who approved which content version."""
    PROGRAMME.require(programme, actor, "approve")
    old = programme.status
    if old is ProgrammeStatus.DRAFT:
        programme.status = ProgrammeStatus.APPROVED
    programme.approved_by = actor
    programme.approved_at = now
    previous = programme.approved_version
    programme.approved_version = programme.content_version
    db.session.flush()
    record(programme, "approve", actor=actor, now=now,
           summary=f"Programme {programme.name} approved (version {programme.content_version})"
                   + (f", again after changes to version {previous}" if previous else ""),
           changes={"status": [old.value, programme.status.value],
                    "approved_version": [previous, programme.content_version]})
    return programme


def change_programme_status(programme: Programme, new: ProgrammeStatus, *, actor, now: dt.datetime) -> Programme:
    """Approve (see ``approve_programme``), activate, close, or send back to draft, as the
    programme workflow allows."""
    if new is ProgrammeStatus.APPROVED:
        return approve_programme(programme, actor=actor, now=now)
    old = programme.status
    PROGRAMME.require(programme, actor, new.value)
    programme.status = new
    db.session.flush()
    record(programme, "status", actor=actor, now=now,
           summary=f"Programme {programme.name}: {old.value} → {new.value}",
           changes={"status": [old.value, new.value]})
    return programme
