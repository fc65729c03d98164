"""Feed contents: who sees what, every feed kind parsed by three parsers, constant queries."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.calendar import feeds, ical
from audit.extensions import db
from audit.models import ActionStatus, AuditStatus, FeedKind, FindingStatus, Role, SessionKind, TeamRole
from tests.calendar.parsers import assert_wellformed, parse_everywhere

DAY = dt.date(2026, 3, 10)


def render(app, kind, target, user, day=DAY):
    links = feeds.Links(app)
    return ical.render_feed(feeds.build_feed(kind, target, user, day=day, links=links))


def uids(data: bytes) -> set[str]:
    return {uid.split("@")[0] for uid in parse_everywhere(data)}


def test_personal_feed_has_my_audits_sessions_and_deadlines(app, make, cal):
    """Lead, team member and auditee each get their audits, the right sessions and own deadlines."""
    lead, member, auditee = make.user(), make.user(), make.user(roles=(Role.AUDITEE,))
    unit = make.unit(owner=auditee)
    other_unit = make.unit()
    audit = cal.scheduled_audit(team=[(lead, TeamRole.LEAD), (member, TeamRole.AUDITOR)], units=[unit])
    opening = cal.session(audit, hour=9, kind=SessionKind.OPENING)
    mine = cal.session(audit, hour=10, unit=unit, auditor=member)
    elsewhere = cal.session(audit, hour=11, unit=other_unit, auditor=lead)
    finding = cal.finding(audit, auditee)
    action = cal.action(finding, auditee)
    db.session.commit()

    lead_uids = uids(render(app, FeedKind.PERSONAL, None, lead))
    assert lead_uids == {f"audit-{audit.id}", f"session-{opening.id}", f"session-{mine.id}",
                         f"session-{elsewhere.id}"}
    assert uids(render(app, FeedKind.PERSONAL, None, member)) == {
        f"audit-{audit.id}", f"session-{opening.id}", f"session-{mine.id}"}
    assert uids(render(app, FeedKind.PERSONAL, None, auditee)) == {
        f"audit-{audit.id}", f"session-{opening.id}", f"session-{mine.id}",
        f"finding-{finding.id}-response-20260430", f"finding-{finding.id}-closure-20260630",
        f"action-{action.id}-20260520"}


def test_personal_feed_never_shows_other_peoples_items_or_confidential_text(app, make, cal):
    """Someone else's audits, findings and actions stay out; finding statements never go out."""
    me, someone = make.user(), make.user()
    mine = cal.scheduled_audit(team=[(me, TeamRole.LEAD)])
    theirs = cal.scheduled_audit(team=[(someone, TeamRole.LEAD)], title="Their private audit")
    their_finding = cal.finding(theirs, someone)
    cal.action(their_finding, someone)
    my_finding = cal.finding(mine, me, statement="Confidential: boss ignores 9.3")
    cal.action(my_finding, me, description="Confidential action")
    db.session.commit()
    data = render(app, FeedKind.PERSONAL, None, me)
    text = data.decode()
    assert "Their private audit" not in text and theirs.reference not in text
    assert f"finding-{their_finding.id}" not in text
    assert "Confidential" not in text and "boss" not in text
    assert my_finding.reference in text


def test_draft_and_closed_findings_and_done_actions_stay_out(app, make, cal):
    """Only open, issued findings and open actions have deadlines in the feed."""
    me = make.user()
    audit = cal.scheduled_audit(team=[(me, TeamRole.LEAD)])
    draft = cal.finding(audit, me, status=FindingStatus.DRAFT)
    closed = cal.finding(audit, me, status=FindingStatus.CLOSED)
    done = cal.action(cal.finding(audit, me), me)
    done.status = ActionStatus.DONE
    db.session.commit()
    text = render(app, FeedKind.PERSONAL, None, me).decode()
    assert f"finding-{draft.id}-" not in text and f"finding-{closed.id}-" not in text
    assert f"action-{done.id}-" not in text


