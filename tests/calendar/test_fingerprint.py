"""A feed's fingerprint changes with every input of its bytes, and a 304 is answered from it
alone, with a constant number of queries (issue 16 item 3)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from audit.calendar import feeds, fingerprint
from audit.extensions import db
from audit.models import (
    ActionStatus,
    AuditStatus,
    FeedKind,
    FindingStatus,
    Role,
    SessionKind,
    TeamRole,
)
from audit.models.audit import audit_units
from tests.calendar.conftest import local
from tests.calendar.test_certificate_feed import held_surveillance
from tests.calendar.test_views import SOON, new_token


@pytest.fixture
def personal(app, make, cal, now):
    """A user in one audit's team (two sessions), owner of a unit audited in a second audit,
    with a finding and an action due inside the window."""
    user = make.user()
    site = make.site()
    first = cal.scheduled_audit(site=site, team=[(user, TeamRole.AUDITOR)])
    mine = make.unit(owner=user, site=site)
    other_unit = make.unit(site=site)
    second = cal.scheduled_audit(site=site, units=[mine], day=dt.date(2026, 5, 5))
    sessions = [cal.session(first, auditor=user, kind=SessionKind.OPENING),
                cal.session(first, hour=13, unit=other_unit)]
    finding = cal.finding(first, user)
    action = cal.action(finding, user)
    token = SimpleNamespace(user=user, kind=FeedKind.PERSONAL, target_id=None)
    return SimpleNamespace(user=user, site=site, first=first, second=second, mine=mine,
                           other_unit=other_unit, sessions=sessions, finding=finding,
                           action=action, token=token, target=None, now=now)


def etag(app, token, target, *, day=dt.date(2026, 3, 10), org_name="Audits"):
    db.session.flush()
    return fingerprint.feed_etag(token, target, day=day, links=feeds.Links(app), org_name=org_name)


def _later(ctx):
    return ctx.now + dt.timedelta(minutes=5)


def _title(ctx):
    ctx.first.title = "Renamed audit"


def _moved(ctx):
    ctx.first.starts_at += dt.timedelta(days=1)
    ctx.first.ends_at += dt.timedelta(days=1)


def _cancelled(ctx):
    ctx.first.status, ctx.first.cancelled_at = AuditStatus.CANCELLED, ctx.now


def _left_team(ctx):
    ctx.first.team.clear()


def _new_audit(ctx):
    from audit.models import AuditTeamMember
    from tests import factories

    audit = factories.audit(site=ctx.site, status=AuditStatus.PLANNED, planned_date=dt.date(2026, 6, 1))
    audit.team.append(AuditTeamMember(user=ctx.user, role=TeamRole.AUDITOR))


def _site_zone(ctx):
    ctx.site.timezone = "America/New_York"


def _session_edit(ctx):
    session = ctx.sessions[1]
    session.title, session.updated_at = "Purchasing, moved", _later(ctx)


def _session_added(ctx):
    from audit.models import AgendaSession

    db.session.add(AgendaSession(audit=ctx.first, kind=SessionKind.CLOSING, title="Closing",
                                 starts_at=local("Europe/Berlin", 2026, 4, 14, 16),
                                 ends_at=local("Europe/Berlin", 2026, 4, 14, 17), updated_at=ctx.now))


def _session_deleted(ctx):
    db.session.delete(ctx.sessions[1])


def _session_unit(ctx):
    ctx.sessions[1].unit = ctx.mine  # the same stamp: only the unit changed


def _lead(ctx):
    ctx.first.team[0].role = TeamRole.LEAD


def _joined_unit(ctx):
    ctx.other_unit.members.append(ctx.user)


def _audit_unit(ctx):
    db.session.execute(audit_units.delete().where(audit_units.c.audit_id == ctx.second.id))


def _finding_due(ctx):
    ctx.finding.response_due_on = dt.date(2026, 5, 2)


def _finding_closed(ctx):
    ctx.finding.status = FindingStatus.CLOSED


def _action_due(ctx):
    ctx.action.due_on = dt.date(2026, 5, 21)


def _action_done(ctx):
    ctx.action.status, ctx.action.completed_at = ActionStatus.DONE, ctx.now


def _user_name(ctx):
    ctx.user.name = "Someone Else"


def _supplier_contact(ctx):
    from audit.models import UserRole
    from tests import factories

    ctx.user.supplier = factories.supplier()
    ctx.user.role_links.append(UserRole(role=Role.SUPPLIER))


PERSONAL_INPUTS = {
    "audit title": _title,
    "audit dates": _moved,
    "audit cancelled": _cancelled,
    "left the team": _left_team,
    "joined a new audit": _new_audit,
    "site time zone": _site_zone,
    "session edited": _session_edit,
    "session added": _session_added,
    "session deleted": _session_deleted,
    "session's unit": _session_unit,
    "team role": _lead,
    "unit membership": _joined_unit,
    "audited units": _audit_unit,
    "finding due date": _finding_due,
    "finding closed": _finding_closed,
    "action due date": _action_due,
    "action completed": _action_done,
    "user's name": _user_name,
    "user's company and role": _supplier_contact,
}


@pytest.mark.parametrize("change", PERSONAL_INPUTS.values(), ids=PERSONAL_INPUTS.keys())
def test_each_input_of_a_personal_feed_changes_its_etag(app, personal, change):
    """Changing any one input of a personal feed (audits, zones, sessions, team, units,
    deadlines, the owner) changes its ETag."""
    before = etag(app, personal.token, None)
    change(personal)
    assert etag(app, personal.token, None) != before


def test_the_fingerprint_is_stable_and_bound_to_day_org_and_token(app, personal, make):
    """The same data gives the same ETag; another day, organisation name or owner does not."""
    before = etag(app, personal.token, None)
    assert etag(app, personal.token, None) == before
    assert etag(app, personal.token, None, day=dt.date(2026, 3, 11)) != before
    assert etag(app, personal.token, None, org_name="Other Ltd") != before
    other = SimpleNamespace(user=make.user(), kind=FeedKind.PERSONAL, target_id=None)
    assert etag(app, other, None) != etag(app, personal.token, None)


def test_base_url_is_part_of_the_fingerprint(app, personal):
    """Links and UIDs come from BASE_URL: moving the application changes every ETag."""
    before = etag(app, personal.token, None)
    app.config["BASE_URL"] = "https://audits.example.org"
    assert etag(app, personal.token, None) != before


@pytest.fixture
def site_feed(app, make, cal):
    site = make.site()
    audit = cal.scheduled_audit(site=site, report_due_on=dt.date(2026, 5, 1))
    token = SimpleNamespace(user=make.user(roles=(Role.COORDINATOR,)), kind=FeedKind.SITE,
                            target_id=site.id)
    return SimpleNamespace(site=site, audit=audit, token=token)


def test_site_feed_changes_with_its_audits_name_and_zone(app, site_feed, cal, make):
    """A site feed's ETag follows its audits (report dates included), its name and its zone."""
    token, site = site_feed.token, site_feed.site
    seen = {etag(app, token, site)}
    site_feed.audit.report_issued_at = dt.datetime(2026, 4, 20, tzinfo=dt.UTC)
    seen.add(etag(app, token, site))
    cal.scheduled_audit(site=site, day=dt.date(2026, 7, 1))
    seen.add(etag(app, token, site))
    site.name = "Renamed site"
    seen.add(etag(app, token, site))
    site.timezone = "Asia/Tokyo"
    seen.add(etag(app, token, site))
    assert len(seen) == 5
    other = make.site()
    assert etag(app, SimpleNamespace(user=token.user, kind=FeedKind.SITE, target_id=other.id), other) \
        not in seen


