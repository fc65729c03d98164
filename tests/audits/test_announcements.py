"""Announcements: each change to an audit notifies exactly the team and the auditees, once, and
team e-mails carry an iCalendar invitation with the feeds' UID and a rising SEQUENCE."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import icalendar
import pytest
from sqlalchemy import select

from audit.audits.announcements import AUDITEE_KIND, TEAM_KIND, announce
from audit.audits.services import (
    add_team_member,
    change_status,
    remove_team_member,
    reschedule_audit,
    update_audit,
)
from audit.calendar import ical
from audit.calendar.feeds import audit_ics
from audit.extensions import db
from audit.models import AuditKind, AuditStatus, Notification, QualificationLevel, Role, TeamRole
from audit.notifications.email import build_message
from tests.calendar.parsers import parse_everywhere

START = dt.datetime(2026, 4, 14, 7, 0, tzinfo=dt.UTC)  # Tuesday 09:00 in Berlin
END = dt.datetime(2026, 4, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def s(app, make):
    std = make.standard("ISO 9001")
    lead, auditor = make.user(name="Lea Lead"), make.user(name="Abe Auditor")
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    make.qualification(auditor, std)
    owner, member, bystander = make.user(name="Olga Owner"), make.user(name="Max Member"), make.user()
    unit = make.unit(owner=owner)
    unit.members.append(member)
    audit = make.audit(starts_at=START, ends_at=END, team=[(lead, TeamRole.LEAD)])
    audit.standards.append(std)
    audit.units.append(unit)
    db.session.flush()
    return SimpleNamespace(audit=audit, lead=lead, auditor=auditor, owner=owner, member=member,
                           bystander=bystander)


def _notes() -> dict[int, list[Notification]]:
    out: dict[int, list[Notification]] = {}
    for note in db.session.scalars(select(Notification).order_by(Notification.id)):
        out.setdefault(note.user_id, []).append(note)
    return out


def _kinds(notes) -> dict[int, list[str]]:
    return {uid: [n.kind for n in ns] for uid, ns in notes.items()}


def _invitation(note) -> tuple[bytes, str]:
    message = build_message(note)
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    return parts[0].get_payload(decode=True), parts[0].get_param("method")


def test_assigning_notifies_the_new_member_the_team_and_the_auditees_once(s, now):
    """Adding an auditor notifies them, the lead and the unit's owner and member, once each; the
    bystander hears nothing, and announcing the same change again adds nothing."""
    add_team_member(s.audit, s.auditor, TeamRole.AUDITOR, actor=None, now=now)
    notes = _notes()
    assert _kinds(notes) == {s.auditor.id: [TEAM_KIND], s.lead.id: [TEAM_KIND],
                             s.owner.id: [AUDITEE_KIND], s.member.id: [AUDITEE_KIND]}
    assert notes[s.auditor.id][0].title == f"You are in the team of {s.audit.reference} as auditor"
    assert notes[s.owner.id][0].title == f"Abe Auditor joined {s.audit.reference} as auditor"
    assert announce(s.audit, "assigned", now=now, subject=s.auditor, role=TeamRole.AUDITOR) == []
    assert _kinds(_notes()) == _kinds(notes)


def test_unassigning_notifies_the_removed_person_the_team_and_the_auditees(s, now):
    """Removing a member notifies them (their invitation is withdrawn), the rest of the team and the
    auditees: one more notification each."""
    member = add_team_member(s.audit, s.auditor, TeamRole.AUDITOR, actor=None, now=now)
    remove_team_member(s.audit, member, actor=None, now=now)
    counts = {uid: len(ns) for uid, ns in _notes().items()}
    assert counts == {s.auditor.id: 2, s.lead.id: 2, s.owner.id: 2, s.member.id: 2}
    assert _notes()[s.auditor.id][-1].title == f"You are no longer in the team of {s.audit.reference}"


def test_rescheduling_notifies_again_per_change_but_not_for_a_no_op(s, now):
    """Each move of the dates notifies team and auditees once; the same dates again send nothing;
    moving the dates on the edit form counts as rescheduling too."""
    moved = dt.datetime(2026, 4, 15, 9, 0), dt.datetime(2026, 4, 15, 17, 0)
    reschedule_audit(s.audit, starts_local=moved[0], ends_local=moved[1], actor=None, now=now)
    reschedule_audit(s.audit, starts_local=moved[0], ends_local=moved[1], actor=None, now=now)
    notes = _notes()
    assert _kinds(notes) == {s.lead.id: [TEAM_KIND], s.owner.id: [AUDITEE_KIND], s.member.id: [AUDITEE_KIND]}
    assert "moved to Wed 15 Apr 2026 09:00–17:00 CEST" in notes[s.owner.id][0].title
    data = {"title": s.audit.title, "kind": "internal", "site_id": s.audit.site_id,
            "standard_ids": [st.id for st in s.audit.standards], "unit_ids": [u.id for u in s.audit.units],
            "starts_local": dt.datetime(2026, 4, 16, 9, 0), "ends_local": dt.datetime(2026, 4, 16, 17, 0)}
    update_audit(s.audit, data, actor=None, now=now)
    assert {uid: len(ns) for uid, ns in _notes().items()} == {s.lead.id: 2, s.owner.id: 2, s.member.id: 2}


@pytest.mark.parametrize("status", [AuditStatus.CANCELLED, AuditStatus.POSTPONED])
def test_cancelling_and_postponing_notify_team_and_auditees_with_the_reason(s, now, status):
    """Cancelling or postponing notifies team and auditees once, saying why."""
    change_status(s.audit, status, reason="Plant shutdown", actor=None, now=now)
    notes = _notes()
    assert set(notes) == {s.lead.id, s.owner.id, s.member.id}
    assert all(len(ns) == 1 and "Plant shutdown" in ns[0].body for ns in notes.values())
    assert announce(s.audit, status.value, now=now) == []


def test_back_from_postponement_is_announced(s, now):
    """An audit brought back from postponement is announced again (its invitation returns)."""
    change_status(s.audit, AuditStatus.POSTPONED, reason="Shutdown", actor=None, now=now)
    change_status(s.audit, AuditStatus.PLANNED, actor=None, now=now)
    note = _notes()[s.lead.id][-1]
    assert "is back on" in note.title
    assert _invitation(note)[1] == "REQUEST"


def test_invitation_requests_then_cancels_with_the_feed_uid_and_a_rising_sequence(s, now):
    """The team e-mail carries text/calendar; method=REQUEST that icalendar, ical and vobject read
    alike, with the feed's UID and the audit's SEQUENCE; a cancellation sends METHOD:CANCEL with
    the same UID and a higher SEQUENCE; auditees' e-mails carry no invitation."""
    add_team_member(s.audit, s.auditor, TeamRole.AUDITOR, actor=None, now=now)
    note = _notes()[s.auditor.id][0]
    data, method = _invitation(note)
    assert method == "REQUEST"
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["METHOD"]) == "REQUEST"
    events = parse_everywhere(data)
    ((feed_uid, (_, _, feed_status, _)),) = parse_everywhere(audit_ics(s.audit)).items()
    (uid, (start, end, status, sequence)), = events.items()
    # a planned (not yet scheduled) audit is tentative, in the feed and in the invitation alike
    assert uid == feed_uid and (start, end) == (START, END) and status == feed_status == "TENTATIVE"
    assert sequence == ical.audit_sequence(s.audit)
    vevent = cal.walk("VEVENT")[0]
    assert str(vevent["ORGANIZER"]).startswith("mailto:")
    attendees = {str(a): a.params["ROLE"] for a in vevent.get("ATTENDEE")}
    assert attendees == {f"mailto:{s.lead.email}": "CHAIR", f"mailto:{s.auditor.email}": "REQ-PARTICIPANT"}
    assert not [p for p in build_message(_notes()[s.owner.id][0]).iter_attachments()]

    change_status(s.audit, AuditStatus.CANCELLED, reason="Merged", actor=None, now=now)
    cancel_data, cancel_method = _invitation(_notes()[s.auditor.id][-1])
    assert cancel_method == "CANCEL" and str(icalendar.Calendar.from_ical(cancel_data)["METHOD"]) == "CANCEL"
    ((cancel_uid, (_, _, cancel_status, cancel_sequence)),) = parse_everywhere(cancel_data).items()
    assert cancel_uid == uid and cancel_status == "CANCELLED" and cancel_sequence > sequence


