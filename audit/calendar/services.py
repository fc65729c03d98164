"""Calendar tokens: create (shown once), revoke, rotate, and find by the secret in a feed URL."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from audit.calendar import feeds
from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.models import CalendarToken, FeedKind, User
from audit.trail.services import record

#: token_urlsafe(32): 32 random bytes (256 bits) from the OS CSPRNG, 43 URL-safe characters.
TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
#: How stale ``last_used_at`` may get before a poll writes it again (keeps polls read-only).
LAST_USED_RESOLUTION = dt.timedelta(hours=1)


def hash_token(secret: str) -> str:
    """Hex SHA-256 of a URL token: what the database keeps instead of the token."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def token_digest(secret: str) -> str | None:
    """The hash of a well-formed URL token, or None for anything that cannot be one."""
    if not secret or not TOKEN_PATTERN.fullmatch(secret):
        return None
    return hash_token(secret)


def create_token(user: User, kind: FeedKind, target_id: int | None = None, label: str | None = None,
                 *, actor: User, now: dt.datetime) -> tuple[CalendarToken, str]:
    """Create a feed token for ``user``; returns the row and the secret (shown once, never kept)."""
    if actor.id != user.id:
        raise NotAllowed("Calendar tokens are personal: only their owner creates them.")
    if not feeds.may_subscribe(user, kind):
        raise NotAllowed("You may not subscribe to this kind of calendar.")
    if kind is FeedKind.PERSONAL:
        target_id = None
    elif feeds.load_target(kind, target_id) is None:
        raise DomainError(f"Choose an existing {kind.value}.", "feed")
    label = (label or "").strip() or None
    if label and len(label) > 80:
        raise DomainError("Keep the name under 80 characters.", "label")
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    token = CalendarToken(user=user, kind=kind, target_id=target_id, label=label,
                          token_hash=hash_token(secret), created_at=now)
    db.session.add(token)
    db.session.flush()
    record(token, "create", actor=actor, now=now,
           summary=f"Created calendar token {token.id} ({kind.value})",
           changes={"kind": kind.value, "target_id": target_id, "label": label})
    return token, secret


def revoke_token(token: CalendarToken, *, actor: User, now: dt.datetime) -> None:
    """Revoke a token: its URL answers 404 from now on."""
    _check_owner(token, actor)
    if token.revoked_at is not None:
        raise DomainError("This calendar link is already revoked.")
    token.revoked_at = now
    db.session.flush()
    record(token, "revoke", actor=actor, now=now, summary=f"Revoked calendar token {token.id}",
           changes={"revoked_at": [None, now.isoformat()]})


def rotate_token(token: CalendarToken, *, actor: User, now: dt.datetime) -> tuple[CalendarToken, str]:
    """Replace a token by a new one for the same feed (the old URL stops working)."""
    _check_owner(token, actor)
    if token.revoked_at is not None:
        raise DomainError("A revoked calendar link cannot be rotated; create a new one.")
    revoke_token(token, actor=actor, now=now)
    new, secret = create_token(token.user, token.kind, token.target_id, token.label,
                               actor=actor, now=now)
    record(new, "rotate", actor=actor, now=now,
           summary=f"Calendar token {token.id} rotated to {new.id}",
           changes={"replaces": token.id})
    return new, secret


def _check_owner(token: CalendarToken, actor: User) -> None:
    if token.user_id != actor.id:
        raise NotAllowed("This calendar link belongs to someone else.")


@functools.cache
def _token_by_hash():
    """The token lookup, built once: a reused statement object keeps its cache key (issue 16)."""
    return (select(CalendarToken).where(CalendarToken.token_hash == bindparam("digest"))
            .options(joinedload(CalendarToken.user).joinedload(User.role_links)))


def find_active_token(secret: str) -> CalendarToken | None:
    """The active token whose secret is ``secret``, or None (malformed, unknown or revoked).

    The lookup is by hash, so the database never compares secrets; the final comparison is in
    constant time anyway so no timing difference depends on how much of a guess was right.
    """
    digest = token_digest(secret)
    if digest is None:
        return None
    # The owner and their roles in the same statement: every poll checks both (may_subscribe,
    # the fingerprint), and a feed 304 should cost as few round trips as possible (issue 16).
    token = db.session.scalar(_token_by_hash(), {"digest": digest})
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or token.user is None or not token.user.is_active:
        return None
    return token


def served_changes(token: CalendarToken, etag: str | None, *, now: dt.datetime) -> dict:
    """What a poll served that the token row does not know yet (empty: nothing to write).

    ``content_changed_at`` moves forward whenever the served body differs from the last one,
    which is what gives the feed a Last-Modified that also advances when events disappear.
    ``last_used_at`` is refreshed at most once per ``LAST_USED_RESOLUTION``, so a client
    polling every few minutes leaves the row alone almost every time. ``etag`` is the body's
    hash, or None for a 304 answered from the fingerprint (the body was not built).
    """
    changes: dict = {}
    if etag is not None and token.content_etag != etag or token.content_changed_at is None:
        changes["content_etag"] = etag
        changes["content_changed_at"] = now.replace(microsecond=0)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        changes["last_used_at"] = now
    return changes


def note_served(token_id: int, changes: dict, *, now: dt.datetime) -> None:
    """Store ``changes`` from :func:`served_changes` with conditional UPDATEs (caller commits).

    Meant for a short write transaction of its own, after the poll's read transaction ended.
    The conditions make concurrent polls harmless: the content stamp moves only if the stored
    ETag still differs, ``last_used_at`` only if it is still older than the resolution.
    Bookkeeping of a feed client, not a person's change: no trail row.
    """
    table = CalendarToken.__table__
    if "content_etag" in changes:
        db.session.execute(
            update(table)
            .where(table.c.id == token_id,
                   or_(table.c.content_etag.is_(None), table.c.content_etag != changes["content_etag"],
                       table.c.content_changed_at.is_(None)))
            .values(content_etag=changes["content_etag"], content_changed_at=changes["content_changed_at"]))
    if "last_used_at" in changes:
        db.session.execute(
            update(table)
            .where(table.c.id == token_id,
                   or_(table.c.last_used_at.is_(None), table.c.last_used_at <= now - LAST_USED_RESOLUTION))
            .values(last_used_at=changes["last_used_at"]))


def tokens_of(user: User) -> list[CalendarToken]:
    """The user's tokens, active first, newest first."""
    rows = db.session.scalars(
        select(CalendarToken).where(CalendarToken.user_id == user.id).order_by(CalendarToken.id.desc())
    ).all()
    return sorted(rows, key=lambda t: t.revoked_at is not None)


def feed_path(secret: str) -> str:
    """The path of the feed for a token secret (what ``url_for('calendar.feed', token=...)``
    builds), for tools without a request context such as the benchmark's probes."""
    return f"/calendar/feed/{secret}.ics"
