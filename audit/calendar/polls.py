"""Answering a calendar poll in one statement (issue 16).

A subscribed calendar asks for its feed every hour or so and nearly always hears 304. The
ETag (``fingerprint``) hashes two kinds of input: rows aggregated by one statement, and facts
read from objects -- the token's kind and target, its owner's name, roles and company, the
target's name (a certificate's number and cycle). Looking those objects up took two more
statements than the fingerprint itself.

The first poll a worker answers for a token takes the full path: token, owner and target
are looked up, then the fingerprint statement runs with three more parts, the **state**:
the token's revocation, the owner's name, activity, company and roles, the target's
columns the facts use. The facts are read from the objects after that statement and are
remembered, with the state, under the token's hash. A later poll runs the one statement;
while its state reads as the remembered one, the remembered facts are the current ones and
the 304 costs that statement alone. Any difference -- a revoked token, a deactivated or
renamed owner, a role or company changed, a renamed target, a certificate renumbered --
forgets the entry and takes the full path, which looks everything up again.

Reading the facts after the state makes a change committed between the two show up as a
difference at the next poll, never as a remembered fact older than its state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, case, func, select, union_all

from audit.calendar import criteria, feeds, fingerprint
from audit.extensions import db
from audit.models import (
    CalendarToken,
    Certificate,
    FeedKind,
    Programme,
    Role,
    Site,
    Standard,
    Supplier,
    User,
    UserRole,
)

#: Tokens remembered per worker (least recently polled forgotten first): ~1.5 KB each, so at
#: most ~3 MB; a token forgotten costs its next poll three statements, nothing else.
MEMORY_SIZE = 2_000
#: Parts of the statement that are state, not fingerprint.
STATE_PARTS = frozenset({"token", "owner", "target"})
_STATEMENTS: dict[tuple, object] = {}
#: The memory is shared by a worker's threads (the development server, threaded workers).
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Remembered:
    """What a poll needs besides its one statement, learnt on the full path."""

    key: tuple  #: ``fingerprint.variant_key``
    facts: dict  #: ``fingerprint.object_facts`` as read after ``state``
    values: dict  #: bound values that do not depend on the day
    state: tuple  #: the state rows the facts were read with


@dataclasses.dataclass(frozen=True)
class Poll:
    """One reading of a feed: its ETag, its token and the token's stamps."""

    etag: str
    token_id: int
    #: ``content_changed_at`` and ``last_used_at`` as ``services.served_changes`` reads them.
    stamps: SimpleNamespace


def _memory() -> OrderedDict:
    return current_app.extensions.setdefault("audit.feed_polls", OrderedDict())


def forget(digest: str) -> None:
    """Drop what was remembered for a token (its next poll takes the full path)."""
    with _LOCK:
        _memory().pop(digest, None)


def _roles_mask():
    """The owner's roles as one number (a bit per role): any change of roles changes it."""
    bits = case(*[(UserRole.role == role, 2 ** i) for i, role in enumerate(Role)], else_=0)
    return (select(func.coalesce(func.sum(bits), 0)).where(UserRole.user_id == User.id)
            .correlate(User).scalar_subquery())


def _target_part(kind: FeedKind):
    target_id = bindparam("target_id")
    if kind is FeedKind.CERTIFICATE:
        holder = func.coalesce(Supplier.name, "") + "|" + func.coalesce(Standard.code, "")
        return (fingerprint.part("target", Certificate.number, Certificate.status,
                                 Certificate.decision_date, Certificate.expiry_date, holder)
                .select_from(Certificate)
                .outerjoin(Supplier, Supplier.id == Certificate.supplier_id)
                .outerjoin(Standard, Standard.id == Certificate.standard_id)
                .where(Certificate.id == target_id))
    model = {FeedKind.PROGRAMME: Programme, FeedKind.SITE: Site, FeedKind.SUPPLIER: Supplier}[kind]
    return fingerprint.part("target", model.name, "", "", "", "").where(model.id == target_id)


