"""The audit plan (ISO 19011 6.3.2): agenda sessions and issuing the plan to the auditees.

Services in the house style: domain objects and plain values in, ``actor``/``now`` keywords,
trail rows, flush but no commit. Wall-clock times are entered in the audit's zone.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.services import to_utc
from audit.auth.permissions import Permission, permissions_for
from audit.calendar import ical
from audit.calendar.feeds import Links
from audit.conduct.access import can_answer, team_role
from audit.conduct.lifecycle import advance_status
from audit.core.errors import DomainError, NotAllowed
from audit.core.templating import localtime
from audit.extensions import db
from audit.models import AgendaSession, Audit, AuditStatus, Clause, SessionKind, TeamRole, User
from audit.notifications.services import notify
from audit.trail.services import apply_changes, record, snapshot


def can_edit_plan(audit: Audit, user) -> bool:
    """The audit's lead auditor and programme managers edit the plan until the report is issued."""
    if audit.report_issued_at is not None or audit.status in (AuditStatus.CANCELLED, AuditStatus.CLOSED):
        return False
    if Permission.MANAGE_PROGRAMME in permissions_for(user.roles):
        return True
    return team_role(audit, user) is TeamRole.LEAD and can_answer(audit, user)


def _require_editor(audit: Audit, actor) -> None:
    if not can_edit_plan(audit, actor):
        raise NotAllowed("Only the lead auditor or a programme manager can change this audit plan.")


def load_sessions(audit: Audit) -> list[AgendaSession]:
    """The agenda in time order with unit, auditor and clauses loaded."""
    return list(db.session.scalars(
        select(AgendaSession).where(AgendaSession.audit_id == audit.id)
        .order_by(AgendaSession.starts_at, AgendaSession.id)
        .options(selectinload(AgendaSession.unit), selectinload(AgendaSession.auditor),
                 selectinload(AgendaSession.clauses))
    ))


def save_session(audit: Audit, session: AgendaSession | None, data: dict, *, actor,
                 now: dt.datetime) -> AgendaSession:
    """Create or change one agenda slot. ``data``: kind, title, unit_id, auditor_id, clause_ids,
    auditee_contacts, location, starts_local, ends_local (naive wall times in the audit's zone)."""
    _require_editor(audit, actor)
    try:
        kind = SessionKind(data.get("kind") or SessionKind.SESSION.value)
    except ValueError:
        raise DomainError("Choose opening meeting, session or closing meeting.", field="kind") from None
    title = (data.get("title") or "").strip()
    if not title:
        title = {SessionKind.OPENING: "Opening meeting", SessionKind.CLOSING: "Closing meeting"}.get(kind, "")
    if not title:
        raise DomainError("Name the session (process or area audited).", field="title")
    starts_local, ends_local = data.get("starts_local"), data.get("ends_local")
    if starts_local is None or ends_local is None:
        raise DomainError("Give the start and end time.", field="starts_local")
    starts, ends = to_utc(starts_local, audit.timezone), to_utc(ends_local, audit.timezone)
    if ends <= starts:
        raise DomainError("The session must end after it starts.", field="ends_local")
    if ends - starts > dt.timedelta(hours=12):
        raise DomainError("A session lasts at most 12 hours: split longer slots.", field="ends_local")
    unit_id = int(data["unit_id"]) if data.get("unit_id") else None
    if unit_id is not None and unit_id not in {u.id for u in audit.units}:
        raise DomainError("Choose one of the audited units.", field="unit_id")
    auditor_id = int(data["auditor_id"]) if data.get("auditor_id") else None
    if auditor_id is not None and auditor_id not in {m.user_id for m in audit.team if m.role.is_auditing}:
        raise DomainError("Choose an auditor of this audit's team.", field="auditor_id")
    clause_ids = [int(c) for c in data.get("clause_ids") or []]
    clauses = list(db.session.scalars(select(Clause).where(Clause.id.in_(clause_ids)))) if clause_ids else []
    if len(clauses) != len(set(clause_ids)):
        raise DomainError("One of the clauses does not exist.", field="clause_ids")
    values = {
        "kind": kind, "title": title[:200], "unit_id": unit_id, "auditor_id": auditor_id,
        "auditee_contacts": (data.get("auditee_contacts") or "").strip() or None,
        "location": (data.get("location") or "").strip()[:200] or None,
        "starts_at": starts, "ends_at": ends, "clauses": clauses,
    }
    if session is None:
        session = AgendaSession(audit_id=audit.id, updated_at=now)
        for key, value in values.items():
            setattr(session, key, value)
        db.session.add(session)
        db.session.flush()
        record(session, "create", actor=actor, now=now, summary=f"Planned “{title}” in {audit.reference}",
               changes=snapshot({**values, "clauses": clause_ids}))
    else:
        if session.audit_id != audit.id:
            raise DomainError("That session belongs to another audit.")
        changes = apply_changes(session, values)
        if not changes:
            return session
        session.updated_at = now
        db.session.flush()
        record(session, "update", actor=actor, now=now, summary=f"Changed “{title}” in {audit.reference}",
               changes=changes)
    _plan_changed(audit, now)
    return session