def test_cancelled_audit_stays_for_grace_period_then_leaves(app, make, cal, now):
    """Cancelled: CANCELLED with a higher SEQUENCE, later gone; postponed audits leave at once."""
    me = make.user()
    audit = cal.scheduled_audit(team=[(me, TeamRole.LEAD)], day=dt.date(2026, 4, 20))
    cal.session(audit, hour=10)
    db.session.commit()
    uid = f"audit-{audit.id}@{feeds.Links(app).domain}"
    before = parse_everywhere(render(app, FeedKind.PERSONAL, None, me))[uid]
    audit.status = AuditStatus.CANCELLED
    audit.cancelled_at = now
    db.session.commit()
    during = parse_everywhere(render(app, FeedKind.PERSONAL, None, me))
    assert during[uid][2] == "CANCELLED" and during[uid][3] > before[3]
    assert all(v[2] == "CANCELLED" for v in during.values())
    later = DAY + dt.timedelta(days=ical.CANCELLED_GRACE_DAYS + 1)
    assert parse_everywhere(render(app, FeedKind.PERSONAL, None, me, day=later)) == {}
    audit.status = AuditStatus.POSTPONED
    db.session.commit()
    assert parse_everywhere(render(app, FeedKind.PERSONAL, None, me)) == {}


def test_window_bounds_the_feed(app, make, cal):
    """Audits older than 90 days or later than 18 months are not in the feed."""
    me = make.user()
    old = cal.scheduled_audit(team=[(me, TeamRole.LEAD)], day=DAY - dt.timedelta(days=120))
    far = cal.scheduled_audit(team=[(me, TeamRole.LEAD)], day=DAY + dt.timedelta(days=600))
    near = cal.scheduled_audit(team=[(me, TeamRole.LEAD)], day=DAY + dt.timedelta(days=30))
    db.session.commit()
    assert uids(render(app, FeedKind.PERSONAL, None, me)) == {f"audit-{near.id}"}
    assert old.id and far.id


