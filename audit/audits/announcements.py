"""Announcing changes to an audit: who is concerned by which change, in one table.

The audit services call ``announce(audit, change, ...)`` after each change that moves people's
calendars (team in or out, new dates, cancelled, postponed, back from postponement). Each person
concerned gets one notification per change: the dedupe key names the audit, the change, the
calendar SEQUENCE the change produced and the person, so repeating an announcement sends nothing
and the next change (a higher SEQUENCE) is announced again.

Team members (and a member just removed) get the ``audit_team_change`` kind, whose e-mails carry
an iCalendar invitation (``invitation_attachments``); auditees get ``audit_area_change``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import current_app

from audit.calendar import ical
from audit.calendar.invitation import Attendee, invitation_ics
from audit.extensions import db
from audit.models import Audit, AuditStatus, TeamRole, User
from audit.notifications.services import notify
from audit.people import services as people_services

TEAM_KIND = "audit_team_change"
AUDITEE_KIND = "audit_area_change"
#: Notification kinds (kind → preferences label), registered by ``audit.audits.init_app``.
NOTIFICATION_KINDS = {
    TEAM_KIND: "An audit you are in changed: team, dates, cancellation (with a calendar invitation)",
    AUDITEE_KIND: "An audit of your area changed: team, dates, cancellation",
}

#: Who is concerned by which change: ``removed`` is the person taken out of the team, ``team``
#: the team after the change, ``auditees`` the owners and members of the audited units and the
#: audited supplier's active contacts (a second-party audit's auditee side).
CONCERNED: dict[str, tuple[str, ...]] = {
    "assigned": ("team", "auditees"),
    "scheduled": ("team", "auditees"),
    "unassigned": ("removed", "team", "auditees"),
    "rescheduled": ("team", "auditees"),
    "cancelled": ("team", "auditees"),
    "postponed": ("team", "auditees"),
    "reinstated": ("team", "auditees"),
}
#: Title and body per change; ``{subject}`` is the person assigned or removed.
TEXT = {
    "assigned": ("{subject} joined {ref} as {role}", "{title} at {where}, {when}."),
    "unassigned": ("{subject} left the team of {ref}", "{title} at {where}, {when}."),
    "scheduled": ("{ref} is scheduled for {when}", "{title} at {where} takes place {when}."),
    "rescheduled": ("{ref} moved to {when}", "{title} at {where} now takes place {when}."),
    "cancelled": ("{ref} cancelled", "{title} at {where} is cancelled: {reason}"),
    "postponed": ("{ref} postponed", "{title} at {where} is postponed until new dates are set: {reason}"),
    "reinstated": ("{ref} is back on", "{title} at {where} takes place {when}."),
}
#: What a supplier contact reads instead: the reason for a cancellation or postponement is the
#: organisation's own record (it may be about the supplier), not something to send outside.
SUPPLIER_TEXT = {
    "cancelled": ("{ref} cancelled", "{title} at {where} is cancelled."),
    "postponed": ("{ref} postponed", "{title} at {where} is postponed until new dates are set."),
}
#: What the person assigned or removed reads instead.
OWN_TEXT = {
    "assigned": ("You are in the team of {ref} as {role}", "{title} at {where}, {when}."),
    "unassigned": ("You are no longer in the team of {ref}", "{title} at {where}, {when}: "
                   "the calendar invitation is withdrawn."),
}


def team(audit: Audit) -> list[User]:
    """Everyone in the audit's team (guides attend the audit too, so they get the invitation)."""
    return [m.user for m in audit.team]


def auditees(audit: Audit) -> list[User]:
    """Owners and members of the audited units who are not in the team."""
    people: dict[int, User] = {}
    for unit in audit.units:
        if unit.owner is not None:
            people[unit.owner.id] = unit.owner
        for member in unit.members:
            people[member.id] = member
    in_team = {m.user_id for m in audit.team}
    return [p for pid, p in sorted(people.items()) if pid not in in_team]


def is_supplier_contact(user: User) -> bool:
    """A supplier's contact: outside the organisation, they may open none of its audit pages."""
    return getattr(user, "supplier_id", None) is not None


def supplier_contacts(audit: Audit) -> list[User]:
    """The audited supplier's active contacts (a supplier audit's auditee side); none otherwise."""
    return people_services.supplier_contacts(audit.supplier_id)


def concerned(audit: Audit, change: str, *, subject: User | None = None) -> list[tuple[User, str]]:
    """``(person, kind)`` for everyone ``change`` concerns, each person once (team first)."""
    if change not in CONCERNED:
        raise ValueError(f"unknown audit change {change!r}")
    found: dict[int, tuple[User, str]] = {}
    for audience in CONCERNED[change]:
        if audience == "removed":
            people, kind = ([subject] if subject is not None else []), TEAM_KIND
        elif audience == "team":
            people, kind = team(audit), TEAM_KIND
        else:
            in_team = {m.user_id for m in audit.team}
            people = auditees(audit) + [c for c in supplier_contacts(audit) if c.id not in in_team]
            kind = AUDITEE_KIND
        for person in people:
            found.setdefault(person.id, (person, kind))
    return list(found.values())


