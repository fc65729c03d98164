"""Notifications: the in-app list and the e-mail outbox in one table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime


class Notification(db.Model):
    """A message to one user. ``dedupe_key`` makes every reminder idempotent: a sweep that runs
    twice finds the key taken and sends nothing twice. ``emailed_at`` None = still in the outbox.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: What kind of event (e.g. audit_reminder, finding_overdue); users tune delivery per kind.
    kind: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text, default="")
    #: Path inside the app (e.g. /audits/12), never an external URL.
    link: Mapped[str | None] = mapped_column(String(300))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: None while waiting in the outbox; set when sent or when e-mail is not wanted.
    emailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    email_wanted: Mapped[bool] = mapped_column(default=True)
    #: Sending attempts that failed; a transient failure is retried with growing delays.
    email_attempts: Mapped[int] = mapped_column(default=0)
    #: Why the last attempt failed (shown on the outbox page).
    email_error: Mapped[str | None] = mapped_column(String(500))
    #: Not retried before this time (back-off after a transient failure).
    email_retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Set when sending gave up for good (refused by the server, cannot be built, too many tries).
    email_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User")

    @property
    def email_state(self) -> str:
        """``sent``, ``failed``, ``queued`` (retrying when ``email_error`` is set) or ``not wanted``."""
        if not self.email_wanted:
            return "not wanted"
        if self.email_failed_at is not None:
            return "failed"
        return "sent" if self.emailed_at is not None else "queued"

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} → {self.user_id}>"


class NotificationPreference(db.Model):
    """One user's choice for one kind of notification: in the app, by e-mail, or both.

    No row = the default: shown in the app and e-mailed.
    """

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(60))
    in_app: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<NotificationPreference {self.user_id} {self.kind} app={self.in_app} mail={self.email}>"
