"""Creating notifications. Features call ``notify``; a scheduler job delivers the e-mail outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.models.notification import Notification


def notify(
    user,
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    dedupe_key: str,
    now: dt.datetime,
) -> Notification | None:
    """Queue a notification for ``user`` unless one with ``dedupe_key`` already exists.

    Returns the new notification, or None when it was a duplicate. The check-then-insert is
    backed by the unique constraint, so two schedulers racing still produce one row (the loser's
    transaction fails and is retried by its next sweep, finding the key taken).
    """
    if user is None or not getattr(user, "is_active", True):
        return None
    existing = db.session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))
    if existing is not None:
        return None
    note = Notification(user_id=user.id, kind=kind, title=title, body=body, link=link,
                        dedupe_key=dedupe_key, created_at=now)
    db.session.add(note)
    return note
