"""The audit plan: agenda sessions in local time, issuing to auditees, calendar files, sections."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.models import AgendaSession, AuditStatus, Notification, QualificationLevel


def _session(client, setup, kind, start, end, **extra):
    data = {"kind": kind, "starts_local": start, "ends_local": end, **extra}
    return client.post(f"/audits/{setup.audit.id}/plan/sessions", data=data)


def _qualify(setup, make):
    make.qualification(setup.lead, level=QualificationLevel.LEAD)
    for user in (setup.auditor, setup.trainee):
        make.qualification(user)


def test_lead_builds_agenda_in_local_time(login, setup):
    """Sessions entered in Berlin wall time are stored in UTC with unit, auditor and clauses."""
    client = login(setup.lead)
    unit = setup.audit.units[0]
    r = _session(client, setup, "session", "2026-03-10T10:00", "2026-03-10T11:30", title="Assembly line",
                 unit_id=str(unit.id), auditor_id=str(setup.auditor.id),
                 clause_ids=[str(setup.clauses["8.5"].id)], location="Hall 2",
                 auditee_contacts="Otto Owner (process owner)")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    s = db.session.scalar(select(AgendaSession))
    assert s.starts_at == dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    assert (s.unit_id, s.auditor_id, [c.number for c in s.clauses]) == (unit.id, setup.auditor.id, ["8.5"])
    page = client.get(f"/audits/{setup.audit.id}/plan").get_data(as_text=True)
    assert "Tue 10 Mar 10:00" in page and "Assembly line" in page and "Hall 2" in page


def test_session_must_end_after_start(login, setup):
    """An end before the start is refused on the form; nothing is stored."""
    client = login(setup.lead)
    r = _session(client, setup, "opening", "2026-03-10T10:00", "2026-03-10T09:00")
    assert r.status_code == 422
    assert "must end after it starts" in r.get_data(as_text=True)
    assert db.session.scalar(select(AgendaSession)) is None


def test_only_lead_or_coordinator_edit_the_plan(login, setup, client):
    """Auditors and auditees may read the plan but not change it; coordinators may."""
    for user in (setup.auditor, setup.auditee):
        login(user)
        assert client.get(f"/audits/{setup.audit.id}/plan").status_code == 200
        assert _session(client, setup, "opening", "2026-03-10T08:00", "2026-03-10T08:30").status_code == 403
    login(setup.coordinator)
    assert _session(client, setup, "opening", "2026-03-10T08:00", "2026-03-10T08:30").status_code == 302
    login(setup.supplier_contact)
    assert client.get(f"/audits/{setup.audit.id}/plan").status_code == 403


def test_issue_plan_notifies_auditees_and_team(login, setup, make):
    """Issuing sends the agenda to the unit owner and team and moves the audit to plan issued."""
    _qualify(setup, make)
    setup.audit.status = AuditStatus.SCHEDULED
    db.session.commit()
    client = login(setup.lead)
    r = client.post(f"/audits/{setup.audit.id}/plan/issue")
    assert r.status_code == 302
    assert db.session.scalar(select(Notification)) is None  # refused: no sessions yet
    _session(client, setup, "opening", "2026-03-10T08:00", "2026-03-10T08:30")
    _session(client, setup, "session", "2026-03-10T08:30", "2026-03-10T12:00", title="Assembly")
    _session(client, setup, "closing", "2026-03-10T15:00", "2026-03-10T15:30")
    client.post(f"/audits/{setup.audit.id}/plan/issue")
    db.session.refresh(setup.audit)
    assert setup.audit.status is AuditStatus.PLAN_ISSUED
    notes = db.session.scalars(select(Notification)).all()
    assert {n.user_id for n in notes} == {setup.auditee.id, setup.lead.id, setup.auditor.id,
                                          setup.trainee.id, setup.observer.id}
    assert "Opening meeting" in notes[0].body and "Assembly" in notes[0].body
    assert f"/audits/{setup.audit.id}/plan/sessions/" in notes[0].body and ".ics" in notes[0].body
    # A change after issue moves the calendar revision, so re-issuing reaches everyone again.
    revision = setup.audit.revision
    _session(client, setup, "session", "2026-03-10T13:00", "2026-03-10T14:00", title="Warehouse")
    db.session.refresh(setup.audit)
    assert setup.audit.revision == revision + 1


def test_session_calendar_file(login, setup):
    """Each session downloads as an .ics with a stable UID, the Berlin zone and METHOD:PUBLISH."""
    client = login(setup.lead)
    _session(client, setup, "opening", "2026-03-10T08:00", "2026-03-10T08:30", location="Meeting room 1")
    s = db.session.scalar(select(AgendaSession))
    login(setup.auditee)
    r = client.get(f"/audits/{setup.audit.id}/plan/sessions/{s.id}.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    text = r.get_data(as_text=True)
    assert "METHOD:PUBLISH" in text and f"UID:session-{s.id}@" in text
    assert "DTSTART;TZID=Europe/Berlin:20260310T080000" in text
    assert "BEGIN:VTIMEZONE" in text and "LOCATION:Meeting room 1" in text
    assert client.get(f"/audits/{setup.audit.id}/plan.ics").status_code == 200


def test_audit_page_shows_conduct_sections(login, setup, now):
    """The audit page carries the plan, checklist progress and report sections."""
    client = login(setup.auditor)
    r = client.get(f"/audits/{setup.audit.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Plan and agenda" in html
    assert "0/5 answered" in html and f"/audits/{setup.audit.id}/checklist" in html
    assert f"/audits/{setup.audit.id}/report.pdf" in html


def test_plan_email_attaches_one_calendar_file_per_session(login, setup, make):
    """The plan e-mail carries an .ics per agenda session that a calendar parser accepts."""
    import icalendar

    from audit.notifications.email import build_message

    _qualify(setup, make)
    setup.audit.status = AuditStatus.SCHEDULED
    db.session.commit()
    client = login(setup.lead)
    _session(client, setup, "opening", "2026-03-10T08:00", "2026-03-10T08:30")
    _session(client, setup, "session", "2026-03-10T08:30", "2026-03-10T12:00", title="Assembly")
    _session(client, setup, "closing", "2026-03-10T15:00", "2026-03-10T15:30")
    client.post(f"/audits/{setup.audit.id}/plan/issue")
    note = db.session.scalars(select(Notification).where(Notification.kind == "audit_plan")).first()
    message = build_message(note)
    files = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert [f.get_filename().split("-")[-1] for f in files] == ["opening.ics", "session.ics", "closing.ics"]
    events = [icalendar.Calendar.from_ical(f.get_content()).walk("VEVENT")[0] for f in files]
    berlin_start = events[1].decoded("DTSTART")
    assert (berlin_start.hour, str(berlin_start.tzinfo)) == (8, "Europe/Berlin")
    assert message.get_body(("plain",)) is not None
