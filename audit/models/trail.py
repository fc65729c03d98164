"""The append-only audit trail: every create, update and state change, written by services."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime


class TrailEntry(db.Model):
    """One recorded change: who, when, which object, old → new values. Never updated or deleted."""

    __tablename__ = "trail_entries"
    __table_args__ = (Index("ix_trail_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: None = the system (scheduler, CLI without a user).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))  #: create, update, delete, or a transition
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int] = mapped_column(Integer)
    #: Human-readable one-liner shown in the trail.
    summary: Mapped[str] = mapped_column(Text)
    #: {field: [old, new]} for updates; {field: value} for creates.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    actor = relationship("User")

    def __repr__(self) -> str:
        return f"<TrailEntry {self.object_type}:{self.object_id} {self.action}>"
