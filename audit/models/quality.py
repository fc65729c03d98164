"""Top management's registers (ISO 9001 4.1/4.2, 6.1, 6.2, 9.1): objectives and their
measurements, process indicators, customer feedback, risks and opportunities, context changes.

Every row carries the date it is about *and* ``created_at``, so a management review pack can be
computed as of a past period end: a row entered after the period end is not part of it.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class Direction(enum.Enum):
    """Whether a higher or a lower value is better (on-time delivery vs. scrap rate)."""

    HIGHER = "higher"
    LOWER = "lower"

    @property
    def label(self) -> str:
        return f"{self.value.capitalize()} is better"


class Frequency(enum.Enum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class QualityObjective(db.Model):
    """A measurable quality objective (6.2) with its plan; organisation-wide when ``unit_id`` is None."""

    __tablename__ = "quality_objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    #: The quality-policy commitment this objective serves.
    policy_commitment: Mapped[str | None] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(String(200))  #: what is measured, e.g. "on-time delivery"
    target: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    target_unit: Mapped[str] = mapped_column(String(30))  #: "%", "days", "ppm" ...
    direction: Mapped[Direction] = mapped_column(Enum(Direction, native_enum=False, length=10))
    frequency: Mapped[Frequency] = mapped_column(Enum(Frequency, native_enum=False, length=10))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)  #: measurements are taken from this day ...
    due_on: Mapped[dt.date] = mapped_column(Date)  #: ... to the day the objective is to be met
    # The plan (6.2.2 a–e): what, resources, who, when (due_on), how results are evaluated.
    plan_what: Mapped[str | None] = mapped_column(Text)
    plan_resources: Mapped[str | None] = mapped_column(Text)
    plan_who: Mapped[str | None] = mapped_column(Text)
    plan_evaluation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner = relationship("User")
    unit = relationship("Unit")
    measurements: Mapped[list[ObjectiveMeasurement]] = relationship(
        back_populates="objective", cascade="all, delete-orphan",
        order_by="ObjectiveMeasurement.measured_on")

    def __repr__(self) -> str:
        return f"<QualityObjective {self.id} {self.title!r}>"


class ObjectiveMeasurement(db.Model):
    """One measured value of an objective, for the day (or period end) it describes."""

    __tablename__ = "objective_measurements"
    __table_args__ = (UniqueConstraint("objective_id", "measured_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("quality_objectives.id", ondelete="CASCADE"))
    measured_on: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    objective: Mapped[QualityObjective] = relationship(back_populates="measurements")

    def __repr__(self) -> str:
        return f"<ObjectiveMeasurement {self.objective_id} {self.measured_on} {self.value}>"


class ProcessIndicator(db.Model):
    """A performance indicator of an auditable unit's process (9.1.1)."""

    __tablename__ = "process_indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str | None] = mapped_column(Text)  #: how it is computed
    target: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    target_unit: Mapped[str] = mapped_column(String(30))
    direction: Mapped[Direction] = mapped_column(Enum(Direction, native_enum=False, length=10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit = relationship("Unit")
    results: Mapped[list[IndicatorResult]] = relationship(
        back_populates="indicator", cascade="all, delete-orphan", order_by="IndicatorResult.period_end")

    def __repr__(self) -> str:
        return f"<ProcessIndicator {self.id} {self.name!r}>"


class IndicatorResult(db.Model):
    """The actual value of an indicator for the period ending on ``period_end``."""

    __tablename__ = "indicator_results"
    __table_args__ = (UniqueConstraint("indicator_id", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("process_indicators.id", ondelete="CASCADE"))
    period_end: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    indicator: Mapped[ProcessIndicator] = relationship(back_populates="results")

    def __repr__(self) -> str:
        return f"<IndicatorResult {self.indicator_id} {self.period_end} {self.value}>"


class SatisfactionResult(db.Model):
    """A customer satisfaction result (9.1.2): a survey's score for a period."""

    __tablename__ = "satisfaction_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    scale_max: Mapped[Decimal] = mapped_column(Numeric(8, 2))  #: e.g. 5 or 10 or 100
    method: Mapped[str] = mapped_column(String(120))  #: survey, interviews, NPS ...
    sample_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<SatisfactionResult {self.id} {self.score}/{self.scale_max}>"


class Severity(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ComplaintStatus(enum.Enum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Complaint(db.Model):
    """A customer complaint; it may be tied to a nonconformity, an audit trigger and a risk."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    customer: Mapped[str] = mapped_column(String(200))
    product: Mapped[str | None] = mapped_column(String(200))
    received_on: Mapped[dt.date] = mapped_column(Date)
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=10))
    status: Mapped[ComplaintStatus] = mapped_column(
        Enum(ComplaintStatus, native_enum=False, length=20), default=ComplaintStatus.OPEN)
    description: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    #: The nonconformity it was recorded as (with its cost of poor quality).
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"), index=True)
    #: The audit trigger it raised (audit.programme.triggers).
    trigger_id: Mapped[int | None] = mapped_column(
        ForeignKey("audit_triggers.id", ondelete="SET NULL"), index=True
    )
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risks.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit = relationship("Unit")
    finding = relationship("Finding")
    trigger = relationship("AuditTrigger")
    risk = relationship("Risk", back_populates="complaints")

    def __repr__(self) -> str:
        return f"<Complaint {self.reference}>"


class RiskKind(enum.Enum):
    RISK = "risk"
    OPPORTUNITY = "opportunity"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Effectiveness(enum.Enum):
    """Outcome of the review of the actions taken on a risk or opportunity (6.1.2 b 2)."""

    NOT_REVIEWED = "not_reviewed"
    EFFECTIVE = "effective"
    NOT_EFFECTIVE = "not_effective"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


risk_findings = Table(
    "risk_findings",
    db.metadata,
    Column("risk_id", ForeignKey("risks.id", ondelete="CASCADE"), primary_key=True),
    Column("finding_id", ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Risk(db.Model):
    """An entry of the risks and opportunities register (6.1)."""

    __tablename__ = "risks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RiskKind] = mapped_column(Enum(RiskKind, native_enum=False, length=15))
    description: Mapped[str | None] = mapped_column(Text)
    likelihood: Mapped[int] = mapped_column(Integer)  #: 1..5
    impact: Mapped[int] = mapped_column(Integer)  #: 1..5
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    actions: Mapped[str | None] = mapped_column(Text)  #: actions planned (6.1.2 a)
    review_due_on: Mapped[dt.date | None] = mapped_column(Date)  #: effectiveness review date
    effectiveness: Mapped[Effectiveness] = mapped_column(
        Enum(Effectiveness, native_enum=False, length=15), default=Effectiveness.NOT_REVIEWED)
    reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    review_note: Mapped[str | None] = mapped_column(Text)
    identified_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner = relationship("User")
    unit = relationship("Unit")
    findings = relationship("Finding", secondary=risk_findings, order_by="Finding.id")
    complaints: Mapped[list[Complaint]] = relationship(back_populates="risk")
    #: The actions taken on it (6.1.2 a), tracked to closure like corrective actions.
    action_rows: Mapped[list[RiskAction]] = relationship(
        back_populates="risk", cascade="all, delete-orphan", order_by="RiskAction.id")

    @property
    def score(self) -> int:
        """Likelihood × impact (1..25)."""
        return self.likelihood * self.impact

    def __repr__(self) -> str:
        return f"<Risk {self.id} {self.title!r} {self.score}>"


class RiskActionStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class RiskAction(db.Model):
    """One action taken on a risk or opportunity: owner, due date, closure, effectiveness review.

    ``completed_at`` (done or withdrawn) and ``reviewed_on`` keep their dates so the review pack
    can say what stood at a past period end.
    """

    __tablename__ = "risk_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[RiskActionStatus] = mapped_column(
        Enum(RiskActionStatus, native_enum=False, length=10), default=RiskActionStatus.OPEN)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  #: done or withdrawn
    completion_note: Mapped[str | None] = mapped_column(Text)
    effectiveness: Mapped[Effectiveness] = mapped_column(
        Enum(Effectiveness, native_enum=False, length=15), default=Effectiveness.NOT_REVIEWED)
    reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    risk: Mapped[Risk] = relationship(back_populates="action_rows")
    owner = relationship("User")

    def status_as_of(self, instant: dt.datetime, day: dt.date) -> str:
        """'done', 'withdrawn', 'overdue' or 'open' as it stood at ``instant`` (day = its date)."""
        if self.completed_at is not None and self.completed_at < instant:
            return self.status.value
        return "overdue" if self.due_on < day else "open"

    def __repr__(self) -> str:
        return f"<RiskAction {self.id} risk={self.risk_id} {self.status.value}>"


class ContextCategory(enum.Enum):
    EXTERNAL = "external"
    INTERNAL = "internal"
    INTERESTED_PARTY = "interested_party"

    @property
    def label(self) -> str:
        return {"external": "External issue", "internal": "Internal issue",
                "interested_party": "Interested party requirement"}[self.value]


class ContextChange(db.Model):
    """A dated change in internal or external issues or interested parties' requirements (4.1/4.2)."""

    __tablename__ = "context_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    changed_on: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[ContextCategory] = mapped_column(Enum(ContextCategory, native_enum=False, length=20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by = relationship("User")

    def __repr__(self) -> str:
        return f"<ContextChange {self.changed_on} {self.title!r}>"
