"""Conducting an audit: checklist answers, evidence files, the audit report, offline replays."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
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
    question_id: Mapped[int] = mapped_column(ForeignKey("checklist_questions.id"), index=True)
    verdict: Mapped[Verdict | None] = mapped_column(Enum(Verdict, native_enum=False, length=20))
    #: Value for non-verdict answer types, as text (number, date ISO, choice, yes/no).
    value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    #: Why no finding was raised although the verdict is a nonconformity (a report blocker
    #: otherwise: an NC in the checklist must reach the report as a finding or be explained).
    no_finding_reason: Mapped[str | None] = mapped_column(Text)
    #: Why the question was not covered (left unanswered on purpose); such questions appear in
    #: the report's "areas not covered" instead of blocking the issue.
    not_covered_reason: Mapped[str | None] = mapped_column(Text)
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
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_answers.id"), index=True)
    #: The checklist question the evidence was taken for (independent of the answer row, so a
    #: photo taken before the verdict never bumps the answer's version).
    question_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_questions.id"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), index=True)
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
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    audit = relationship("Audit")
    answer = relationship("ChecklistAnswer")
    question = relationship("ChecklistQuestion")
    uploaded_by = relationship("User")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self) -> str:
        return f"<Evidence {self.id} {self.content_type}>"


class AppliedMutation(db.Model):
    """A client-generated mutation id already applied, with the response it produced.

    Tablets queue changes offline and replay them when the connection returns; a replay whose
    response was lost arrives twice. The second arrival returns the stored result instead of
    applying the change again.
    """

    __tablename__ = "applied_mutations"

    id: Mapped[int] = mapped_column(primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(64), unique=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: What was applied: "answer" or "evidence".
    kind: Mapped[str] = mapped_column(String(20))
    #: The JSON body returned the first time.
    result: Mapped[dict] = mapped_column(JSON)
    #: Indexed: the pruning job deletes by age (``applied_at <`` the offline window).
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<AppliedMutation {self.mutation_id} {self.kind}>"


class AuditReport(db.Model):
    """The closing record of an audit (ISO 19011 6.4.10 and 6.5.1): what the report states."""

    __tablename__ = "audit_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), unique=True)
    conclusions: Mapped[str | None] = mapped_column(Text)
    #: Degree to which the audit criteria are fulfilled, in the team's words.
    fulfilment: Mapped[str | None] = mapped_column(Text)
    #: Good practices and other positive findings.
    positive_findings: Mapped[str | None] = mapped_column(Text)
    #: Areas within the scope that were not covered, and why.
    areas_not_covered: Mapped[str | None] = mapped_column(Text)
    #: Unresolved diverging opinions between the team and the auditee.
    diverging_opinions: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    #: Who receives the report, one recipient per line.
    distribution: Mapped[str | None] = mapped_column(Text)
    #: Sampling statement; every report must say audits are based on samples.
    sampling_statement: Mapped[str | None] = mapped_column(Text)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The auditee representative who acknowledged the report (name as given at closing).
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(160))
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    audit = relationship("Audit")
    signed_by = relationship("User", foreign_keys=[signed_by_id])
    acknowledged_by = relationship("User", foreign_keys=[acknowledged_by_id])
    issued_by = relationship("User", foreign_keys=[issued_by_id])

    def __repr__(self) -> str:
        return f"<AuditReport {self.audit_id} issued={self.issued_at is not None}>"
