"""Findings and their corrective actions (ISO 9001 10.2)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Date, Enum, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow

finding_clauses = Table(
    "finding_clauses",
    db.metadata,
    Column("finding_id", ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True),
)


class Grade(enum.Enum):
    MAJOR = "major"
    MINOR = "minor"
    OBSERVATION = "observation"  #: also "area of concern" at stage 1
    OFI = "ofi"
    GOOD_PRACTICE = "good_practice"

    @property
    def is_nonconformity(self) -> bool:
        return self in (Grade.MAJOR, Grade.MINOR)

    @property
    def label(self) -> str:
        return {
            "major": "Major NC",
            "minor": "Minor NC",
            "observation": "Observation",
            "ofi": "Opportunity for improvement",
            "good_practice": "Good practice",
        }[self.value]


class FindingStatus(enum.Enum):
    """Finding life cycle (DOMAIN.md §5)."""

    DRAFT = "draft"
    ISSUED = "issued"
    AWAITING_RESPONSE = "awaiting_response"
    RESPONSE_SUBMITTED = "response_submitted"
    ACTION_IN_PROGRESS = "action_in_progress"
    PENDING_VERIFICATION = "pending_verification"
    ACCEPTED = "accepted"  #: OFI / observation turned into an improvement action
    DECLINED = "declined"  #: OFI / observation declined with rationale
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Finding(db.Model):
    """A finding: cites a criterion, states objective evidence, and is owned by the auditee."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  #: e.g. IA-2026-014-F03
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"))
    grade: Mapped[Grade] = mapped_column(Enum(Grade, native_enum=False, length=20))
    status: Mapped[FindingStatus] = mapped_column(
        Enum(FindingStatus, native_enum=False, length=30), default=FindingStatus.DRAFT
    )
    statement: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)  #: objective evidence, as observed
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_answers.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    #: Auditee-side owner who answers the finding.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    response_due_on: Mapped[dt.date | None] = mapped_column(Date)
    closure_due_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Times verification found the action not effective.
    recurrence_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    audit = relationship("Audit")
    unit = relationship("Unit")
    site = relationship("Site")
    supplier = relationship("Supplier")
    owner = relationship("User", foreign_keys=[owner_id])
    raised_by = relationship("User", foreign_keys=[raised_by_id])
    answer = relationship("ChecklistAnswer")
    clauses = relationship("Clause", secondary=finding_clauses, order_by="Clause.position")
    actions: Mapped[list[CorrectiveAction]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="CorrectiveAction.id"
    )

    def __repr__(self) -> str:
        return f"<Finding {self.reference} {self.grade.value} {self.status.value}>"


class ActionKind(enum.Enum):
    CORRECTION = "correction"  #: fixes the detected nonconformity
    CORRECTIVE = "corrective"  #: removes its cause
    IMPROVEMENT = "improvement"


class ActionStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class CorrectiveAction(db.Model):
    """An action taken on a finding, with owner and due date."""

    __tablename__ = "corrective_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    kind: Mapped[ActionKind] = mapped_column(Enum(ActionKind, native_enum=False, length=20))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, native_enum=False, length=20), default=ActionStatus.OPEN
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    implementation_evidence: Mapped[str | None] = mapped_column(Text)

    finding: Mapped[Finding] = relationship(back_populates="actions")
    owner = relationship("User")

    def __repr__(self) -> str:
        return f"<CorrectiveAction {self.id} {self.kind.value}>"
