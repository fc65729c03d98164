"""Hostile input against every HTML form: property-based POST bodies, CSRF, oversized bodies.

Routes are found in ``app.url_map`` and their fields in the rendered page, so a form added by
any feature is fuzzed without editing this file. The properties: never a 5xx; a request that is
refused (anything but a redirect) stores nothing; a request that creates rows also writes a
trail row. ``HOSTILE_EXAMPLES`` (default 5, kept small for CI; raise it locally) sets the examples per form.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.reliability.routes import build_path, login_as, post_forms, routes, row_counts

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "5"))
#: Handled by their own tests (logging out ends the sweep's session; login is fuzzed anonymously).
SKIP = {"auth.logout", "auth.login"}
TRAIL_TABLE = "trail_entries"

NASTY = [
    "", " ", "0", "-1", "1.5", "NaN", "inf", "1e309", "-0", "99999999999999999999999999",
    "9999-99-99", "2026-02-30", "0000-00-00T25:61", "true", "null", "[]", "{}",
    "<script>alert(1)</script>", "' OR 1=1 --", "\"; DROP TABLE users; --", "../../etc/passwd",
    "%00", "\x00", "a\x00b", "\r\n\r\nX-Injected: 1", "\u202egnp.exe", "😀" * 40, "Ω" * 300,
    "Europe/Nowhere", "UTC\x00", "a" * 5000, " " * 300,
]

#: Text without lone surrogates (they cannot be encoded into a request at all).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


def _value(spec: dict) -> st.SearchStrategy:
    options = [o for o in spec.get("options", []) if o is not None]
    choices = [TEXT, st.sampled_from(NASTY), st.integers(-(2**70), 2**70).map(str)]
    if options:
        choices.insert(0, st.sampled_from(options))
    single = st.one_of(*choices)
    return st.one_of(single, st.lists(single, min_size=2, max_size=4))


def _body(fields: dict) -> st.SearchStrategy:
    """Every known field maybe present with a hostile value, plus a few unknown keys."""
    known = {name: _value(spec) for name, spec in fields.items() if name != "csrf_token"}
    return st.tuples(
        st.fixed_dictionaries({}, optional=known),
        st.dictionaries(TEXT.filter(lambda k: k and k not in fields), TEXT, max_size=3),
    ).map(lambda pair: {**pair[1], **pair[0]})


def _form_targets(app, client) -> list[tuple[str, dict, str]]:
    """(path, fields, label) for every POST route, its fields read from the rendered page."""
    targets = []
    for route in routes(app):
        if route.method != "POST" or route.is_api or route.endpoint in SKIP:
            continue
        path = build_path(app, route)
        fields: dict = {}
        if "GET" in route.rule.methods:
            page = client.get(path)
            assert page.status_code < 500, f"GET {path}: {page.status_code}"
            for form in post_forms(page.get_data(as_text=True)):
                if form["action"] in ("", path):
                    fields.update(form["fields"])
        targets.append((path, fields, str(route)))
    return targets


def _check(client, path: str, data: dict, label: str) -> None:
    before = row_counts()
    response = client.post(path, data=data)
    status = response.status_code
    assert status < 500, f"{label}: {status} for {data!r}"
    after = row_counts()
    if not 300 <= status < 400:
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, f"{label}: refused ({status}) but rows changed {changed} for {data!r}"
    grown = {t for t in before if after[t] > before[t]} - {TRAIL_TABLE}
    if grown:
        assert after[TRAIL_TABLE] > before[TRAIL_TABLE], f"{label}: created {grown} without a trail row"


@pytest.fixture
def admin_client(client, role_users):
    """A client logged in as an administrator that is not demo user 1 (whose form we fuzz)."""
    from audit.models import Role

    login_as(client, role_users[Role.ADMIN], factories.PASSWORD)
    return client


def test_every_form_survives_hostile_bodies(seeded, admin_client):
    """Random, oversized and malformed values in every field of every form: no 5xx, no partial write."""
    targets = _form_targets(seeded, admin_client)
    assert targets, "no form routes found"
    for path, fields, label in targets:
        _fuzz_form(admin_client, path, fields, label)


def _fuzz_form(client, path: str, fields: dict, label: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=_body(fields))
    def fuzz(body):
        _check(client, path, body, label)

    fuzz()


@settings(max_examples=max(EXAMPLES, 20), deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(email=st.one_of(TEXT, st.sampled_from(NASTY)), password=st.one_of(TEXT, st.sampled_from(NASTY)))
def test_login_survives_hostile_credentials(app, email, password):
    """The login form answers hostile credentials with 400/401, never a 5xx or a session."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (400, 401)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_malformed_encodings_are_refused_cleanly(seeded, admin_client):
    """Broken multipart, bad percent-encoding, invalid UTF-8 and odd content types never cause a 5xx."""
    bodies = [
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"),
        ("multipart/form-data", b"no boundary at all"),
        ("application/x-www-form-urlencoded", b"name=%ff%fe%zz&&&=&%%%=1"),
        ("application/x-www-form-urlencoded", b"\xff\xfe\x00\x01" * 100),
        ("application/json", b'{"name": '),
        ("application/x-www-form-urlencoded", b"a=" + b"&a=" * 2000),
    ]
    for path, _fields, label in _form_targets(seeded, admin_client):
        for content_type, raw in bodies:
            before = row_counts()
            response = admin_client.post(path, data=raw, content_type=content_type)
            assert response.status_code < 500, f"{label} {content_type}: {response.status_code}"
            if not 300 <= response.status_code < 400:
                assert row_counts() == before, f"{label} {content_type}: partial write"