def test_supplier_zone_is_part_of_the_fingerprint(app, make, cal):
    """An audit at a supplier (no site) is shown in the supplier's zone: changing it changes the ETag."""
    supplier = make.supplier(timezone="Europe/Paris")
    audit = make.audit(site=None, supplier=supplier, status=AuditStatus.SCHEDULED,
                       starts_at=local("Europe/Paris", 2026, 4, 2, 9), ends_at=local("Europe/Paris", 2026, 4, 2, 17))
    token = SimpleNamespace(user=make.user(roles=(Role.COORDINATOR,)), kind=FeedKind.SUPPLIER,
                            target_id=supplier.id)
    before = etag(app, token, supplier)
    supplier.timezone = "Europe/Lisbon"
    assert etag(app, token, supplier) != before
    assert audit.timezone == "Europe/Lisbon"


def test_certificate_feed_follows_the_certificate(app, make, cal):
    """A certificate feed's ETag changes with the certificate's number and cycle dates."""
    certificate = cal.certificate()
    token = SimpleNamespace(user=make.user(roles=(Role.COORDINATOR,)), kind=FeedKind.CERTIFICATE,
                            target_id=certificate.id)
    seen = {etag(app, token, certificate)}
    certificate.number = "CERT-RENUMBERED"
    seen.add(etag(app, token, certificate))
    certificate.expiry_date -= dt.timedelta(days=30)
    seen.add(etag(app, token, certificate))
    assert len(seen) == 3


