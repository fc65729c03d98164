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


def approval_problem(programme: Programme, actor) -> str | None:
    """Why ``actor`` may not approve ``programme`` now, or None (DOMAIN.md §2, ISO 19011 5.4/5.5):
    the audit client (top management) approves; whoever prepared it may not approve it alone."""
    from audit.auth.permissions import Permission

    if actor is None or not actor.can(Permission.APPROVE_PROGRAMME):
        return "Only the audit client (top management) approves a programme."
    if actor.id in {programme.prepared_by_id, programme.manager_id}:
        return "You prepared this programme: someone else (top management) must approve it."
    if programme.status is ProgrammeStatus.CLOSED:
        return "A closed programme is no longer approved."
    if programme.status is not ProgrammeStatus.DRAFT and not programme.changed_since_approval:
        return "This version of the programme is already approved."
    if not (programme.objectives or "").strip():
        return "State the programme's objectives before approval."
    return None


def approve_programme(programme: Programme, *, actor, now: dt.datetime) -> Programme:
    """Approve the programme as it stands (first approval, or again after a change); the trail
    keeps who approved which content version."""
    problem = approval_problem(programme, actor)
    if problem is not None:
        raise (DomainError if "objectives" in problem else NotAllowed)(problem, field="status")
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
    """Approve (see ``approve_programme``), activate, close, or send back to draft."""
    old = programme.status
    if new not in PROGRAMME_TRANSITIONS[old]:
        raise DomainError(f"A programme cannot go from {old.value} to {new.value}.", field="status")
    if new is ProgrammeStatus.APPROVED:
        return approve_programme(programme, actor=actor, now=now)
    if new is ProgrammeStatus.ACTIVE and programme.changed_since_approval:
        raise DomainError("The programme changed since it was approved: top management approves it again "
                          "before it becomes active.", field="status")
    programme.status = new
    db.session.flush()
    record(programme, "status", actor=actor, now=now,
           summary=f"Programme {programme.name}: {old.value} → {new.value}",
           changes={"status": [old.value, new.value]})
    return programme