def test_removed_member_gets_a_cancel_for_the_same_event(s, now):
    """Taking someone out of the team sends them METHOD:CANCEL for the event, addressed to them."""
    member = add_team_member(s.audit, s.auditor, TeamRole.AUDITOR, actor=None, now=now)
    first_sequence = ical.audit_sequence(s.audit)
    remove_team_member(s.audit, member, actor=None, now=now)
    data, method = _invitation(_notes()[s.auditor.id][-1])
    assert method == "CANCEL"
    vevent = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    assert [str(a) for a in [vevent["ATTENDEE"]]] == [f"mailto:{s.auditor.email}"]
    ((_, (_, _, _, sequence)),) = parse_everywhere(data).items()
    assert sequence > first_sequence


def test_invitation_is_the_feeds_event_with_text_cleaned():
    """The invitation's VEVENT is the feed's (same builder): control characters in a title never
    reach a calendar client, and a CANCEL says CANCELLED."""
    from audit.calendar.invitation import Attendee, invitation_ics

    start = dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC)
    event = ical.Event(uid="audit-9@example.org", summary="Audit\x1b[31m line\x07 2", start=start,
                       end=start + dt.timedelta(hours=8), stamp=start, sequence=3, tzid="Europe/Berlin",
                       location="Hall\x0b 2")
    lead = Attendee(email="lead@example.org", name="Lea Lead", chair=True)
    for method, status in (("REQUEST", "CONFIRMED"), ("CANCEL", "CANCELLED")):
        data = invitation_ics(event, method=method, organizer=lead, attendees=[lead])
        assert not any(c in data for c in (b"\x1b", b"\x07", b"\x0b"))
        vevent = next(c for c in icalendar.Calendar.from_ical(data).walk("VEVENT"))
        assert str(vevent["status"]) == status and int(vevent["sequence"]) == 3
        assert str(vevent["summary"]).startswith("Audit") and "Hall" in str(vevent["location"])