def _when(audit: Audit) -> str:
    zone = zoneinfo.ZoneInfo(audit.timezone)
    if audit.starts_at is not None and audit.ends_at is not None:
        first, last = audit.local_dates()
        start = audit.starts_at.astimezone(zone)
        if first == last:
            end = audit.ends_at.astimezone(zone)
            return f"{start:%a %d %b %Y %H:%M}–{end:%H:%M} {start.tzname()} ({audit.timezone})"
        return f"{first:%a %d %b %Y} – {last:%a %d %b %Y} ({audit.timezone})"
    if audit.planned_date is not None:
        return f"planned for {audit.planned_date:%d %b %Y}, time to be set"
    return "dates to be set"


def _where(audit: Audit) -> str:
    if audit.site is not None:
        return audit.site.name
    return audit.supplier.name if audit.supplier is not None else "the auditee"


def dedupe_key(audit: Audit, change: str, user: User) -> str:
    """One notification per audit, change, calendar SEQUENCE and person."""
    return f"audit-change:{audit.id}:{change}:s{ical.audit_sequence(audit)}:u{user.id}"


def announce(audit: Audit, change: str, *, now: dt.datetime, subject: User | None = None,
             role: TeamRole | None = None) -> list[User]:
    """Notify everyone ``change`` concerns (``CONCERNED``); returns who was newly notified.

    ``subject``/``role`` name the person assigned or removed. Called by the services after the
    change is flushed, so the team, dates and SEQUENCE are the new ones.
    """
    values = {"ref": audit.reference, "title": audit.title, "where": _where(audit), "when": _when(audit),
              "reason": audit.status_reason or "no reason given",
              "subject": subject.name if subject is not None else "",
              "role": role.label.lower() if role is not None else ""}
    notified = []
    for person, kind in concerned(audit, change, subject=subject):
        own = subject is not None and person.id == subject.id and change in OWN_TEXT
        outside = is_supplier_contact(person)
        if own:
            texts = OWN_TEXT[change]
        elif outside:
            texts = SUPPLIER_TEXT.get(change, TEXT[change])
        else:
            texts = TEXT[change]
        title, body = (t.format(**values) for t in texts)
        # A supplier contact cannot open the audit page (403): the notice itself says it all.
        link = None if outside else f"/audits/{audit.id}"
        if notify(person, kind=kind, title=title, body=body, link=link,
                  dedupe_key=dedupe_key(audit, change, person), now=now):
            notified.append(person)
    return notified


def invited(audit: Audit, user: User) -> bool:
    """Whether ``user`` should have the audit in their calendar now: in the team of an audit that
    is neither cancelled nor postponed (else the invitation is withdrawn)."""
    return (audit.status not in (AuditStatus.CANCELLED, AuditStatus.POSTPONED)
            and any(m.user_id == user.id for m in audit.team))


def _attendees(audit: Audit) -> list[Attendee]:
    return [Attendee(m.user.email, m.user.name, chair=m.role is TeamRole.LEAD,
                     optional=m.role in (TeamRole.OBSERVER, TeamRole.GUIDE))
            for m in sorted(audit.team, key=lambda m: m.user_id) if m.user.email]


def invitation_attachments(note) -> list[tuple[str, bytes, str, str, dict]]:
    """The team e-mail's invitation, built as the audit stands when the e-mail is sent.

    METHOD:REQUEST while the recipient is invited (assignment, new dates, back on), else
    METHOD:CANCEL (removed, cancelled, postponed); always the feeds' UID and SEQUENCE, which
    every announced change raised, so calendar apps update the one event they already hold.
    """
    from audit.calendar.feeds import Links

    try:
        audit_id = int(note.dedupe_key.split(":")[1])
    except (IndexError, ValueError):
        return []
    audit = db.session.get(Audit, audit_id)
    if audit is None or not note.user.email:
        return []
    links = Links(current_app)
    event = ical.audit_event(audit, domain=links.domain, url=links.url("audit", audit.id))
    if event is None:
        return []
    method = "REQUEST" if invited(audit, note.user) else "CANCEL"
    attendees = _attendees(audit) if method == "REQUEST" else [
        Attendee(note.user.email, note.user.name)]
    organizer = Attendee(current_app.config.get("MAIL_SENDER", "audits@localhost"), "Audit programme")
    data = invitation_ics(event, method=method, organizer=organizer, attendees=attendees)
    # iMIP (RFC 6047): the part is text/calendar with the same method as the calendar object.
    return [(f"{audit.reference}.ics", data, "text", "calendar", {"method": method})]
