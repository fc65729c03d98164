"""Object-level access matrix, generated from ``app.url_map`` and the demo organisation.

For every route that names an object whose reading is restricted per person (an audit and all
that hangs off it, a finding, an evidence file, a notification, a calendar link), and for every
demo account: an object that account may read answers its page, and an object it may not read
answers 403/404 on GET *and on every write* — with no row written. Which objects a person may
read comes from the rules themselves (``audits.access``, ``findings.workflow.can_read``), so the
matrix checks that every route applies them, not a copy of them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit.audits.access import can_read_audit
from audit.demo import DEMO_PASSWORD
from audit.extensions import db
from audit.findings.workflow import can_read
from audit.models import Audit, CalendarToken, Evidence, Finding, Notification, User
from tests.reliability.routes import WRITE_METHODS, build_path, login_as, routes, row_counts

#: URL argument → (model, may ``user`` read ``obj``). The most specific argument of a route wins.
OBJECTS = {
    "evidence_id": (Evidence, lambda e, u: can_read_audit(e.audit, u)),
    "note_id": (Notification, lambda n, u: n.user_id == u.id),
    "token_id": (CalendarToken, lambda t, u: t.user_id == u.id),
    "finding_id": (Finding, None),  # by blueprint: the findings pages, or a supplier's SCAR pages
    "audit_id": (Audit, can_read_audit),
}
#: Readable objects may simply have nothing there: an audit whose plan is not issued has no .ics.
EMPTY_404 = {"conduct.plan_ics"}
#: Child arguments filled from the chosen object (routes that name two objects).
CHILDREN = {
    "action_id": lambda obj: [a.id for a in getattr(obj, "actions", [])],
    "session_id": lambda obj: [s.id for s in getattr(obj, "sessions", [])],
    "member_id": lambda obj: [m.id for m in getattr(obj, "team", [])],
}


def _may_read(endpoint: str, arg: str, obj, user) -> bool:
    if arg == "finding_id":
        if endpoint.startswith("scar."):
            return obj.is_scar and user.supplier_id is not None and obj.supplier_id == user.supplier_id
        return user.supplier_id is None and can_read(obj, user)
    return OBJECTS[arg][1](obj, user)


def _object_routes(app):
    found = []
    for route in routes(app):
        arg = next((a for a in OBJECTS if a in route.rule.arguments), None)
        if arg is not None and not route.is_public and route.endpoint.split(".")[0] != "management":
            found.append((route, arg))
    return found


def _path(app, route, arg, obj) -> str | None:
    values = {arg: obj.id}
    for child, ids_of in CHILDREN.items():
        if child in route.rule.arguments:
            ids = ids_of(obj)
            if not ids:
                return None
            values[child] = ids[0]
    if "audit_id" in route.rule.arguments and arg != "audit_id":
        values["audit_id"] = obj.audit_id
    return build_path(app, route, values)


@pytest.fixture
def people(seeded):
    """Every active demo account, with what it may read loaded."""
    return list(db.session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id)))


def test_every_object_route_applies_the_read_rules(seeded, client, people):
    """Per account: a readable object answers (unless the route's capability is missing), an
    unreadable one answers 403/404 on GET and every write, and writes nothing."""
    objects = {arg: list(db.session.scalars(select(model).order_by(model.id)))
               for arg, (model, _) in OBJECTS.items()}
    problems, refused, allowed = [], 0, 0
    for user in people:
        login_as(client, user, DEMO_PASSWORD)  # logging out and in writes trail rows: count after
        before = row_counts()
        for route, arg in _object_routes(seeded):
            needed = route.permissions or frozenset()
            holds = all(user.can(p) for p in needed)
            # Objects with something hanging off them first (an audit with an issued plan, ...).
            readable = sorted((o for o in objects[arg] if _may_read(route.endpoint, arg, o, user)),
                              key=lambda o: -sum(len(ids(o)) for ids in CHILDREN.values()))
            unreadable = [o for o in objects[arg] if not _may_read(route.endpoint, arg, o, user)]
            for obj in unreadable[:1]:
                path = _path(seeded, route, arg, obj)
                if path is None:
                    continue
                response = client.open(path, method=route.method, data={} if route.is_write else None)
                refused += 1
                if response.status_code not in (403, 404):
                    problems.append(f"{user.email} {route.method} {path}: {response.status_code} (may not read)")
            # Reading pages only (a GET that shows an edit form has its own, narrower rule): one of
            # the first readable objects answers; some simply have nothing there (a plan not issued).
            if route.method == "GET" and holds and not (route.rule.methods & WRITE_METHODS):
                answers = []
                for obj in readable[:5]:
                    path = _path(seeded, route, arg, obj)
                    if path is not None:
                        answers.append((path, client.get(path).status_code))
                if answers:
                    allowed += 1
                    if any(code == 403 for _, code in answers) or route.endpoint not in EMPTY_404 and all(
                            code == 404 for _, code in answers):
                        problems.append(f"{user.email} GET {answers}: refused every readable object")
        if row_counts() != before:
            problems.append(f"{user.email}: refused requests wrote rows")
    assert problems == [], "\n".join(problems)
    assert refused > 100 and allowed > 50
