"""Calendar feed tokens: the secret in a subscription URL, stored only as its hash."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class FeedKind(enum.Enum):
    """What a feed shows: one person's audits and deadlines, or everything of one object."""

    PERSONAL = "personal"
    PROGRAMME = "programme"
    SITE = "site"
    SUPPLIER = "supplier"
    CERTIFICATE = "certificate"

    @property
    def label(self) -> str:
        return {
            "personal": "My audits and deadlines",
            "programme": "Programme",
            "site": "Site",
            "supplier": "Supplier",
            "certificate": "Certificate",
        }[self.value]


class CalendarToken(db.Model):
    """One subscription URL. The token itself is shown once and never stored."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FeedKind] = mapped_column(Enum(FeedKind, native_enum=False, length=20))
    #: Id of the programme/site/supplier/certificate; None for personal feeds.
    target_id: Mapped[int | None] = mapped_column(Integer)
    #: The owner's name for the subscription (e.g. "Phone"), to tell tokens apart.
    label: Mapped[str | None] = mapped_column(String(80))
    #: Hex SHA-256 of the URL token; the token has 256 random bits, so no salt is needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Last fetch by a calendar client (updated at most hourly to keep polls read-only).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Hash of the last body served: when it differs, the feed changed (even by a deletion).
    content_etag: Mapped[str | None] = mapped_column(String(64))
    #: When the served body last changed: the feed's Last-Modified, which therefore also moves
    #: forward when an event leaves the feed (deletion, end of a cancellation's grace period).
    content_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<CalendarToken {self.id} {self.kind.value} {self.target_id} user={self.user_id}>"
