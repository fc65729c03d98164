"""Route-by-route, role-by-role access matrix generated from ``app.url_map``.

Nothing here lists routes by hand: a route any feature adds is checked the moment it is
registered. Every view must declare ``@requires(...)`` or ``@public``; every role lacking the
declared capability is refused (403) and an anonymous visitor is sent to the login page (401
for the JSON API), and a refused request writes nothing. Roles that hold the capability never
get a 5xx, even for objects that do not exist.
"""

from __future__ import annotations

from audit.models import Role
from tests import factories
from tests.reliability.routes import (
    build_path,
    int_args,
    is_logged_in,
    login_as,
    role_holds,
    routes,
    row_counts,
)

#: Public write routes, reviewed by hand: anything else that writes must declare a capability.
PUBLIC_WRITES = {"auth.login"}
#: Routes that end the session; the sweep logs back in after them.
SESSION_ENDERS = {"auth.logout"}


def _request(client, route, path):
    return client.open(path, method=route.method, data={} if route.is_write else None)


def _refused_anonymous(route, response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")


def test_every_view_declares_its_access(app):
    """Each route's view carries @requires(...) or @public; public write routes are reviewed."""
    problems = []
    for route in routes(app):
        if route.permissions is None and not route.is_public:
            problems.append(f"{route}: neither @requires(...) nor @public")
        if route.permissions is not None and not route.permissions:
            problems.append(f"{route}: @requires() with no capability")
        if route.is_write and route.is_public and route.endpoint not in PUBLIC_WRITES:
            problems.append(f"{route}: a public write route (add a capability or review it)")
    assert not problems, "\n".join(problems)


def test_anonymous_is_refused_everywhere_but_public_routes(seeded, client):
    """Without a session every non-public route redirects to the login page (401 for the API)."""
    before = row_counts()
    problems = []
    for route in routes(seeded):
        if route.is_public:
            continue
        response = _request(client, route, build_path(seeded, route))
        if not _refused_anonymous(route, response):
            problems.append(f"{route}: {response.status_code}")
        if route.is_api and response.status_code != 401:
            problems.append(f"{route}: API answered {response.status_code} instead of 401")
    assert not problems, "\n".join(problems)
    assert row_counts() == before, "a refused anonymous request wrote rows"


def test_role_matrix(seeded, client, role_users):
    """A role lacking a route's capability gets 403 and writes nothing; a role holding it never gets 5xx."""
    problems = []
    for role in Role:
        problems += _sweep_role(seeded, client, role_users[role], role)
    assert not problems, "\n".join(problems)


def _sweep_role(seeded, client, user, role) -> list[str]:
    login_as(client, user, factories.PASSWORD)
    problems = []
    for route in routes(seeded):
        if route.permissions is None:
            continue  # reported by test_every_view_declares_its_access
        allowed = role_holds(role, route.permissions)
        for variant in ("sample", "missing") if allowed else ("sample",):
            values = {}
            if variant == "missing":
                if not route.rule.arguments:
                    continue
                values = dict.fromkeys(int_args(route.rule), 987654)
                if not values:
                    continue
            path = build_path(seeded, route, values)
            before = None if allowed else row_counts()
            response = _request(client, route, path)
            status = response.status_code
            if allowed:
                if status >= 500:
                    problems.append(f"{route} {path}: {status} for {role.value}")
                if route.endpoint not in SESSION_ENDERS and (status == 401 or "/login" in response.headers.get("Location", "")):
                    problems.append(f"{route} {path}: {role.value} holds the capability but was sent to login")
            else:
                if status != 403:
                    problems.append(f"{route} {path}: {role.value} lacks {sorted(p.value for p in route.permissions)} but got {status}")
                if row_counts() != before:
                    problems.append(f"{route} {path}: refused request for {role.value} wrote rows")
            if route.endpoint in SESSION_ENDERS or not is_logged_in(client):
                login_as(client, user, factories.PASSWORD)
    return problems


def test_matrix_covers_every_role_and_route(app):
    """The matrix is generated: it has one row per (route, method) and a column per role."""
    table = access_matrix(app)
    assert len(table) == len(routes(app))
    assert all(set(row) == {"route", *[r.value for r in Role]} for row in table)


def access_matrix(app) -> list[dict]:
    """The expected access of every role to every route, as rows for humans ("allow"/"403")."""
    rows = []
    for route in routes(app):
        row = {"route": str(route)}
        for role in Role:
            if route.is_public:
                row[role.value] = "public"
            elif route.permissions is None:
                row[role.value] = "UNDECLARED"
            else:
                row[role.value] = "allow" if role_holds(role, route.permissions) else "403"
        rows.append(row)
    return rows