@pytest.mark.parametrize("kind", [FeedKind.PROGRAMME, FeedKind.SITE, FeedKind.SUPPLIER, FeedKind.CERTIFICATE])
def test_every_coordinator_feed_kind_parses_with_three_parsers(app, make, cal, kind):
    """Programme, site, supplier and certificate feeds hold their audits (in each demo zone)."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    programme = cal.programme()
    supplier = make.supplier(timezone="Asia/Shanghai")
    certificate = cal.certificate()
    audits = []
    for tz in ("Europe/Berlin", "America/Chicago", "Asia/Shanghai"):
        site = make.site(timezone=tz)
        audits.append(cal.scheduled_audit(site=site, programme=programme, supplier=supplier,
                                          certificate=certificate, report_due_on=dt.date(2026, 5, 1)))
    unrelated = cal.scheduled_audit()
    db.session.commit()
    target = {FeedKind.PROGRAMME: programme, FeedKind.SITE: audits[0].site,
              FeedKind.SUPPLIER: supplier, FeedKind.CERTIFICATE: certificate}[kind]
    data = render(app, kind, target, coordinator)
    assert_wellformed(data)
    events = parse_everywhere(data)
    expected = audits if kind is not FeedKind.SITE else audits[:1]
    domain = feeds.Links(app).domain
    for audit in expected:
        assert events[f"audit-{audit.id}@{domain}"][0] == audit.starts_at
    assert f"audit-{unrelated.id}@{domain}" not in events
    assert f"audit-{expected[0].id}-report-20260501@{domain}" in events
    if kind is FeedKind.CERTIFICATE:
        assert f"certificate-{certificate.id}-surveillance1-20260601@{domain}" in events  # decision + 12 months
        assert f"certificate-{certificate.id}-expiry-20280531@{domain}" not in events  # beyond window
        assert f"certificate-{certificate.id}-recertification-20280301@{domain}" not in events


def test_coordinator_feed_queries_do_not_grow_with_rows(app, make, cal, count_queries):
    """Rendering a site feed and a personal feed costs the same queries for 2 or 20 audits."""
    me = make.user(roles=(Role.COORDINATOR,))
    site = make.site()

    def counts():
        db.session.expire_all()
        with count_queries() as q1:
            render(app, FeedKind.SITE, db.session.get(type(site), site.id), me)
        db.session.expire_all()
        with count_queries() as q2:
            render(app, FeedKind.PERSONAL, None, db.session.get(type(me), me.id))
        return q1.count, q2.count

    for _ in range(2):
        a = cal.scheduled_audit(site=site, team=[(me, TeamRole.LEAD)])
        cal.session(a)
        cal.action(cal.finding(a, me), me)
    db.session.commit()
    small = counts()
    for _ in range(18):
        a = cal.scheduled_audit(site=site, team=[(me, TeamRole.LEAD)])
        cal.session(a)
        cal.action(cal.finding(a, me), me)
    db.session.commit()
    assert counts() == small


def test_certification_deadlines_follow_the_cycle(cal, app):
    """Surveillance 1 within 12 months of the decision, a surveillance every calendar year,
    recertification before expiry, and expiry itself."""
    certificate = cal.certificate(decision=dt.date(2026, 2, 28))
    keys = {key: day for key, day, _label in feeds.certification_deadlines(certificate)}
    assert keys["surveillance1"] == dt.date(2027, 2, 28)
    assert keys["surveillance2"].year == 2028
    assert keys["recertification1"] < certificate.expiry_date
    assert keys["expiry"] == certificate.expiry_date


def test_demo_organisation_feeds_all_parse(app, now):
    """With the demo data, every feed of every kind and every user's personal feed parses
    identically in icalendar, ical and vobject and stays well-formed."""
    from sqlalchemy import select

    from audit.demo import seed_demo
    from audit.models import Certificate, Programme, Site, Supplier, User

    seed_demo(now=now)
    db.session.commit()
    links = feeds.Links(app)
    coordinator = db.session.scalar(select(User).where(User.email == "coordinator@example.com"))
    total = 0
    for kind, model in ((FeedKind.PROGRAMME, Programme), (FeedKind.SITE, Site),
                        (FeedKind.SUPPLIER, Supplier), (FeedKind.CERTIFICATE, Certificate)):
        for obj in db.session.scalars(select(model)):
            data = ical.render_feed(feeds.build_feed(kind, obj, coordinator, day=now.date(), links=links))
            assert_wellformed(data)
            total += len(parse_everywhere(data))
    for user in db.session.scalars(select(User)):
        data = ical.render_feed(feeds.build_feed(FeedKind.PERSONAL, None, user, day=now.date(), links=links))
        assert_wellformed(data)
        total += len(parse_everywhere(data))
    assert total > 0


def test_events_link_to_the_audit_and_finding_pages(app, make, cal):
    """Event URLs are absolute links (BASE_URL) to the audit and finding pages."""
    import icalendar

    me = make.user()
    audit = cal.scheduled_audit(team=[(me, TeamRole.LEAD)])
    finding = cal.finding(audit, me)
    db.session.commit()
    cal_ = icalendar.Calendar.from_ical(render(app, FeedKind.PERSONAL, None, me))
    urls = {str(e["UID"]).split("@")[0]: str(e["URL"]) for e in cal_.walk("VEVENT")}
    base = app.config["BASE_URL"]
    assert urls[f"audit-{audit.id}"] == f"{base}/audits/{audit.id}"
    assert urls[f"finding-{finding.id}-response-20260430"] == f"{base}/findings/{finding.id}"


def test_control_characters_never_reach_a_feed(app, make, cal):
    """Titles stored with BEL, VT, FF, ESC or DEL (e.g. before the input checks existed) are dropped
    at serialisation, so the strict ``ical`` parser still reads the whole feed."""
    lead = make.user()
    audit = cal.scheduled_audit(team=[(lead, TeamRole.LEAD)])
    audit.title = "Bell\x07 tab\x0b feed\x0c esc\x1b del\x7f end"
    db.session.commit()
    data = render(app, FeedKind.PERSONAL, None, lead)
    assert not any(ch in data for ch in (b"\x07", b"\x0b", b"\x0c", b"\x1b", b"\x7f"))
    assert f"audit-{audit.id}" in uids(data)
    assert b"SUMMARY:" in data and b"Bell tab feed esc del end" in data.replace(b"\r\n ", b"")
