"""Every input of issue 12's "Bad input" list answers 4xx with a clear message and stores nothing.

Run on SQLite and, with ``TEST_DATABASE_URL``, on PostgreSQL: before these checks several were
500s on one database only (ids ≥ 2^31, over-long imported codes).
"""

from __future__ import annotations

import json

import pytest

from audit.extensions import db
from audit.models import Role, Standard
from tests import factories
from tests.reliability.routes import login_as, row_counts

#: A 374-byte YAML alias bomb: nine levels of nine aliases expand to 9^9 strings.
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]" for prev, cur in zip("abcdefgh", "bcdefghi", strict=True)]
    + ["standard: *i", "edition: '1'", "clauses: [{number: '1', title: x}]"]
)


@pytest.fixture
def admin_client(client, role_users):
    login_as(client, role_users[Role.ADMIN], factories.PASSWORD)
    return client


def _refused(response, *, expect: str, status=(400, 413, 422)) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in status, (response.status_code, body[:300])
    assert expect.lower() in body.lower(), body[:2000]


def _audit_id() -> int:
    from audit.models import Audit

    return db.session.scalar(db.select(Audit.id).order_by(Audit.id))


@pytest.mark.parametrize(("path", "data", "expect"), [
    ("/audits/{audit}/reschedule",
     {"starts_local": "9999-12-31T09:00", "ends_local": "9999-12-31T17:00", "reason": "x"}, "between the years"),
    ("/audits/{audit}/plan/sessions",
     {"kind": "session", "starts_local": "0001-01-01T00:00", "ends_local": "0001-01-01T01:00"}, "between the years"),
    ("/programme/new", {"name": "Far", "period_start": "2027-01-01", "period_end": "9999-12-31"}, "between the years"),
    ("/audits/{audit}/reschedule", {"starts_local": "2026-06-01T09:00", "ends_local": "2026-06-01T17:00",
                                    "reason": "bell\x07 vt\x0b esc\x1b del\x7f"}, "control character"),
    ("/audits/new", {"title": "Title", "site": "99999999999999999999", "site_id": "2147483648"}, "too large"),
    ("/library/standards/import", {"fmt": "yaml", "text": ALIAS_BOMB}, "aliases"),
    ("/library/standards/import", {"fmt": "csv", "text": "standard,edition,number,title,untitled\n"
                                   + "C" * 41 + ",1,1,Packaging,\n"}, "too long"),
    ("/library/templates/import", {"fmt": "yaml", "text": "template: T\nsections:\n- title: " + "S" * 201
                                   + "\n  questions: [{key: q1, text: Why}]\n"}, "too long"),
])
def test_bad_form_input_is_refused_and_stores_nothing(seeded, admin_client, path, data, expect):
    """Out-of-range dates, control characters, huge ids, alias bombs and over-long imports: 4xx, nothing stored."""
    path = path.format(audit=_audit_id())
    before = row_counts()
    _refused(admin_client.post(path, data=data), expect=expect)
    assert row_counts() == before


@pytest.mark.parametrize(("query", "expect"), [
    ("/findings/?site=99999999999999999999", "too large"), ("/audits/?site=2147483648", "too large"),
    ("/programme/coverage?site=-2147483649", "too large"), ("/programme/calendar?year=99999", "between the years"),
    ("/reports/?start=0001-01-01", "between the years")])
def test_out_of_range_filters_are_refused(seeded, admin_client, query, expect):
    """A filter id beyond a 32-bit column (a 500 on PostgreSQL from 2^31, on SQLite from 2^63) or a year
    out of range is a 400."""
    _refused(admin_client.get(query), expect=expect, status=(400,))


def test_single_line_fields_refuse_line_breaks(seeded, admin_client):
    """An audit title with CR/LF (it becomes an e-mail Subject and a calendar SUMMARY) is refused on the form."""
    from audit.models import Audit

    audit_id = _audit_id()
    before = row_counts()
    response = admin_client.post(f"/audits/{audit_id}/edit", data={"title": "Hello\r\nBcc: all@example.com"})
    _refused(response, expect="one line", status=(422,))
    assert row_counts() == before
    assert "\n" not in db.session.get(Audit, audit_id).title


def test_malformed_multipart_is_refused_before_csrf(app):
    """A multipart part without a name (a 500 on /login once CSRF parsed it) is a 400 for anyone."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        raw = b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n"
        response = app.test_client().post("/login", data=raw, content_type="multipart/form-data; boundary=B")
        _refused(response, expect="no name", status=(400,))
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_deep_json_is_refused_anonymously(app):
    """A JSON body nested 900 deep (a RecursionError, 500, before) is a 400, even without logging in."""
    deep = "[" * 900 + "]" * 900
    for method, path in (("POST", "/login"), ("PUT", "/api/audits/1/answers/1")):
        response = app.test_client().open(path, method=method, data=deep, content_type="application/json")
        assert response.status_code == 400, path
        assert "nested" in response.get_data(as_text=True)


def test_json_strings_with_controls_and_huge_ints_are_refused(seeded, admin_client):
    """Control characters and out-of-range integers inside JSON bodies are refused at the edge."""
    before = row_counts()
    for body in ({"name": "a\x1bb"}, {"question_id": 2**40}, {"taken_at": "0001-01-01T00:00:00+14:00"}):
        response = admin_client.put("/api/audits/1/answers/1", data=json.dumps(body),
                                    content_type="application/json")
        assert response.status_code == 400, (body, response.status_code)
    assert row_counts() == before


def test_imported_standard_is_checked_against_every_column(seeded, admin_client):
    """Over-long code, edition, title and clause number are each reported with their line."""
    text = ("standard,edition,standard_title,number,title,untitled\n"
            f"{'C' * 41},{'E' * 21},{'T' * 251},1,Scope,\n")
    response = admin_client.post("/library/standards/import", data={"fmt": "csv", "text": text})
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 422)
    assert "at most 40 characters" in body and "at most 20 characters" in body and "line 2" in body
    assert db.session.scalar(db.select(db.func.count(Standard.id)).where(Standard.code.like("CCCC%"))) == 0
