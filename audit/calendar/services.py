"""Calendar tokens: create (shown once), revoke, rotate, and find by the secret in a feed URL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import select

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


def find_active_token(secret: str) -> CalendarToken | None:
    """The active token whose secret is ``secret``, or None (malformed, unknown or revoked).

    The lookup is by hash, so the database never compares secrets; the final comparison is in
    constant time anyway so no timing difference depends on how much of a guess was right.
    """
    if not secret or not TOKEN_PATTERN.fullmatch(secret):
        return None
    digest = hash_token(secret)
    token = db.session.scalar(select(CalendarToken).where(CalendarToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or token.user is None or not token.user.is_active:
        return None
    return token


def note_served(token: CalendarToken, etag: str, *, now: dt.datetime) -> bool:
    """Remember what a poll was served; returns whether the row changed (caller commits).

    ``content_changed_at`` moves forward whenever the served body differs from the last one,
    which is what gives the feed a Last-Modified that also advances when events disappear.
    """
    changed = False
    if token.content_etag != etag or token.content_changed_at is None:
        token.content_etag = etag
        token.content_changed_at = now.replace(microsecond=0)
        changed = True
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        changed = True
    return changed


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
