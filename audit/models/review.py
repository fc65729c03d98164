"""Management review meetings (ISO 9001 9.3) and their outputs, tracked as actions to closure."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Date, Enum, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class ReviewStatus(enum.Enum):
    PLANNED = "planned"
    HELD = "held"  #: the meeting took place; outputs recorded
    SIGNED_OFF = "signed_off"  #: minutes signed off by top management
    CANCELLED = "cancelled"  #: called off before it was held

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


#: People invited to a review: the meeting is in their personal calendar feed.
review_invitees = Table(
    "review_invitees",
    db.metadata,
    Column("review_id", ForeignKey("management_reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ManagementReview(db.Model):
    """A management review meeting; its input pack is computed as of ``period_end``."""

    __tablename__ = "management_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)  #: inclusive; the pack is frozen as of it
    planned_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[ReviewStatus] = mapped_column(
        Enum(ReviewStatus, native_enum=False, length=15), default=ReviewStatus.PLANNED)
    attendees: Mapped[str | None] = mapped_column(Text)  #: names, one per line
    minutes: Mapped[str | None] = mapped_column(Text)
    held_on: Mapped[dt.date | None] = mapped_column(Date)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)  #: top management
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    signed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Last change (planned, moved, held, cancelled): the calendar event's LAST-MODIFIED.
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    chair = relationship("User", foreign_keys=[chair_id])
    signed_off_by = relationship("User", foreign_keys=[signed_off_by_id])
    invitees = relationship("User", secondary=review_invitees, order_by="User.name")
    outputs: Mapped[list[ReviewAction]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ReviewAction.id")

    def __repr__(self) -> str:
        return f"<ManagementReview {self.id} {self.period_start}..{self.period_end}>"


class OutputKind(enum.Enum):
    """The three outputs 9.3.3 asks for."""

    IMPROVEMENT = "improvement"
    SYSTEM_CHANGE = "system_change"
    RESOURCES = "resources"

    @property
    def label(self) -> str:
        return {"improvement": "Improvement opportunity",
                "system_change": "Change to the management system",
                "resources": "Resource need"}[self.value]


class ReviewAction(db.Model):
    """A decision of a review turned into an action with an owner and a due date."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("management_reviews.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[OutputKind] = mapped_column(Enum(OutputKind, native_enum=False, length=20))
    decision: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date)
    #: Set when the owner reports it done; None = open.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completion_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    review: Mapped[ManagementReview] = relationship(back_populates="outputs")
    owner = relationship("User")

    def overdue_on(self, day: dt.date) -> bool:
        """Whether the action is open and its due date has passed on ``day`` (its owner's day,
        ``management.local.action_day``): the one overdue rule of review outputs."""
        return self.completed_at is None and self.due_on < day

    def status_as_of(self, instant: dt.datetime, day: dt.date) -> str:
        """'done', 'overdue' or 'open' as it stood at ``instant`` (day = its local date)."""
        if self.completed_at is not None and self.completed_at < instant:
            return "done"
        return "overdue" if self.due_on < day else "open"

    def __repr__(self) -> str:
        return f"<ReviewAction {self.id} {self.kind.value}>"