def delete_session(audit: Audit, session: AgendaSession, *, actor, now: dt.datetime) -> None:
    """Remove a slot from the plan (recorded in the trail)."""
    _require_editor(audit, actor)
    if session.audit_id != audit.id:
        raise DomainError("That session belongs to another audit.")
    record(session, "delete", actor=actor, now=now, summary=f"Removed “{session.title}” from {audit.reference}",
           changes=snapshot({"title": session.title, "starts_at": session.starts_at}))
    db.session.delete(session)
    db.session.flush()
    _plan_changed(audit, now)


def _plan_changed(audit: Audit, now: dt.datetime) -> None:
    """After the plan went out, calendars must see the change: bump the audit's revision."""
    if audit.status in AuditStatus.plan_issued():  # later changes bump the calendar SEQUENCE
        audit.revision = (audit.revision or 0) + 1
        audit.updated_at = now
        db.session.flush()


def plan_recipients(audit: Audit) -> list[User]:
    """Who receives the plan: the audited units' owners and members, and the audit team."""
    people: dict[int, User] = {}
    for unit in audit.units:
        if unit.owner is not None:
            people[unit.owner.id] = unit.owner
        for member in unit.members:
            people[member.id] = member
    for member in audit.team:
        people[member.user.id] = member.user
    return sorted(people.values(), key=lambda u: u.name)


def plan_text(audit: Audit, sessions: list[AgendaSession]) -> str:
    """The agenda as plain text (notification body, e-mail body), each session with the link to
    its calendar file."""
    base = current_app.config.get("BASE_URL", "").rstrip("/")

    lines = [f"{audit.reference} {audit.title}", f"Objectives: {audit.objectives or '-'}",
             f"Scope: {audit.scope or '-'}", f"Criteria: {audit.criteria or '-'}", ""]
    for s in sessions:
        lines.append(f"{localtime(s.starts_at, audit.timezone)} – {localtime(s.ends_at, audit.timezone, '%H:%M')}"
                     f"  {s.title}" + (f" · {s.location}" if s.location else "")
                     + (f" · auditor {s.auditor.name}" if s.auditor else ""))
        lines.append("    calendar: " + base + url_for("conduct.session_ics", audit_id=audit.id, session_id=s.id))
    return "\n".join(lines)


def issue_plan(audit: Audit, *, actor, now: dt.datetime) -> list[User]:
    """Send the plan to the auditees and the team; a scheduled audit becomes "plan issued".

    Re-issuing after a change sends a new notification (keyed by the audit's revision).
    Returns the recipients.
    """
    _require_editor(audit, actor)
    sessions = load_sessions(audit)
    if not sessions:
        raise DomainError("Add the sessions of the plan (at least the opening meeting) first.")
    if not any(s.kind is SessionKind.OPENING for s in sessions):
        raise DomainError("The plan needs an opening meeting.")
    if not any(s.kind is SessionKind.CLOSING for s in sessions):
        raise DomainError("The plan needs a closing meeting.")
    advance_status(audit, AuditStatus.PLAN_ISSUED, actor=actor, now=now)
    recipients = plan_recipients(audit)
    link = url_for("conduct.plan", audit_id=audit.id, _external=False)
    body = plan_text(audit, sessions)
    for user in recipients:
        notify(user, kind="audit_plan", title=f"Audit plan {audit.reference}: {audit.title}", body=body,
               link=link, dedupe_key=plan_dedupe_key(audit, user), now=now)
    record(audit, "transition", actor=actor, now=now, summary=f"Issued the plan of {audit.reference}",
           changes={"plan_recipients": [u.id for u in recipients], "revision": audit.revision})
    db.session.flush()
    return recipients


def session_ics(audit: Audit, sessions: list[AgendaSession]) -> bytes:
    """An iCalendar file (METHOD:PUBLISH) with the given (one or more) sessions, via the shared
    serialiser: stable UIDs, the audit's revision as SEQUENCE, a VTIMEZONE for the site's zone."""
    links = Links(current_app)
    url = links.url("audit", audit.id)
    events = tuple(ical.session_event(s, audit, domain=links.domain, url=url) for s in sessions)
    days = [s.starts_at.date() for s in sessions]
    feed = ical.Feed(name=f"{audit.reference} {audit.title}", window_start=min(days) - dt.timedelta(days=1),
                     window_end=max(days) + dt.timedelta(days=2), events=events)
    return ical.render_feed(feed)


def plan_dedupe_key(audit: Audit, user: User) -> str:
    """One plan notification per person and audit revision (re-issuing after a change resends)."""
    return f"audit-plan:{audit.id}:r{audit.revision}:u{user.id}"


def plan_attachments(note) -> list[tuple[str, bytes, str, str]]:
    """The plan e-mail's attachments: one .ics per agenda session, as they stand when sent."""
    try:
        audit_id = int(note.dedupe_key.split(":")[1])
    except (IndexError, ValueError):
        return []
    audit = db.session.get(Audit, audit_id)
    if audit is None:
        return []
    return [(f"{audit.reference}-{number:02d}-{s.kind.value}.ics", session_ics(audit, [s]), "text", "calendar")
            for number, s in enumerate(load_sessions(audit), start=1)]

