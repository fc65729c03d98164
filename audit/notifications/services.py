"""Creating notifications. Features call ``notify``; a scheduler job delivers the e-mail outbox.

Users choose per kind whether they see a notification in the app and/or get it by e-mail
(``NotificationPreference``; no row = both). Features register their kinds in their ``init_app``
(``registry(app).add_notification_kinds``) so the preferences page lists them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, bindparam, func, select, update

from audit.core.errors import NotAllowed
from audit.core.registry import registry
from audit.extensions import db
from audit.models.notification import Notification, NotificationPreference
from audit.trail.services import record


def preference_for(user_id: int, kind: str) -> NotificationPreference | None:
    return db.session.scalar(select(NotificationPreference).where(
        NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))


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
    transaction fails and is retried by its next sweep, finding the key taken). The user's
    preference for ``kind`` decides e-mail and whether it shows as unread in the app.
    """
    if user is None or not getattr(user, "is_active", True):
        return None
    existing = db.session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))
    if existing is not None:
        return None
    pref = preference_for(user.id, kind)
    note = Notification(user_id=user.id, kind=kind, title=title[:250], body=body, link=link,
                        dedupe_key=dedupe_key, created_at=now,
                        email_wanted=pref.email if pref else True)
    if pref is not None and not pref.in_app:
        note.read_at = now  # kept for the record, never counted as unread
    if not note.email_wanted:
        note.emailed_at = now  # nothing waits in the outbox
    db.session.add(note)
    db.session.flush()
    return note


#: Built once (every page's badge asks): a statement object keeps its cache key (issue 16).
_UNREAD = select(func.count(Notification.id)).where(
    Notification.user_id == bindparam("user_id", type_=Integer), Notification.read_at.is_(None))


def unread_count(user) -> int:
    """How many of ``user``'s notifications are unread (one query)."""
    return db.session.scalar(_UNREAD, {"user_id": user.id}) or 0


def mark_read(note: Notification, *, actor, now: dt.datetime) -> None:
    """Mark one of the actor's own notifications read."""
    if note.user_id != actor.id:
        raise NotAllowed("That notification is not yours.")
    if note.read_at is None:
        note.read_at = now
        db.session.flush()


def mark_all_read(*, actor, now: dt.datetime) -> int:
    """Mark all of the actor's notifications read; returns how many changed."""
    result = db.session.execute(update(Notification).where(
        Notification.user_id == actor.id, Notification.read_at.is_(None)).values(read_at=now))
    return result.rowcount


def save_preferences(user, choices: dict[str, tuple[bool, bool]], *, actor, now: dt.datetime) -> None:
    """Store ``{kind: (in_app, email)}`` for ``user``; writes a trail entry with the changes."""
    if actor is not None and actor.id != user.id:
        raise NotAllowed("People tune their own notifications.")
    existing = {p.kind: p for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    changes = {}
    for kind, (in_app, email) in choices.items():
        if kind not in registry().notification_kinds:
            continue
        pref = existing.get(kind)
        old = (pref.in_app, pref.email) if pref else (True, True)
        if old == (in_app, email):
            continue
        if pref is None:
            pref = NotificationPreference(user_id=user.id, kind=kind)
            db.session.add(pref)
        pref.in_app, pref.email = in_app, email
        changes[kind] = [list(old), [in_app, email]]
    if changes:
        db.session.flush()
        record(user, "notification_preferences", actor=actor, now=now,
               summary="Changed notification preferences", changes=changes)
