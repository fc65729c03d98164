"""Feed HTTP behaviour, token management pages and the single-audit download."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
import urllib.request

import pytest
from sqlalchemy import select

from audit.calendar import services
from audit.extensions import db
from audit.models import CalendarToken, FeedKind, Role, TeamRole, TrailEntry, utcnow
from tests.calendar.parsers import parse_everywhere

#: Views use the real clock, so their audits are dated relative to today (inside the window).
SOON = utcnow().date() + dt.timedelta(days=14)
LINK = re.compile(r'value="(https?://[^"]+/calendar/feed/([A-Za-z0-9_-]+)\.ics)"')


def new_token(user, kind=FeedKind.PERSONAL, target_id=None, now=None):
    token, secret = services.create_token(user, kind, target_id, actor=user,
                                          now=now or dt.datetime(2026, 3, 10, tzinfo=dt.UTC))
    db.session.commit()
    return token, secret


def test_create_shows_token_once_and_stores_only_its_hash(app, client, login, make, cal):
    """Creating a link shows https/webcal links and a QR code once; the DB keeps a hash."""
    user = make.user()
    db.session.commit()
    login(user)
    response = client.post("/calendar/tokens", data={"feed": "personal", "label": "Phone"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    url, secret = LINK.search(html).groups()
    assert len(secret) == 43  # 32 bytes from secrets.token_urlsafe
    assert f"webcal://{url.split('://', 1)[1]}" in html
    assert "<svg" in html and response.headers["Referrer-Policy"] == "no-referrer"
    token = db.session.scalar(select(CalendarToken))
    assert url.endswith(services.feed_path(secret))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(token.__dict__)
    assert db.session.scalar(select(TrailEntry).where(TrailEntry.object_type == "CalendarToken"))
    page = client.get("/calendar/").get_data(as_text=True)
    assert secret not in page and "Phone" in page
    assert client.get(f"/calendar/feed/{secret}.ics").status_code == 200


def test_feed_headers_and_body(app, client, make, cal):
    """The feed answers text/calendar with a strong ETag of its fingerprint and no-referrer."""
    user = make.user()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    _token, secret = new_token(user)
    response = client.get(f"/calendar/feed/{secret}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag) and client.get(f"/calendar/feed/{secret}.ics").headers["ETag"] == etag
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Last-Modified"]
    assert len(parse_everywhere(response.data)) == 1


@pytest.mark.parametrize("bad", ["nope", "x" * 43, "a" * 42 + "!", "../../etc/passwd"])
def test_unknown_or_malformed_tokens_get_404(client, app, bad):
    """Guessed, malformed and path-like tokens all get a plain 404."""
    assert client.get(f"/calendar/feed/{bad}.ics").status_code == 404


def test_revoked_token_gets_404_and_rotation_replaces_it(app, client, login, make):
    """Revoking stops the URL at once; rotating gives a new working URL and kills the old."""
    user = make.user()
    token, secret = new_token(user)
    login(user)
    response = client.post(f"/calendar/tokens/{token.id}/rotate")
    new_secret = LINK.search(response.get_data(as_text=True)).group(2)
    assert client.get(f"/calendar/feed/{secret}.ics").status_code == 404
    assert client.get(f"/calendar/feed/{new_secret}.ics").status_code == 200
    new = db.session.scalar(select(CalendarToken).where(CalendarToken.revoked_at.is_(None)))
    assert client.post(f"/calendar/tokens/{new.id}/revoke").status_code == 302
    assert client.get(f"/calendar/feed/{new_secret}.ics").status_code == 404


def test_cannot_revoke_someone_elses_token(app, client, login, make):
    """Another user's token id answers 404 and stays active."""
    owner, other = make.user(), make.user()
    token, secret = new_token(owner)
    login(other)
    assert client.post(f"/calendar/tokens/{token.id}/revoke").status_code == 404
    assert client.get(f"/calendar/feed/{secret}.ics").status_code == 200


def test_feed_of_deactivated_user_or_lost_permission_is_404(app, client, make, cal):
    """A coordinator feed stops when its owner no longer may see it; inactive users too."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    site = make.site()
    _token, secret = new_token(coordinator, FeedKind.SITE, site.id)
    assert client.get(f"/calendar/feed/{secret}.ics").status_code == 200
    coordinator.role_links[0].role = Role.AUDITEE
    db.session.commit()
    assert client.get(f"/calendar/feed/{secret}.ics").status_code == 404
    user = make.user()
    _t, personal = new_token(user)
    user.is_active = False
    db.session.commit()
    assert client.get(f"/calendar/feed/{personal}.ics").status_code == 404


def test_auditee_cannot_create_coordinator_feeds(app, make, now):
    """Coordinator feeds need MANAGE_PROGRAMME or VIEW_REPORTS."""
    from audit.core.errors import NotAllowed

    auditee = make.user(roles=(Role.AUDITEE,))
    site = make.site()
    with pytest.raises(NotAllowed):
        services.create_token(auditee, FeedKind.SITE, site.id, actor=auditee, now=now)


def test_conditional_requests_get_304(app, client, make, cal):
    """If-None-Match (weak or strong, or *) and If-Modified-Since answer 304 without a body;
    If-None-Match wins over If-Modified-Since."""
    user = make.user()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    _token, secret = new_token(user)
    url = f"/calendar/feed/{secret}.ics"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'W/{etag}, "other"'},
                    {"If-None-Match": "*"}, {"If-Modified-Since": modified}):
        response = client.get(url, headers=headers)
        assert response.status_code == 304, headers
        assert response.data == b"" and response.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code == 200
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200


def test_last_modified_moves_forward_when_an_event_is_deleted(app, client, make, cal):
    """Removing an audit changes the ETag and moves Last-Modified forward."""
    user = make.user()
    keep = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    drop = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    token, secret = new_token(user)
    url = f"/calendar/feed/{secret}.ics"
    first = client.get(url)
    # Pretend the first poll was a day ago.
    token = db.session.get(CalendarToken, token.id)
    token.content_changed_at -= dt.timedelta(days=1)
    db.session.commit()
    stale = client.get(url).headers["Last-Modified"]
    db.session.delete(drop)
    db.session.commit()
    second = client.get(url)
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.last_modified > dt.datetime.strptime(stale, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
    assert client.get(url, headers={"If-Modified-Since": stale}).status_code == 200
    assert keep.id


def test_token_never_reaches_the_request_log(app, make, caplog):
    """A real server's access log line shows the feed path with the token redacted."""
    from werkzeug.serving import make_server

    user = make.user()
    _token, secret = new_token(user)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in (f"/calendar/feed/{secret}.ics", f"/calendar/feed/{secret[:-1]}.ics"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=5).read()
                except urllib.error.HTTPError as exc:
                    assert exc.code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert "/calendar/feed/[token]" in caplog.text
    assert secret not in caplog.text and secret[:-1] not in caplog.text


