"""Correcting a site's (or supplier's) time zone keeps the local times entered there (review zones2 #3).

An audit entered as 08:30 at the site stays 08:30 at the site: its upcoming audits and their
agenda are re-anchored to the new zone, announced as a reschedule (revision + 1, trail entry,
one notice to the team and auditees). Past and closed audits keep their stored instants.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select

from audit.calendar import feeds, ical
from audit.extensions import db
from audit.models import (
    AgendaSession,
    AuditKind,
    AuditStatus,
    FeedKind,
    Notification,
    Role,
    SessionKind,
    TeamRole,
    TrailEntry,
)
from audit.organisation import services

CHICAGO, NEW_YORK = "America/Chicago", "America/New_York"


def at(zone: str, *args) -> dt.datetime:
    """An aware UTC instant from a wall-clock time in ``zone``."""
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)


def wall(instant: dt.datetime, zone: str) -> str:
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def dated_audit(make, *, site=None, supplier=None, zone=CHICAGO, day=(2027, 3, 15), status=AuditStatus.PLAN_ISSUED,
                team=(), units=(), **overrides):
    """An audit 08:30–16:30 local on ``day`` with an opening 08:30–09:00 and a session 09:00–12:00."""
    audit = make.audit(site=site, supplier=supplier, status=status, team=list(team),
                       starts_at=at(zone, *day, 8, 30), ends_at=at(zone, *day, 16, 30), revision=2,
                       planned_date=dt.date(*day), report_due_on=dt.date(*day) + dt.timedelta(days=14),
                       **overrides)
    audit.units = list(units)
    for kind, start, end in ((SessionKind.OPENING, (8, 30), (9, 0)), (SessionKind.SESSION, (9, 0), (12, 0))):
        db.session.add(AgendaSession(audit=audit, kind=kind, title=kind.value, starts_at=at(zone, *day, *start),
                                     ends_at=at(zone, *day, *end)))
    db.session.flush()
    return audit


def site_form(site, timezone: str) -> dict:
    return {"name": site.name, "code": site.code, "address": site.address or "", "timezone": timezone,
            "is_active": True}


@pytest.fixture
def chicago(make):
    """A Chicago site with an announced audit on Mon 15 Mar 2027 (lead, auditee), a past audit
    and a cancelled one."""
    admin, lead, auditee = make.user(roles=(Role.ADMIN,)), make.user(), make.user(roles=(Role.AUDITEE,))
    site = make.site(name="Chicago assembly", code="CHI", timezone=CHICAGO)
    unit = make.unit(site=site, owner=auditee)
    upcoming = dated_audit(make, site=site, team=[(lead, TeamRole.LEAD)], units=[unit])
    past = dated_audit(make, site=site, day=(2026, 2, 10), status=AuditStatus.CLOSED)
    cancelled = dated_audit(make, site=site, day=(2027, 4, 12), status=AuditStatus.CANCELLED)
    db.session.commit()
    return admin, lead, auditee, site, upcoming, past, cancelled


def test_upcoming_audits_and_sessions_keep_their_local_times(app, chicago, now):
    """08:30 at the site stays 08:30 in the new zone, for the audit and every session; the
    revision (the feeds' SEQUENCE) goes up; dates hold; past and cancelled audits do not move."""
    admin, lead, _auditee, site, upcoming, past, cancelled = chicago
    before = {a.id: (a.starts_at, a.ends_at) for a in (past, cancelled)}
    sequence = ical.audit_sequence(upcoming)

    services.update_site(site, site_form(site, NEW_YORK), actor=admin, now=now)
    db.session.commit()

    assert wall(upcoming.starts_at, NEW_YORK) == "2027-03-15 08:30"
    assert wall(upcoming.ends_at, NEW_YORK) == "2027-03-15 16:30"
    assert sorted((wall(s.starts_at, NEW_YORK), wall(s.ends_at, NEW_YORK)) for s in upcoming.sessions) == [
        ("2027-03-15 08:30", "2027-03-15 09:00"), ("2027-03-15 09:00", "2027-03-15 12:00")]
    assert ical.audit_sequence(upcoming) == sequence + 1 and upcoming.revision == 3
    assert upcoming.planned_date == dt.date(2027, 3, 15)
    assert upcoming.report_due_on == dt.date(2027, 3, 29)
    assert {a.id: (a.starts_at, a.ends_at) for a in (past, cancelled)} == before

    data = ical.render_feed(feeds.build_feed(FeedKind.PERSONAL, None, lead, day=now.date(),
                                             links=feeds.Links(app))).decode()
    assert "DTSTART;TZID=America/New_York:20270315T083000" in data
    assert f"SEQUENCE:{sequence + 1}" in data


def test_the_move_is_trailed_and_announced_once(app, chicago, now):
    """The audit's trail says why its instants moved; the team and auditees are told once, with
    the new zone; saving the site again without a zone change tells nobody anything more."""
    admin, lead, auditee, site, upcoming, _past, _cancelled = chicago
    services.update_site(site, site_form(site, NEW_YORK), actor=admin, now=now)
    services.update_site(site, {**site_form(site, NEW_YORK), "address": "1 Main St"}, actor=admin, now=now)
    db.session.commit()

    entries = list(db.session.scalars(select(TrailEntry).where(
        TrailEntry.object_type == "Audit", TrailEntry.object_id == upcoming.id)))
    assert [e.action for e in entries] == ["reschedule"]
    assert CHICAGO in entries[0].summary and NEW_YORK in entries[0].summary
    assert entries[0].changes["timezone"] == [CHICAGO, NEW_YORK]
    notes = list(db.session.scalars(select(Notification).where(Notification.link == f"/audits/{upcoming.id}")))
    assert sorted(n.user_id for n in notes) == sorted([lead.id, auditee.id])
    assert all("08:30–16:30 EDT (America/New_York)" in n.title for n in notes)


def test_the_site_form_moves_the_audits_and_says_so(app, chicago, login):
    """Through the edit page (real clock): the form warns, and saving re-anchors the audit."""
    admin, _lead, _auditee, site, upcoming, _past, _cancelled = chicago
    upcoming.starts_at, upcoming.ends_at = at(CHICAGO, 2030, 3, 11, 8, 30), at(CHICAGO, 2030, 3, 11, 16, 30)
    client = login(admin)
    page = client.get(f"/organisation/sites/{site.id}/edit").get_data(as_text=True)
    assert "08:30 stays 08:30" in page
    response = client.post(f"/organisation/sites/{site.id}/edit", data={**site_form(site, NEW_YORK), "is_active": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert wall(upcoming.starts_at, NEW_YORK) == "2030-03-11 08:30"


def test_a_suppliers_zone_keeps_its_own_audits_local_times(app, make, now):
    """An audit held at a supplier (no site) follows the supplier's zone the same way."""
    admin = make.user(roles=(Role.ADMIN,))
    supplier = make.supplier(timezone="Europe/Paris")
    audit = dated_audit(make, supplier=supplier, zone="Europe/Paris", kind=AuditKind.SECOND_PARTY)
    db.session.commit()
    services.update_supplier(supplier, {"name": supplier.name, "timezone": "Europe/London",
                                        "risk_class": supplier.risk_class.value,
                                        "approval_status": supplier.approval_status.value}, actor=admin, now=now)
    db.session.commit()
    assert audit.timezone == "Europe/London"
    assert wall(audit.starts_at, "Europe/London") == "2027-03-15 08:30"