def test_the_first_dates_are_announced_as_scheduled_not_moved(app, make, now):
    """An audit that had no dates is "scheduled for" its first dates; only a later change of
    them is "moved to"."""
    owner = make.user(name="Olga Owner")
    audit = make.audit(planned_date=dt.date(2026, 4, 14), units=[make.unit(owner=owner)])
    db.session.flush()
    reschedule_audit(audit, starts_local=dt.datetime(2026, 4, 14, 9, 0),
                     ends_local=dt.datetime(2026, 4, 14, 17, 0),
                     actor=None, now=now)
    first = _notes()[owner.id][-1]
    assert first.title.startswith(f"{audit.reference} is scheduled for Tue 14 Apr 2026"), first.title
    assert "moved" not in first.title
    reschedule_audit(audit, starts_local=dt.datetime(2026, 4, 15, 9, 0),
                     ends_local=dt.datetime(2026, 4, 15, 17, 0),
                     actor=None, now=now)
    assert _notes()[owner.id][-1].title.startswith(f"{audit.reference} moved to Wed 15 Apr 2026")
    # The edit form's first dates read the same.
    other = make.audit(planned_date=dt.date(2026, 4, 16), units=list(audit.units))
    data = {"title": other.title, "kind": "internal", "site_id": other.site_id, "standard_ids": [],
            "unit_ids": [u.id for u in other.units],
            "starts_local": dt.datetime(2026, 4, 16, 9, 0), "ends_local": dt.datetime(2026, 4, 16, 17, 0)}
    update_audit(other, data, actor=None, now=now)
    assert _notes()[owner.id][-1].title.startswith(f"{other.reference} is scheduled for Thu 16 Apr 2026")


@pytest.fixture
def supplied(app, make):
    """A second-party audit of a supplier with an active and a deactivated contact."""
    std = make.standard("ISO 9001")
    lead, auditor = make.user(name="Lea Lead"), make.user(name="Abe Auditor")
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    make.qualification(auditor, std)
    supplier = make.supplier(timezone="Europe/Berlin")
    contact = make.user(roles=(Role.SUPPLIER,), name="Sue Supplier", supplier_id=supplier.id)
    gone = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, is_active=False)
    audit = make.audit(kind=AuditKind.SECOND_PARTY, site=None, supplier=supplier, starts_at=START,
                       ends_at=END, team=[(lead, TeamRole.LEAD)], standards=[std])
    db.session.flush()
    return SimpleNamespace(audit=audit, lead=lead, auditor=auditor, contact=contact, gone=gone)


def test_supplier_contacts_hear_of_their_audit_without_a_link_they_cannot_open(supplied, now, login):
    """The audited supplier's active contacts are its auditees: told of a new team member and of
    new dates, with no link to the audit page (a supplier contact gets 403 there)."""
    s = supplied
    add_team_member(s.audit, s.auditor, TeamRole.AUDITOR, actor=None, now=now)
    reschedule_audit(s.audit, starts_local=dt.datetime(2026, 4, 15, 9, 0),
                     ends_local=dt.datetime(2026, 4, 15, 17, 0), actor=None, now=now)
    notes = _notes()
    assert s.gone.id not in notes
    assert [n.kind for n in notes[s.contact.id]] == [AUDITEE_KIND, AUDITEE_KIND]
    assert notes[s.contact.id][0].title == f"Abe Auditor joined {s.audit.reference} as auditor"
    assert notes[s.contact.id][1].title.startswith(f"{s.audit.reference} moved to Wed 15 Apr 2026")
    assert all(n.link is None for n in notes[s.contact.id])
    assert all(n.link == f"/audits/{s.audit.id}" for n in notes[s.lead.id])
    db.session.commit()
    client = login(s.contact)
    assert client.get(f"/audits/{s.audit.id}").status_code == 403
    assert s.audit.reference in client.get("/notifications/").get_data(as_text=True)


def test_supplier_contacts_are_not_sent_the_internal_reason_for_a_cancellation(supplied, now):
    """The reason for cancelling is the organisation's record: the team reads it, the supplier
    reads that the audit is cancelled."""
    s = supplied
    change_status(s.audit, AuditStatus.CANCELLED, reason="Supplier to be delisted", actor=None, now=now)
    notes = _notes()
    assert "Supplier to be delisted" in notes[s.lead.id][0].body
    (note,) = notes[s.contact.id]
    assert note.title == f"{s.audit.reference} cancelled" and "delisted" not in note.body