def test_calendar_page_renders_with_choices(app, client, login, make, cal):
    """The page lists personal and coordinator choices and the user's links."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    site = make.site(name="Berlin plant")
    cal.programme("Programme 2026")
    new_token(coordinator, FeedKind.SITE, site.id)
    login(coordinator)
    html = client.get("/calendar/").get_data(as_text=True)
    assert "My audits and deadlines" in html and "Programme 2026" in html
    assert "Site Berlin plant" in html and "Revoke" in html
    assert 'href="/calendar/"' in html  # navigation entry


def test_audit_download_is_an_ics_with_sessions(app, client, login, make, cal):
    """/audits/<id>/calendar.ics returns the audit and its sessions as an attachment."""
    user = make.user()
    audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    session = cal.session(audit)
    db.session.commit()
    login(user)
    response = client.get(f"/audits/{audit.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="{audit.reference}.ics"' in response.headers["Content-Disposition"]
    events = parse_everywhere(response.data)
    assert {u.split("@")[0] for u in events} == {f"audit-{audit.id}", f"session-{session.id}"}
    assert client.get("/audits/999999/calendar.ics").status_code == 404


def test_audit_page_section_offers_the_download(app, make, cal):
    """The calendar section registered for the audit page links to the .ics."""
    from audit.calendar.views import audit_section
    from audit.core.registry import registry

    user = make.user()
    audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    assert registry(app).audit_sections["calendar"] is audit_section
    with app.test_request_context():
        section = audit_section(audit, user)
    assert section["context"]["ics_url"] == f"/audits/{audit.id}/calendar.ics"


def test_calendar_page_queries_do_not_grow_with_tokens(app, client, login, make, cal, count_queries):
    """The calendar page costs the same queries with 2 or 20 links of every kind."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    login(coordinator)

    def add(n):
        for _ in range(n):
            new_token(coordinator, FeedKind.SITE, make.site().id)
            new_token(coordinator, FeedKind.CERTIFICATE, cal.certificate().id)
            new_token(coordinator, FeedKind.PROGRAMME, cal.programme().id)
            new_token(coordinator)

    def count():
        db.session.expire_all()
        with count_queries() as q:
            assert client.get("/calendar/").status_code == 200
        return q.count

    add(2)
    small = count()
    add(18)
    assert count() == small


def test_supplier_contact_gets_own_company_audits_only(app, make, cal):
    """A supplier contact's personal feed has their company's second-party audits, no others."""
    from audit.calendar import feeds, ical
    from audit.models import AuditKind

    supplier = make.supplier(timezone="Asia/Shanghai")
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
    theirs = cal.scheduled_audit(supplier=supplier, kind=AuditKind.SECOND_PARTY, day=SOON)
    other = cal.scheduled_audit(supplier=make.supplier(), kind=AuditKind.SECOND_PARTY, day=SOON)
    db.session.commit()
    data = ical.render_feed(feeds.build_feed(FeedKind.PERSONAL, None, contact, day=utcnow().date(),
                                             links=feeds.Links(app)))
    found = {uid.split("@")[0] for uid in parse_everywhere(data)}
    assert found == {f"audit-{theirs.id}"} and other.id
    assert not feeds.may_subscribe(contact, FeedKind.SUPPLIER)


def test_calendar_page_preselects_a_feed_from_the_query(app, client, login, make):
    """/calendar/?feed=site:<id> preselects that site; unknown values are ignored."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    site = make.site()
    db.session.commit()
    login(coordinator)
    html = client.get(f"/calendar/?feed=site:{site.id}").get_data(as_text=True)
    assert f'<option selected value="site:{site.id}">' in html
    assert client.get("/calendar/?feed=site:99999").status_code == 200


def test_audit_page_shows_the_calendar_section(app, client, login, make, cal):
    """The audit page (issue 4) renders our section with the .ics link."""
    user = make.user(roles=(Role.COORDINATOR,))
    audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    db.session.commit()
    login(user)
    html = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert f"/audits/{audit.id}/calendar.ics" in html
