"""The hostile-input sweep by case class: for every form and every filter found in the app, one
request per class — out-of-range years, ids beyond a 32-bit column, over-long text, control
characters, line breaks in single-line fields. Never a 5xx; a refusal is a 4xx that stores
nothing; what the edge refuses (years, ids in id fields, control characters) is always a 400.

Forms and filters are read from the rendered pages (``tests/reliability/routes.py``), so a form
added by any feature is covered without editing this file. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from audit.core.hygiene import ID_FIELD_RE
from tests import factories
from tests.reliability.routes import build_path, get_forms, login_as, post_forms, routes, row_counts

#: Handled by their own tests (logging out ends the sweep's session; login is anonymous).
SKIP = {"auth.logout", "auth.login"}
TEXT_TYPES = {"text", "textarea", "search", "email", "url", "tel", "password"}
SINGLE_LINE_TYPES = TEXT_TYPES - {"textarea"}
DATE_VALUES = {"date": "9999-12-31", "datetime-local": "0001-01-01T00:00", "month": "9999-12"}
HUGE_ID = "2147483648"  # 2^31: a 500 on PostgreSQL before the checks


def _baseline(fields: dict) -> dict:
    """A plausible value per field: its first option, its pre-filled value, else a short text."""
    body = {}
    for name, spec in fields.items():
        if name == "csrf_token":
            continue
        options = [o for o in spec.get("options", []) if o not in (None, "")]
        body[name] = options[0] if options else spec.get("value") or "x"
    return body


def _cases(fields: dict) -> list[tuple[str, dict, bool]]:
    """(case class, body, whether the edge must answer 400) for one form's fields."""
    base = _baseline(fields)
    by_type = {}
    for name, spec in fields.items():
        if name != "csrf_token":
            by_type.setdefault(spec["type"], []).append(name)
    text = [n for t in TEXT_TYPES for n in by_type.get(t, [])]
    single = [n for t in SINGLE_LINE_TYPES for n in by_type.get(t, [])]
    dates = {n: DATE_VALUES[t] for t in DATE_VALUES for n in by_type.get(t, [])}
    ids = [n for n in base if ID_FIELD_RE.search(n)]
    numbers = ids + [n for t in ("select", "number", "hidden") for n in by_type.get(t, []) if n not in ids]
    cases = []
    if dates:
        cases.append(("year", {**base, **dates}, True))
    if numbers:
        cases.append(("id", {**base, **dict.fromkeys(numbers, HUGE_ID)}, bool(ids)))
    if text:
        cases.append(("length", {**base, **dict.fromkeys(text, "Ω" * 20000)}, False))
        cases.append(("control", {**base, **dict.fromkeys(text, "a\x1bb\x7f")}, True))
    if single:
        cases.append(("line break", {**base, **dict.fromkeys(single, "one\r\ntwo")}, False))
    return cases


def _form_targets(app, client) -> list[tuple[str, dict, str]]:
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


def _check(client, method: str, path: str, body: dict, label: str, case: str, edge: bool) -> None:
    before = row_counts()
    response = client.get(path, query_string=body) if method == "GET" else client.post(path, data=body)
    status = response.status_code
    assert status < 500, f"{label} [{case}]: {status}"
    if edge:
        assert status == 400, f"{label} [{case}]: {status}, the edge should refuse it"
    if method == "POST" and not 300 <= status < 400:
        after = row_counts()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, f"{label} [{case}]: refused ({status}) but rows changed {changed}"
    if case == "line break" and 300 <= status < 400:
        raise AssertionError(f"{label}: a line break in a single-line field was accepted")


@pytest.fixture
def admin_client(client, role_users):
    from audit.models import Role

    login_as(client, role_users[Role.ADMIN], factories.PASSWORD)
    return client


def test_every_form_refuses_each_hostile_case_class(seeded, admin_client):
    """Years, ids, lengths, control characters and line breaks in every POST form: 4xx, nothing stored."""
    covered = 0
    for path, fields, label in _form_targets(seeded, admin_client):
        for case, body, edge in _cases(fields):
            _check(admin_client, "POST", path, body, label, case, edge)
            covered += 1
    assert covered > 100, f"only {covered} form cases: the sweep lost its forms"


def test_every_filter_refuses_each_hostile_case_class(seeded, admin_client):
    """The same classes in every GET filter form of every page: 400 at the edge, never a 5xx."""
    covered = 0
    for route in routes(seeded):
        if route.method != "GET" or route.is_api or route.rule.arguments or route.endpoint in SKIP:
            continue
        path = build_path(seeded, route)
        with admin_client.get(path) as page:
            html = page.get_data(as_text=True) if page.status_code == 200 and page.mimetype == "text/html" else ""
        for form in get_forms(html):
            target = form["action"] or path
            for case, body, edge in _cases(form["fields"]):
                if case == "id":  # every non-text filter argument is a number: all refused
                    edge = True
                _check(admin_client, "GET", target, body, f"GET {target}", case, edge)
                covered += 1
    assert covered >= 10, f"only {covered} filter cases: the sweep lost its filters"
