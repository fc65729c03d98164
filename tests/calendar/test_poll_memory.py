"""A worker answers a feed it has answered before from one statement, and still notices every
change to the token, its owner and the feed's target (audit/calendar/polls.py, issue 16)."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.calendar import polls
from audit.extensions import db
from audit.models import CertificateStatus, FeedKind, Role, TeamRole, UserRole
from tests.calendar.test_views import SOON, new_token


def _remembered(client, url):
    """Poll twice: the first poll teaches the worker the token, the second is answered from
    memory. Returns the ETag."""
    first = client.get(url)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    return tag


def _after(client, url, tag):
    return client.get(url, headers={"If-None-Match": tag})


def test_a_remembered_poll_costs_one_statement(app, client, make, cal, count_queries):
    """Token, owner, target and fingerprint in one statement, for a personal and a programme feed."""
    user = make.user(roles=(Role.COORDINATOR, Role.AUDITOR))
    programme = cal.programme()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], programme=programme, day=SOON)
    for kind, target_id in ((FeedKind.PERSONAL, None), (FeedKind.PROGRAMME, programme.id)):
        _token, secret = new_token(user, kind, target_id)
        url = f"/calendar/feed/{secret}.ics"
        tag = _remembered(client, url)
        with count_queries() as queries:
            assert _after(client, url, tag).status_code == 304
        assert queries.count == 1, queries.statements


def test_the_remembered_etag_is_the_fingerprints(app, client, make, cal):
    """Both paths give the ETag ``fingerprint.feed_etag`` computes (whose inputs
    tests/calendar/test_fingerprint.py changes one by one)."""
    from audit.calendar import feeds, fingerprint
    from audit.models import utcnow

    user = make.user()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    token, secret = new_token(user)
    url = f"/calendar/feed/{secret}.ics"
    tag = _remembered(client, url)
    assert _after(client, url, tag).headers["ETag"] == tag
    expected = fingerprint.feed_etag(token, None, day=utcnow().date(), links=feeds.Links(app),
                                     org_name=app.config.get("ORGANISATION_NAME", "Audits"))
    assert tag == f'"{expected}"'


def _rename_owner(ctx):
    ctx.user.name = "Renamed Owner"


def _add_role(ctx):
    ctx.user.role_links.append(UserRole(role=Role.VIEWER))


def _make_supplier_contact(ctx):
    ctx.user.supplier = ctx.make.supplier()
    ctx.user.role_links.append(UserRole(role=Role.SUPPLIER))


def _rename_programme(ctx):
    ctx.programme.name = "Renamed programme"


OWNER_AND_TARGET_CHANGES = {
    "owner renamed": (FeedKind.PERSONAL, _rename_owner),
    "owner given a role": (FeedKind.PERSONAL, _add_role),
    "owner made a supplier contact": (FeedKind.PERSONAL, _make_supplier_contact),
    "programme feed's owner renamed": (FeedKind.PROGRAMME, _rename_owner),
    "programme renamed": (FeedKind.PROGRAMME, _rename_programme),
}


@pytest.mark.parametrize("kind, change", OWNER_AND_TARGET_CHANGES.values(), ids=OWNER_AND_TARGET_CHANGES.keys())
def test_a_remembered_feed_follows_its_owner_and_target(app, client, make, cal, kind, change):
    """After a change to what the ETag reads from the owner or the target, the old ETag no
    longer matches: the client gets the new feed, and it is remembered again."""
    user = make.user(roles=(Role.COORDINATOR,))
    programme = cal.programme()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], programme=programme, day=SOON)
    _token, secret = new_token(user, kind, None if kind is FeedKind.PERSONAL else programme.id)
    url = f"/calendar/feed/{secret}.ics"
    tag = _remembered(client, url)
    change(type("Ctx", (), {"user": user, "programme": programme, "make": make}))
    db.session.commit()
    changed = _after(client, url, tag)
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert _after(client, url, changed.headers["ETag"]).status_code == 304


@pytest.mark.parametrize("change", ["number", "status", "expiry", "holder renamed", "standard"])
def test_a_remembered_certificate_feed_follows_the_certificate(app, client, make, cal, change):
    """A certificate feed's name and cycle come from the certificate, its holder and standard."""
    user = make.user(roles=(Role.COORDINATOR,))
    certificate = cal.certificate(supplier=make.supplier(name="Holder Ltd"))
    _token, secret = new_token(user, FeedKind.CERTIFICATE, certificate.id)
    url = f"/calendar/feed/{secret}.ics"
    tag = _remembered(client, url)
    if change == "number":
        certificate.number = "CERT-NEW"
    elif change == "status":
        certificate.status = CertificateStatus.SUSPENDED
    elif change == "expiry":
        certificate.expiry_date -= dt.timedelta(days=10)
    elif change == "holder renamed":
        certificate.supplier.name = "Holder Renamed Ltd"
    else:
        certificate.standard.code = "ISO 14001"
    db.session.commit()
    changed = _after(client, url, tag)
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


@pytest.mark.parametrize("change", ["revoked", "owner deactivated", "owner lost the role"])
def test_a_remembered_token_that_no_longer_opens_the_feed_gets_404(app, client, make, cal, now, change):
    """Revocation, deactivation and losing the role that allows a programme feed all end a
    remembered subscription at its next poll."""
    user = make.user(roles=(Role.COORDINATOR,))
    programme = cal.programme()
    cal.scheduled_audit(programme=programme, day=SOON)
    token, secret = new_token(user, FeedKind.PROGRAMME, programme.id)
    url = f"/calendar/feed/{secret}.ics"
    tag = _remembered(client, url)
    if change == "revoked":
        token.revoked_at = now
    elif change == "owner deactivated":
        user.is_active = False
    else:
        user.role_links.clear()
        user.role_links.append(UserRole(role=Role.AUDITEE))
    db.session.commit()
    assert _after(client, url, tag).status_code == 404
    assert client.get(url).status_code == 404


def test_the_memory_is_bounded(app, client, make, cal, monkeypatch):
    """Each worker remembers at most MEMORY_SIZE tokens, the least recently polled going first."""
    monkeypatch.setattr(polls, "MEMORY_SIZE", 2)
    user = make.user()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    urls = [f"/calendar/feed/{new_token(user)[1]}.ics" for _ in range(3)]
    for url in urls:
        _remembered(client, url)
    memory = app.extensions["audit.feed_polls"]
    assert len(memory) == 2
