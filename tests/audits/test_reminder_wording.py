"""Reminders before an audit say what is true: the plan stage tells auditees of a plan only once
it is issued (and never twice), the lead hears that issuing it is their turn, and the day-before
reminder names the audit's local day and an unambiguous zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import select

from audit.audits.reminders import send_audit_reminders, upcoming_reminders
from audit.conduct import agenda
from audit.extensions import db
from audit.models import AuditStatus, Notification, QualificationLevel, Role, TeamRole

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _audit(make, *, starts_at: dt.datetime, zone: str = "Europe/Berlin", city: str = "Berlin"):
    """A scheduled ISO 9001 audit led by a qualified lead, of a unit owned by an auditee."""
    std = make.standard()
    lead = make.user(name="Lena Lead")
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    owner = make.user(roles=(Role.AUDITEE,), name="Otto Owner")
    site = make.site(name=f"{city} plant", timezone=zone)
    unit = make.unit(name="Assembly", owner=owner, site=site)
    audit = make.audit(title="Assembly audit", site=site, units=[unit], standards=[std],
                       starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=3),
                       status=AuditStatus.SCHEDULED, team=[(lead, TeamRole.LEAD)])
    db.session.commit()
    return audit, lead, owner


def _notes(user=None, kind=None) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id)
    if user is not None:
        stmt = stmt.where(Notification.user_id == user.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt))


def _issue_plan(app, audit, lead, *, now: dt.datetime) -> None:
    """Opening, one session and closing on the audit's day, then the plan issued by the lead."""
    local = audit.starts_at.astimezone(zoneinfo.ZoneInfo(audit.timezone)).replace(tzinfo=None)
    with app.test_request_context():
        for kind, hour in (("opening", 0), ("session", 1), ("closing", 2)):
            agenda.save_session(audit, None, {"kind": kind, "title": kind.title(),
                                              "starts_local": local + dt.timedelta(hours=hour),
                                              "ends_local": local + dt.timedelta(hours=hour, minutes=45)},
                                actor=lead, now=now)
        agenda.issue_plan(audit, actor=lead, now=now)
    db.session.commit()


def test_plan_not_issued_the_lead_is_reminded_and_auditees_hear_of_no_plan(app, make):
    """At the plan stage (7 days before an internal audit) with no plan issued, the owner is not
    told "the audit plan is ready"; the lead is told, once, that issuing it is their turn."""
    audit, lead, owner = _audit(make, starts_at=T0 + dt.timedelta(days=10))
    plan_stage = audit.starts_at - dt.timedelta(days=7)
    assert [(r["stage"], r["people"]) for r in upcoming_reminders(now=T0, days=14)
            if r["at"] == plan_stage] == [("Issue the plan (lead)", ["Lena Lead"])]

    send_audit_reminders(now=plan_stage + dt.timedelta(hours=12))
    send_audit_reminders(now=plan_stage + dt.timedelta(hours=13))  # the next sweep adds nothing
    db.session.commit()

    assert _notes(owner) == []
    issue = [n for n in _notes(lead) if n.link == f"/audits/{audit.id}/plan"]
    assert [n.title for n in issue] == [f"Issue the plan of audit {audit.reference} (starts 20 Mar 2026)"]
    assert issue[0].kind == "audit_plan_due"  # its own kind, not "prepare": preferences tell them apart
    assert "its plan is not issued" in issue[0].body
    assert "\nWhat is expected of you: add the opening meeting" in issue[0].body
    assert "\nBy: 13 Mar 2026, 7 days before the audit" in issue[0].body


def test_issued_plan_reaches_each_auditee_once(app, make):
    """Issued 10 days before: the owner has the plan from the issue and the 7-day sweep does not
    send it again; a member who joined the unit after the issue gets it from the sweep; the lead
    is not asked to issue a plan that is issued."""
    audit, lead, owner = _audit(make, starts_at=T0 + dt.timedelta(days=10))
    _issue_plan(app, audit, lead, now=T0)
    assert [n.title for n in _notes(owner)] == [f"Audit plan {audit.reference}: Assembly audit"]
    newcomer = make.user(roles=(Role.AUDITEE,), name="Nina Newcomer")
    audit.units[0].members.append(newcomer)
    db.session.commit()
    plan_stage = audit.starts_at - dt.timedelta(days=7)
    assert [(r["stage"], r["people"]) for r in upcoming_reminders(now=T0, days=14)
            if r["at"] == plan_stage] == [("Audit coming (auditees)", ["Nina Newcomer"])]

    send_audit_reminders(now=plan_stage + dt.timedelta(hours=12))
    db.session.commit()

    assert len(_notes(owner, kind="audit_plan")) == 1
    assert [(n.title, n.link) for n in _notes(newcomer)] == [
        (f"Audit {audit.reference} of your area on 20 Mar 2026", f"/audits/{audit.id}/plan")]
    assert not [n for n in _notes(lead) if n.title.startswith("Issue the plan")]


def test_day_before_reminder_of_an_audit_moved_to_later_today_says_today(app, make):
    """Shanghai, 03:00 on 3 Dec: an audit starting at 14:00 the same day is "Today", and its
    time is labelled "CST (Shanghai)" as pages label it, not a bare "CST" (also Chicago's)."""
    now = dt.datetime(2026, 12, 2, 19, 0, tzinfo=dt.UTC)  # Thu 3 Dec 03:00 in Shanghai
    audit, lead, owner = _audit(make, starts_at=dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC),
                                zone="Asia/Shanghai", city="Shanghai")
    send_audit_reminders(now=now)
    db.session.commit()

    notes = _notes(kind="audit_day_before")
    assert {n.user_id for n in notes} == {lead.id, owner.id}
    for note in notes:
        assert note.title == f"Today: audit {audit.reference}"
        assert note.body == "Assembly audit at Shanghai plant starts today, 03 Dec 2026 14:00 CST (Shanghai)."


def test_day_before_reminder_says_tomorrow_by_the_sites_calendar(app, make):
    """Chicago, 10:00 on 3 Dec: an audit at 09:00 on 4 Dec is "Tomorrow", "CST (Chicago)"."""
    now = dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)  # Thu 3 Dec 10:00 in Chicago
    audit, lead, owner = _audit(make, starts_at=dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC),
                                zone="America/Chicago", city="Chicago")
    send_audit_reminders(now=now)
    db.session.commit()

    note = _notes(owner, kind="audit_day_before")[0]
    assert note.title == f"Tomorrow: audit {audit.reference}"
    assert note.body == "Assembly audit at Chicago plant starts tomorrow, 04 Dec 2026 09:00 CST (Chicago)."