def test_oversized_bodies_are_refused(seeded, admin_client):
    """A body over MAX_CONTENT_LENGTH (an oversized upload) is refused with 413 and stores nothing."""
    limit = seeded.config["MAX_CONTENT_LENGTH"]
    blob = b"\x89PNG\r\n\x1a\n" + b"\0" * (limit + 1024)
    targets = _form_targets(seeded, admin_client)
    before = row_counts()
    # As in production, CSRF protection reads every write's body first, so the limit applies
    # even to a route whose view never looks at its form.
    seeded.config["WTF_CSRF_ENABLED"] = True
    for path, fields, label in targets:
        # Built by hand: the test client would spool a large body to a temp file it never closes.
        parts = [
            f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\nx\r\n'.encode()
            for name in fields if name != "csrf_token"
        ]
        raw = b"".join(parts) + (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + blob + b"\r\n--B--\r\n"
        )
        response = admin_client.post(path, data=raw, content_type="multipart/form-data; boundary=B")
        assert response.status_code == 413, f"{label}: {response.status_code}"
    seeded.config["WTF_CSRF_ENABLED"] = False
    assert row_counts() == before


def test_every_write_route_enforces_csrf(seeded, admin_client):
    """With CSRF protection on (as in production), a write without the token is refused and stores nothing."""
    seeded.config["WTF_CSRF_ENABLED"] = True
    try:
        before = row_counts()
        for route in routes(seeded):
            if not route.is_write or route.endpoint == "auth.login":
                continue
            path = build_path(seeded, route)
            kwargs = {"json": {}} if route.is_api else {"data": {"name": "x"}}
            response = admin_client.open(path, method=route.method, **kwargs)
            assert response.status_code == 400, f"{route}: {response.status_code} without a CSRF token"
        response = seeded.test_client().post("/login", data={"email": "admin@example.com", "password": "x"})
        assert response.status_code == 400, "login accepted a post without a CSRF token"
        assert row_counts() == before
    finally:
        seeded.config["WTF_CSRF_ENABLED"] = False


def test_nul_characters_are_refused_on_every_database(seeded, admin_client, role_users):
    """A NUL in a form value, a query argument or a JSON body is a 400 and stores nothing (PostgreSQL cannot)."""
    from audit.models import Role

    admin = role_users[Role.ADMIN]
    before = row_counts()
    response = admin_client.post("/account", data={"account-name": "Eve\x00", "account-timezone": "UTC"})
    assert response.status_code == 400
    assert admin_client.get("/account?q=a%00b").status_code == 400
    assert admin_client.post("/organisation/sites/new", json={"name": "x\x00"}).status_code == 400
    assert row_counts() == before
    from audit.extensions import db

    db.session.refresh(admin)
    assert "\x00" not in admin.name