def _statement(key: tuple):
    """The fingerprint's parts for ``key`` and the state parts, built once per process."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        token = (fingerprint.part("token", CalendarToken.token_hash,
                                  case((CalendarToken.revoked_at.is_(None), "active"), else_="revoked"),
                                  CalendarToken.user_id, CalendarToken.target_id, "",
                                  stamps=(CalendarToken.content_changed_at, CalendarToken.last_used_at))
                 .where(CalendarToken.id == bindparam("token_id")))
        owner = (fingerprint.part("owner", User.name, User.is_active, User.supplier_id, _roles_mask(), "")
                 .where(User.id == bindparam("owner_id")))
        state = [token, owner] if key[0] is FeedKind.PERSONAL else [token, owner, _target_part(key[0])]
        statement = _STATEMENTS[key] = union_all(*state, *fingerprint.parts(key))
    return statement


def _execute(key: tuple, values: dict, day: dt.date) -> tuple[tuple, SimpleNamespace, list[tuple]]:
    """State, stamps and fingerprint rows, from one statement."""
    result = db.session.execute(_statement(key), {**criteria.window_values(day), **values}).all()
    state = tuple(sorted(tuple("" if v is None else str(v) for v in row[:fingerprint.TEXT_COLUMNS])
                         for row in result if row[0] in STATE_PARTS))
    token = next((row for row in result if row[0] == "token"), None)
    stamps = SimpleNamespace(content_etag=None,
                             content_changed_at=None if token is None else token[-2],
                             last_used_at=None if token is None else token[-1])
    return state, stamps, fingerprint.rows_of(row for row in result if row[0] not in STATE_PARTS)


def _day_free_values(token, target) -> dict:
    values = {"token_id": token.id, "owner_id": token.user_id}
    if token.kind is FeedKind.PERSONAL:
        return {**values, "user_id": token.user.id, "supplier_id": token.user.supplier_id}
    return {**values, "target_id": target.id}


def recall(digest: str, *, day: dt.date, links: feeds.Links, org_name: str) -> Poll | None:
    """The feed's ETag from one statement, if this worker remembers the token and nothing it
    remembered has changed; else None (the caller takes the full path)."""
    remembered = _memory().get(digest)
    if remembered is None:
        return None
    if db.session.get_bind().dialect.name == "postgresql" and not db.session().in_transaction():
        # One statement needs no transaction: on PostgreSQL it runs alone, without the BEGIN
        # and COMMIT round trips (SQLite has no round trips to save).
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    state, stamps, rows = _execute(remembered.key, remembered.values, day)
    if state != remembered.state:
        forget(digest)
        return None
    with _LOCK:
        if digest in _memory():
            _memory().move_to_end(digest)
    return Poll(fingerprint.etag_of(remembered.facts, rows, day=day, links=links, org_name=org_name),
                remembered.values["token_id"], stamps)


def read(digest: str, token: CalendarToken, target, *, day: dt.date, links: feeds.Links,
         org_name: str) -> Poll | None:
    """The full path's reading of a feed whose token, owner and target were looked up: the
    statement first, then the facts from the objects read again; remembered for the next
    poll. None when the re-read owner may no longer subscribe (the caller answers 404)."""
    forget(digest)
    key, values = fingerprint.variant_key(token), _day_free_values(token, target)
    state, stamps, rows = _execute(key, values, day)
    _read_again(token.user, target)
    if not feeds.may_subscribe(token.user, token.kind):
        return None
    if fingerprint.variant_key(token) != key:
        # The owner's company or roles changed in between: read with the statement they need now.
        key, values = fingerprint.variant_key(token), _day_free_values(token, target)
        state, stamps, rows = _execute(key, values, day)
        _read_again(token.user, target)
        if not feeds.may_subscribe(token.user, token.kind) or fingerprint.variant_key(token) != key:
            return None
    facts = fingerprint.object_facts(token, target)
    with _LOCK:
        memory = _memory()
        memory[digest] = Remembered(key, facts, values, state)
        while len(memory) > MEMORY_SIZE:
            memory.popitem(last=False)
    return Poll(fingerprint.etag_of(facts, rows, day=day, links=links, org_name=org_name),
                token.id, stamps)


def _read_again(user: User, target) -> None:
    """Reload what the facts read, so they are at least as recent as the state just read."""
    db.session.refresh(user, ["name", "is_active", "supplier_id", "role_links"])
    if target is None:
        return
    db.session.refresh(target)
    if isinstance(target, Certificate):
        if target.supplier is not None:
            db.session.refresh(target.supplier, ["name"])
        db.session.refresh(target.standard, ["code"])
