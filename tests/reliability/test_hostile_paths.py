"""Path tricks and hostile URL arguments: traversal, encoded separators, huge ids, bad tokens.

URL arguments are generated from every rule in ``app.url_map``: integer ids far outside any
column's range, and for string arguments (calendar tokens and the like) random, oversized and
malformed values. None may cause a 5xx, and a public route must never accept a made-up token.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import Role
from tests import factories
from tests.reliability.routes import int_args, login_as, routes, string_args

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "5"))

TRAVERSALS = [
    "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/..%5capp.py",
    "/static/%2e%2e%2f%2e%2e%2fetc/passwd", "/static//etc/passwd", "/static/css/../../app.py",
    "/static/%00", "/static/css/app.css%00.png", "//etc/passwd", "/..;/app.py", "/%2e%2e/%2e%2e/",
    "/organisation/sites/1%00", "/organisation/sites/-1", "/organisation/sites/1.0",
    "/organisation/sites/0x1", "/organisation/sites/" + "9" * 30, "/organisation/sites/%ff%fe",
    "/" + "a" * 8000, "/organisation/" + "../" * 50, "/login?next=//evil.example",
    "/login?next=https://evil.example", "/login?next=/\\evil.example",
]


def _sweep(client, paths):
    bad = []
    for path in paths:
        response = client.get(path)
        if response.status_code >= 500:
            bad.append(f"{path}: {response.status_code}")
        body = response.get_data()
        if b"create_app" in body or b"root:x:0:0" in body:
            bad.append(f"{path}: leaked a file")
    return bad


def test_path_traversal_and_encoding_tricks(seeded, client, role_users):
    """Traversal, encoded separators, NULs and overlong paths never leak files or cause a 5xx."""
    assert _sweep(client, TRAVERSALS) == []
    login_as(client, role_users[Role.ADMIN], factories.PASSWORD)
    assert _sweep(client, TRAVERSALS) == []


def test_out_of_range_ids_are_404_not_500(seeded, client, role_users):
    """Ids beyond any database integer (on every route with an int argument) give 404, never a 5xx."""
    login_as(client, role_users[Role.ADMIN], factories.PASSWORD)
    problems = []
    for route in routes(seeded):
        ints = int_args(route.rule)
        if not ints or route.endpoint == "auth.logout":
            continue
        for big in (2**31, 2**63, 10**30):
            path = route.rule.rule
            for name in route.rule.arguments:
                value = big if name in ints else "x"
                path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
                path = path.replace(f"<string:{name}>", str(value)).replace(f"<path:{name}>", str(value))
            response = client.open(path, method=route.method, data={} if route.is_write else None)
            if response.status_code >= 500:
                problems.append(f"{route.method} {path}: {response.status_code}")
    assert not problems, "\n".join(problems)


def _string_arg_routes(app):
    found = []
    for route in routes(app):
        names = string_args(route.rule)
        if names and route.method == "GET":
            found.append((route, names))
    return found


def test_public_token_routes_refuse_made_up_tokens(seeded):
    """Every public route with a string argument (calendar feeds) refuses random or malformed tokens."""
    client = seeded.test_client()
    for route, names in _string_arg_routes(seeded):
        if route.is_public:
            _fuzz_tokens(client, route, names)


TOKENS = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
    st.sampled_from(["..", "%00", "a" * 4096, "' OR 1=1 --", "null", "0", "-1",
                     "....//....//", "token.ics", "\u202e", "%2F", "\x00"]),
)


def _fuzz_tokens(client, route, names) -> None:
    @settings(max_examples=max(EXAMPLES, 25), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(token=TOKENS)
    def fuzz(token):
        path = route.rule.rule
        for name in names:
            for prefix in ("", "string:", "path:"):
                path = path.replace(f"<{prefix}{name}>", quote(token, safe=""))
        response = client.get(path)
        assert response.status_code < 500, f"{path}: {response.status_code}"
        assert response.status_code != 200, f"{path}: a made-up token was accepted"

    fuzz()
