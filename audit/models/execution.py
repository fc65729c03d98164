"""Conducting an audit: checklist answers and evidence files."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class Verdict(enum.Enum):
    CONFORMING = "conforming"
    MINOR_NC = "minor_nc"
    MAJOR_NC = "major_nc"
    OBSERVATION = "observation"
    OFI = "ofi"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return {
            "conforming": "Conforming",
            "minor_nc": "Minor NC",
            "major_nc": "Major NC",
            "observation": "Observation",
            "ofi": "OFI",
            "not_applicable": "N/A",
        }[self.value]


class ChecklistAnswer(db.Model):
    """One answer to one question in one audit. ``version`` detects conflicting edits."""

    __tablename__ = "checklist_answers"
    __table_args__ = (UniqueConstraint("audit_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("checklist_questions.id"))
    verdict: Mapped[Verdict | None] = mapped_column(Enum(Verdict, native_enum=False, length=20))
    #: Value for non-verdict answer types, as text (number, date ISO, choice, yes/no).
    value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Incremented on every save; a save based on an older version is a conflict.
    version: Mapped[int] = mapped_column(Integer, default=1)

    audit = relationship("Audit")
    question = relationship("ChecklistQuestion")
    answered_by = relationship("User")

    def __repr__(self) -> str:
        return f"<ChecklistAnswer {self.audit_id}/{self.question_id} v{self.version}>"


class Evidence(db.Model):
    """An evidence file (photo, document) held by the storage backend under ``storage_key``."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Client-generated id: replays of an offline upload are idempotent.
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_answers.id"))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    storage_key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str | None] = mapped_column(String(255))
    caption: Mapped[str | None] = mapped_column(String(255))
    #: When the evidence was taken (may predate the upload, e.g. synced later).
    taken_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    audit = relationship("Audit")
    answer = relationship("ChecklistAnswer")

    def __repr__(self) -> str:
        return f"<Evidence {self.id} {self.content_type}>"
