"""The clause library: management-system standards and their clause trees (titles only)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db


class StandardStatus(enum.Enum):
    CURRENT = "current"
    WITHDRAWN = "withdrawn"
    DRAFT = "draft"

    @property
    def css(self) -> str:
        """The pill class of this status: a withdrawn edition is a problem, a draft a warning."""
        return {"withdrawn": "bad", "draft": "warn"}.get(self.value, "")


class Standard(db.Model):
    """One edition of a standard, e.g. ISO 9001:2015 with Amd 1:2024."""

    __tablename__ = "standards"
    __table_args__ = (UniqueConstraint("code", "edition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  #: e.g. "ISO 9001"
    edition: Mapped[str] = mapped_column(String(20))  #: e.g. "2015"
    title: Mapped[str] = mapped_column(String(250))
    amendments: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[StandardStatus] = mapped_column(
        Enum(StandardStatus, native_enum=False, length=20), default=StandardStatus.CURRENT
    )
    #: End of the transition period when this edition is withdrawn or replaced.
    transition_ends_on: Mapped[dt.date | None] = mapped_column(Date)

    clauses: Mapped[list[Clause]] = relationship(
        back_populates="standard", order_by="Clause.position", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        return f"{self.code}:{self.edition}"

    def __repr__(self) -> str:
        return f"<Standard {self.label}>"


class Clause(db.Model):
    """A numbered clause. Untitled numbered paragraphs are kept: findings cite them."""

    __tablename__ = "clauses"
    __table_args__ = (UniqueConstraint("standard_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    #: None for an untitled numbered paragraph.
    title: Mapped[str | None] = mapped_column(String(250))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("clauses.id"), index=True)
    #: Document order within the standard (numbers do not sort as strings: 10 < 9).
    position: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)

    standard: Mapped[Standard] = relationship(back_populates="clauses")
    parent: Mapped[Clause | None] = relationship(remote_side=[id])
    #: Harmonized-structure topics this clause belongs to (cross-standard equivalence).
    topics: Mapped[list[ClauseTopic]] = relationship(
        secondary="clause_topic_links", back_populates="clauses", order_by="ClauseTopic.position"
    )

    @property
    def is_untitled(self) -> bool:
        return self.title is None

    @property
    def label(self) -> str:
        return f"{self.standard.code} {self.number}" if self.standard else self.number

    def __repr__(self) -> str:
        return f"<Clause {self.standard_id} {self.number}>"


clause_topic_links = Table(
    "clause_topic_links",
    db.metadata,
    Column("topic_id", ForeignKey("clause_topics.id", ondelete="CASCADE"), primary_key=True),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ClauseTopic(db.Model):
    """A meaning shared by clauses of several standards (the harmonized structure).

    Clauses linked to one topic are equivalent: a checklist question mapped to one of them
    serves the others in an integrated audit. Equivalence is by meaning, not by number
    (ISO 14001 8.2 is emergency preparedness, ISO 9001 8.2 is product requirements).
    """

    __tablename__ = "clause_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable identifier used by data files, e.g. "hs-4.1-context".
    key: Mapped[str] = mapped_column(String(60), unique=True)
    #: Our own short name of the shared meaning (not a clause title of any standard).
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)

    clauses: Mapped[list[Clause]] = relationship(
        secondary=clause_topic_links, back_populates="topics", order_by="Clause.position"
    )

    def __repr__(self) -> str:
        return f"<ClauseTopic {self.key}>"
