"""Helpers shared by the reliability tests: walk the URL map, log in as a role, count rows.

Everything here is generic over ``app.url_map`` so that a route added by any feature is
covered by the access matrix and the hostile-input sweeps without anyone editing a list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from html.parser import HTMLParser

from sqlalchemy import func, select
from werkzeug.routing import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    Rule,
    UnicodeConverter,
    UUIDConverter,
)

from audit.auth.permissions import ROLE_PERMISSIONS
from audit.extensions import db
from audit.models import Role

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Methods every rule answers implicitly; the matrix checks the ones a view declares.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    """One (rule, method) pair with the view's declared access."""

    rule: Rule
    method: str
    view: object

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    @property
    def permissions(self) -> frozenset | None:
        return getattr(self.view, "required_permissions", None)

    @property
    def is_public(self) -> bool:
        return bool(getattr(self.view, "is_public", False))

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def is_api(self) -> bool:
        return self.rule.rule.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule} ({self.endpoint})"


def routes(app) -> list[Route]:
    """Every (rule, method) of the application except the static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
            found.append(Route(rule, method, view))
    return sorted(found, key=lambda r: (r.rule.rule, r.method))


def sample_value(rule: Rule, name: str, ids: dict[str, int] | None = None):
    """A plausible value for URL argument ``name`` of ``rule`` (ids default to 1)."""
    converter = rule._converters.get(name)  # werkzeug exposes no public accessor
    if ids and name in ids:
        return ids[name]
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return next(iter(converter.items)) if hasattr(converter, "items") else "x"
    return "x"


def int_args(rule: Rule) -> list[str]:
    """Names of the integer arguments of ``rule``."""
    return [n for n in rule.arguments if isinstance(rule._converters.get(n), IntegerConverter)]


def string_args(rule: Rule) -> list[str]:
    """Names of the free-text (string/path) arguments of ``rule``."""
    return [n for n in rule.arguments
            if type(rule._converters.get(n)) in (UnicodeConverter, PathConverter)]


def build_path(app, route: Route, values: dict | None = None) -> str:
    """The concrete path of ``route`` with sample (or given) argument values."""
    args = {name: sample_value(route.rule, name) for name in route.rule.arguments}
    args.update(values or {})
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(route.endpoint, args, method=route.method)


def role_holds(role: Role, permissions: frozenset) -> bool:
    """True when ``role`` alone carries every permission in ``permissions``."""
    return set(permissions) <= ROLE_PERMISSIONS[role]


def row_counts() -> dict[str, int]:
    """Rows per table: two equal snapshots prove that nothing was written in between."""
    db.session.rollback()
    tables = db.metadata.sorted_tables
    row = db.session.execute(
        select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
    ).one()
    db.session.rollback()
    return {t.name: n for t, n in zip(tables, row, strict=True)}


def login_as(client, user, password: str) -> None:
    """Log ``user`` in through the real login form."""
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.data[:300]


def is_logged_in(client) -> bool:
    """Whether the client's session still opens (a route may have logged it out, or ended the
    user's sessions server-side, which leaves the cookie in place but dead)."""
    from audit.core.security import load_session_user

    with client.session_transaction() as session:
        user_id = session.get("_user_id")
    return user_id is not None and load_session_user(user_id) is not None


class FormFields(HTMLParser):
    """Collects, per ``<form>``, its method, action and field names with their options."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._open = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {},
                               "method": (a.get("method") or "get").lower()})
            self._open = True
            return
        if not self._open:
            return
        fields = self.forms[-1]["fields"]
        name = a.get("name")
        if tag in ("input", "textarea") and name:
            kind = (a.get("type") or "text").lower() if tag == "input" else "textarea"
            if kind in ("submit", "button", "image", "reset"):
                return
            entry = fields.setdefault(name, {"type": kind, "options": []})
            if kind in ("checkbox", "radio") and a.get("value") is not None:
                entry["options"].append(a["value"])
            elif a.get("value"):
                entry.setdefault("value", a["value"])
        elif tag == "select" and name:
            fields.setdefault(name, {"type": "select", "options": []})
            self._select = name
        elif tag == "option" and self._select and a.get("value") is not None:
            fields[self._select]["options"].append(a["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._open = False


def page_forms(html: str) -> list[dict]:
    """Every form of an HTML page: ``[{"method": str, "action": str, "fields": {name: spec}}]``."""
    parser = FormFields()
    parser.feed(html)
    return parser.forms


def post_forms(html: str) -> list[dict]:
    """The POST forms of an HTML page: ``[{"action": str, "fields": {name: spec}}]``."""
    return [f for f in page_forms(html) if f["method"] == "post"]


def get_forms(html: str) -> list[dict]:
    """The GET (filter) forms of an HTML page."""
    return [f for f in page_forms(html) if f["method"] == "get"]


ALL_ROLES = tuple(Role)
