"""Programme rules: create, edit and move a programme through draft → approved → active → closed.

Whoever may approve a programme (``waiting.approvers``) is told once when it comes to await
their approval (``ask_for_approval``); its coordinators are told when it is approved.
"""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Programme, ProgrammeStatus, User
from audit.models.types import utcnow
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.programme.waiting import approvers, awaits_approval, programme_coordinators
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
    ask_for_approval(programme, awaited_before=False, actor=actor, now=now)
    return programme


def update_programme(programme: Programme, data: dict, *, actor, now: dt.datetime) -> Programme:
    """Edit a programme (not once closed)."""
    if programme.status is ProgrammeStatus.CLOSED:
        raise DomainError("A closed programme can no longer be edited.")
    awaited_before = awaits_approval(programme)
    changes = apply_changes(programme, _values(data))
    if APPROVED_CONTENT & changes.keys():
        _new_content_version(programme)  # asked for approval below, with any other reason to
    if changes:
        db.session.flush()
        record(programme, "update", actor=actor, now=now, summary=f"Updated programme {programme.name}",
               changes=changes)
    # e.g. a draft's objectives stated at last: top management can approve it from now on
    ask_for_approval(programme, awaited_before=awaited_before, actor=actor, now=now)
    return programme


#: What top management approves: changing any of it after approval needs approval again.
APPROVED_CONTENT = frozenset({"period_start", "period_end", "objectives", "scope"})


def mark_changed(programme: Programme, *, actor=None, now: dt.datetime | None = None) -> None:
    """Scope, period, objectives or rules changed: a new content version (an approved programme
    then shows "changed since approval" until approved again, and its approvers are told)."""
    awaited_before = awaits_approval(programme)
    _new_content_version(programme)
    ask_for_approval(programme, awaited_before=awaited_before, actor=actor, now=now or utcnow())


def _new_content_version(programme: Programme) -> None:
    programme.content_version = (programme.content_version or 1) + 1


def ask_for_approval(programme: Programme, *, awaited_before: bool, actor, now: dt.datetime) -> int:
    """Tell the people who may approve ``programme`` that it now awaits their approval, once:
    only when it starts to (``awaited_before`` false), not at every later edit of a draft or of
    an already changed programme. One notification per person and content version at which the
    approval was asked. Returns how many were told."""
    if awaited_before or not awaits_approval(programme):
        return 0
    again = programme.changed_since_approval
    what = (f"{programme.name} changed since its approval (version {programme.approved_version}); "
            f"version {programme.content_version} needs approval again." if again
            else f"{programme.name} (draft, {programme.period_start:%d %b %Y} to "
                 f"{programme.period_end:%d %b %Y}) is ready for approval.")
    # No "By" line: the domain sets no deadline for an approval.
    body = "\n".join([
        f"What happened: {what}",
        "What is expected of you: Review its objectives, scope, period and rules on the programme page, "
        "then approve it" + (" again." if again else "."),
    ])
    told = 0
    for person in approvers(programme):
        if person.id == getattr(actor, "id", None):
            continue
        if notify(person, kind="programme_approval", now=now, link=f"/programme/{programme.id}",
                  title=f"Programme {programme.name} awaits your approval" + (" again" if again else ""),
                  body=body,
                  dedupe_key=f"programme:{programme.id}:approve:v{programme.content_version}:{person.id}"):
            told += 1
    return told


def _coordinators_of(programme: Programme) -> list[User]:
    """Who runs ``programme`` (``waiting.programme_coordinators``, the rule of their list)."""
    return programme_coordinators(programme, coordinators())


def _tell_coordinators_approved(programme: Programme, *, actor, now: dt.datetime) -> int:
    """Tell the programme's coordinators it was approved (it may be made active); returns how many."""
    version = programme.approved_version
    body = "\n".join([
        f"What happened: {getattr(actor, 'name', None) or 'Top management'} approved {programme.name} "
        f"(version {version}).",
        "What is expected of you: Make it active if it is not yet; any later change to its scope, period, "
        "objectives or rules needs approval again.",
    ])
    told = 0
    for person in _coordinators_of(programme):
        if person.id == getattr(actor, "id", None):
            continue
        if notify(person, kind="programme_approved", now=now, link=f"/programme/{programme.id}",
                  title=f"Programme {programme.name} approved (version {version})", body=body,
                  dedupe_key=f"programme:{programme.id}:approved:v{version}:{person.id}"):
            told += 1
    return told


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
    _tell_coordinators_approved(programme, actor=actor, now=now)
    return programme


def change_programme_status(programme: Programme, new: ProgrammeStatus, *, actor, now: dt.datetime) -> Programme:
    """Approve (see ``approve_programme``), activate, close, or send back to draft, as the
    programme workflow allows."""
    if new is ProgrammeStatus.APPROVED:
        return approve_programme(programme, actor=actor, now=now)
    old = programme.status
    PROGRAMME.require(programme, actor, new.value)
    awaited_before = awaits_approval(programme)
    programme.status = new
    db.session.flush()
    record(programme, "status", actor=actor, now=now,
           summary=f"Programme {programme.name}: {old.value} → {new.value}",
           changes={"status": [old.value, new.value]})
    # back to draft: it awaits approval again before it can be made active
    ask_for_approval(programme, awaited_before=awaited_before, actor=actor, now=now)
    return programme
