"""Report reminders, overdue-report and overdue-audit escalation: to whom, once, and by the
calendar of the site where the audit happens (not UTC's)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.audits.reminders import send_overdue_audits, send_report_reminders
from audit.extensions import db
from audit.models import AuditStatus, Notification, Programme, ProgrammeStatus, Role


def _notes(kind: str) -> list[tuple[str, str]]:
    stmt = select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    return [(n.user.name, n.title) for n in db.session.scalars(stmt)]


def test_report_due_reminds_the_lead_then_escalates_once(app, reminder_audit, make):
    """Three days before: the lead. Once overdue: the programme manager, unit owner and lead."""
    audit = reminder_audit["audit"]
    manager = make.user(roles=(Role.COORDINATOR,), name="Mia Manager")
    audit.programme = Programme(name="P", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                                status=ProgrammeStatus.ACTIVE, manager=manager)
    audit.status = AuditStatus.FIELDWORK_COMPLETE
    audit.report_due_on = dt.date(2026, 3, 29)
    db.session.commit()
    early = dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC)
    assert send_report_reminders(now=early) == 0
    soon = dt.datetime(2026, 3, 26, 12, tzinfo=dt.UTC)
    assert send_report_reminders(now=soon) == 1
    assert send_report_reminders(now=soon) == 0
    assert _notes("report_due") == [("Lena Lead", f"Report for {audit.reference} due 29 Mar 2026")]
    overdue = dt.datetime(2026, 3, 30, 12, tzinfo=dt.UTC)
    assert send_report_reminders(now=overdue) == 3
    assert send_report_reminders(now=overdue + dt.timedelta(days=1)) == 0
    assert {name for name, _ in _notes("report_overdue")} == {"Mia Manager", "Otto Owner", "Lena Lead"}


def test_report_overdue_follows_the_sites_calendar(app, reminder_audit):
    """At 18:00 UTC on the due day it is already the next day in Shanghai, not yet in Chicago."""
    audit = reminder_audit["audit"]
    audit.status = AuditStatus.FIELDWORK_COMPLETE
    audit.report_due_on = dt.date(2026, 3, 29)
    audit.site.timezone = "America/Chicago"
    db.session.commit()
    evening = dt.datetime(2026, 3, 29, 18, tzinfo=dt.UTC)
    send_report_reminders(now=evening)
    assert _notes("report_overdue") == []
    audit.site.timezone = "Asia/Shanghai"
    db.session.commit()
    assert send_report_reminders(now=evening) >= 1 and _notes("report_overdue")


def test_undated_audit_past_its_planned_day_escalates_to_coordinators_once(app, make):
    """A planned audit nobody dated: coordinators hear once its planned day is over at the site."""
    make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    site = make.site(timezone="Pacific/Auckland")
    audit = make.audit(site=site, planned_date=dt.date(2026, 4, 1), status=AuditStatus.PLANNED)
    db.session.commit()
    # 1 April 11:00 UTC is already 2 April in Auckland (UTC+13): overdue there, whatever UTC says.
    assert send_overdue_audits(now=dt.datetime(2026, 3, 31, 23, tzinfo=dt.UTC)) == 0
    assert send_overdue_audits(now=dt.datetime(2026, 4, 1, 11, 30, tzinfo=dt.UTC)) == 1
    assert send_overdue_audits(now=dt.datetime(2026, 4, 2, 11, tzinfo=dt.UTC)) == 0
    assert _notes("audit_overdue") == [("Cora Coordinator", f"Overdue: {audit.reference} {audit.title}")]


def test_configured_lead_time_longer_than_the_defaults_is_honoured(app, reminder_audit):
    """REMINDER_LEAD_DAYS may ask for a reminder 90 days ahead; the sweep looks that far."""
    from audit.audits.reminders import send_audit_reminders

    app.config["REMINDER_LEAD_DAYS"] = {"internal": {"prepare": 90}}
    starts = reminder_audit["audit"].starts_at
    assert send_audit_reminders(now=starts - dt.timedelta(days=91)) == 0
    assert send_audit_reminders(now=starts - dt.timedelta(days=89)) == 2  # lead and auditor
    assert {name for name, _ in _notes("audit_prepare")} == {"Lena Lead", "Arno Auditor"}