# --------------------------------------------------------------------------------------------
# Through the feed URL


def _poll(client, url, etag_value=None):
    headers = {"If-None-Match": etag_value} if etag_value else {}
    return client.get(url, headers=headers)


def test_304_is_answered_without_building_the_feed(app, client, make, cal, monkeypatch):
    """A matching If-None-Match gets 304 before any event is built; a change gets the new body."""
    user = make.user()
    audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    _token, secret = new_token(user)
    url = f"/calendar/feed/{secret}.ics"
    first = _poll(client, url)
    assert first.status_code == 200

    def refuse(*args, **kwargs):
        raise AssertionError("the feed was built for a 304")

    monkeypatch.setattr(feeds, "build_feed", refuse)
    again = _poll(client, url, first.headers["ETag"])
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    monkeypatch.undo()
    audit.title = "A new title"
    db.session.commit()
    changed = _poll(client, url, first.headers["ETag"])
    assert changed.status_code == 200 and b"A new title" in changed.data
    assert changed.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("kind", [FeedKind.PERSONAL, FeedKind.PROGRAMME])
def test_304_query_count_is_constant(app, client, make, cal, count_queries, kind):
    """The 304 path runs the same number of statements for 1 audit as for 15."""
    user = make.user(roles=(Role.COORDINATOR, Role.AUDITOR))
    programme = cal.programme()
    target_id = None if kind is FeedKind.PERSONAL else programme.id
    counts = []
    for extra in (1, 14):
        for i in range(extra):
            audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], programme=programme,
                                        day=SOON + dt.timedelta(days=len(counts) * 20 + i))
            cal.session(audit)
        db.session.commit()
        _token, secret = new_token(user, kind, target_id)
        url = f"/calendar/feed/{secret}.ics"
        tag = _poll(client, url).headers["ETag"]
        with count_queries() as queries:
            assert _poll(client, url, tag).status_code == 304
        counts.append(queries.count)
    assert counts[0] == counts[1], counts
    # Token, owner, target and fingerprint in the one statement of a remembered poll (polls.py).
    assert counts[0] == 1, queries.statements


def test_certificate_feed_follows_its_audits_outside_the_window(app, make, cal):
    """The feed's surveillance 2 deadline follows surveillance 1's real date, held long before
    the window: moving that audit changes the ETag."""
    certificate = cal.certificate(decision=dt.date(2023, 3, 15))
    first = held_surveillance(make, certificate, dt.date(2024, 2, 15))
    token = SimpleNamespace(user=make.user(roles=(Role.COORDINATOR,)), kind=FeedKind.CERTIFICATE,
                            target_id=certificate.id)
    before = etag(app, token, certificate)
    first.planned_date = dt.date(2025, 1, 10)  # surveillance 2 now due by 31 Dec 2026
    first.starts_at = dt.datetime(2025, 1, 10, 7, tzinfo=dt.UTC)
    first.ends_at = first.starts_at + dt.timedelta(hours=8)
    assert etag(app, token, certificate) != before
