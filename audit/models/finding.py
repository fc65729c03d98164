"""Findings and their corrective actions (ISO 9001 10.2)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
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

finding_clauses = Table(
    "finding_clauses",
    db.metadata,
    Column("finding_id", ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True, index=True),
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

    @property
    def css(self) -> str:
        """The pill class pages show the grade with (the one grade → colour mapping)."""
        return {"major": "bad", "minor": "warn", "observation": "", "ofi": "",
                "good_practice": "ok"}[self.value]


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

    @property
    def is_open(self) -> bool:
        return self not in (FindingStatus.CLOSED, FindingStatus.DRAFT)


class ScarStage(enum.Enum):
    """8D-style stages a supplier walks through on a SCAR (DOMAIN.md §5)."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    CONTAINMENT = "containment"  #: containment recorded (24 h)
    ROOT_CAUSE = "root_cause"  #: root cause recorded (14 days)
    ACTION_PLAN = "action_plan"  #: plan submitted (30 days)
    IMPLEMENTED = "implemented"
    VERIFIED = "verified"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class RootCauseMethod(enum.Enum):
    FIVE_WHYS = "five_whys"
    ISHIKAWA = "ishikawa"
    EIGHT_D = "eight_d"

    @property
    def label(self) -> str:
        return {"five_whys": "5 Whys", "ishikawa": "Ishikawa (6M)", "eight_d": "8D"}[self.value]


#: When a supplier's first SCAR stages are due, counted from the issue (DOMAIN.md §5): containment
#: within 24 hours, root cause within 14 days. The action plan is due on ``response_due_on`` (set
#: at issue to 30 days, moved by an approved extension) and implementation on ``closure_due_on``.
SCAR_STAGE_DELAYS = {"containment": dt.timedelta(hours=24), "root_cause": dt.timedelta(days=14)}
#: The action plan is due this long after issue.
SCAR_PLAN_DELAY = dt.timedelta(days=30)
#: The stage deadline a SCAR awaiting the supplier runs on next, by the stage it reached (from
#: the root cause on, the action plan: its ``response_due_on``).
SCAR_NEXT_DEADLINE = {ScarStage.ISSUED: "containment", ScarStage.ACKNOWLEDGED: "containment",
                      ScarStage.CONTAINMENT: "root_cause"}

#: Ishikawa categories (6M), in the order a fishbone shows them.
ISHIKAWA_CATEGORIES = ("man", "machine", "method", "material", "measurement", "environment")

#: The 8D disciplines a supplier documents (D1–D8), with their names.
EIGHT_D_DISCIPLINES = (
    ("d1", "D1 Team"), ("d2", "D2 Problem description"), ("d3", "D3 Containment"),
    ("d4", "D4 Root cause"), ("d5", "D5 Permanent corrective actions chosen"),
    ("d6", "D6 Implementation and validation"), ("d7", "D7 Preventing recurrence"),
    ("d8", "D8 Recognising the team"),
)


class Finding(db.Model):
    """A finding: cites a criterion, states objective evidence, and is owned by the auditee."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  #: e.g. IA-2026-014-F03
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    grade: Mapped[Grade] = mapped_column(Enum(Grade, native_enum=False, length=20))
    status: Mapped[FindingStatus] = mapped_column(
        Enum(FindingStatus, native_enum=False, length=30), default=FindingStatus.DRAFT
    )
    statement: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)  #: objective evidence, as observed
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_answers.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    #: Auditee-side owner who answers the finding.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    response_due_on: Mapped[dt.date | None] = mapped_column(Date)
    closure_due_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Times verification found the action not effective.
    recurrence_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    # Response (ISO 9001 10.2.1 a/b) ----------------------------------------------------------
    #: Correction and containment: what was done about the detected NC and its consequences.
    containment: Mapped[str | None] = mapped_column(Text)
    #: Extent check: does the same NC exist, or could it occur, elsewhere?
    extent_check: Mapped[str | None] = mapped_column(Text)
    root_cause_method: Mapped[RootCauseMethod | None] = mapped_column(
        Enum(RootCauseMethod, native_enum=False, length=20)
    )
    #: The 5 Whys chain, first why first (list of strings).
    whys: Mapped[list | None] = mapped_column(JSON)
    #: Ishikawa contributions by 6M category ({category: text}).
    ishikawa: Mapped[dict | None] = mapped_column(JSON)
    #: 8D report by discipline ({"d1": text, ... "d8": text}).
    eight_d: Mapped[dict | None] = mapped_column(JSON)
    #: The root cause statement the analysis concluded with.
    root_cause: Mapped[str | None] = mapped_column(Text)
    #: Where the cause lies (a 6M category by default; ``ROOT_CAUSE_CATEGORIES`` in config).
    root_cause_category: Mapped[str | None] = mapped_column(String(30))
    response_submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Reason given the last time a response was rejected.
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    rejection_count: Mapped[int] = mapped_column(Integer, default=0)
    #: OFI / observation: why it was accepted or declined.
    decision_rationale: Mapped[str | None] = mapped_column(Text)
    # Verification -------------------------------------------------------------------------
    #: True once a verifier confirmed the actions were implemented.
    implementation_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: True once a verifier judged the actions effective (required to close a major).
    effectiveness_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verification_note: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Links ------------------------------------------------------------------------------------
    #: The earlier finding this one repeats (a repeated NC triggers a follow-up audit).
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), index=True)
    is_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Follow-up verification audit proposed for this finding (PLANNED audit).
    follow_up_audit_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id"), index=True)
    #: The certification body's own numbering, for findings entered from a third-party report.
    external_reference: Mapped[str | None] = mapped_column(String(60))
    #: SCAR stage for findings raised against a supplier (None for other findings).
    scar_stage: Mapped[ScarStage | None] = mapped_column(Enum(ScarStage, native_enum=False, length=20))
    scar_acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    scar_containment_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    scar_root_cause_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": version_id}

    audit = relationship("Audit", foreign_keys=[audit_id])
    follow_up_audit = relationship("Audit", foreign_keys=[follow_up_audit_id])
    repeat_of = relationship("Finding", remote_side=[id], foreign_keys=[repeat_of_id])
    verified_by = relationship("User", foreign_keys=[verified_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
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
    costs: Mapped[list[PoorQualityCost]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="PoorQualityCost.id"
    )
    extensions: Mapped[list[ExtensionRequest]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="ExtensionRequest.id"
    )

    @property
    def is_scar(self) -> bool:
        return self.scar_stage is not None

    @property
    def is_closed(self) -> bool:
        return self.status is FindingStatus.CLOSED

    def scar_due_dates(self) -> dict[str, dt.date]:
        """A SCAR's stage deadlines as calendar dates where the audit happened, in stage order:
        containment, root cause, action plan, implementation. The one source of SCAR dates for
        the page, the sweep, the supplier list and the supplier's approval status."""
        if not self.is_scar or self.issued_at is None:
            return {}
        import zoneinfo

        zone = zoneinfo.ZoneInfo(self.audit.timezone if self.audit is not None else "UTC")
        dates = {name: (self.issued_at + delay).astimezone(zone).date()
                 for name, delay in SCAR_STAGE_DELAYS.items()}
        if self.response_due_on is not None:
            # A plan date moved later (an approved extension, a SCAR sent back to the supplier)
            # carries the earlier stages by as many days, so that they keep their distance from
            # the plan as at issue; a plan due sooner than usual bounds them.
            planned = self.issued_at.astimezone(zone).date() + SCAR_PLAN_DELAY
            shift = max(self.response_due_on - planned, dt.timedelta(0))
            dates = {name: min(day + shift, self.response_due_on) for name, day in dates.items()}
            dates["action_plan"] = self.response_due_on
        if self.closure_due_on is not None:
            dates["implementation"] = self.closure_due_on
        return dates

    def current_deadline(self) -> tuple[str | None, dt.date | None]:
        """(name, date) of the deadline that matters now: for a SCAR awaiting the supplier, the
        next stage's; for other findings awaiting a response, the response; then closure."""
        if self.status in (FindingStatus.DRAFT, FindingStatus.CLOSED, FindingStatus.DECLINED):
            return None, None
        if self.status is FindingStatus.AWAITING_RESPONSE and self.is_scar:
            dates = self.scar_due_dates()
            stage = SCAR_NEXT_DEADLINE.get(self.scar_stage, "action_plan")
            if dates.get(stage):
                return stage, dates[stage]
        # An issued nonconformity still without an owner: its response clock runs all the same.
        if self.status in (FindingStatus.ISSUED, FindingStatus.AWAITING_RESPONSE) and self.response_due_on:
            return "response", self.response_due_on
        if self.is_scar and self.closure_due_on:
            return "implementation", self.closure_due_on
        return ("closure", self.closure_due_on) if self.closure_due_on else (None, None)

    def current_due_on(self) -> dt.date | None:
        """The date of ``current_deadline``."""
        return self.current_deadline()[1]

    def is_overdue(self, today: dt.date) -> bool:
        due = self.current_due_on()
        return due is not None and due < today

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
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ActionKind] = mapped_column(Enum(ActionKind, native_enum=False, length=20))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, native_enum=False, length=20), default=ActionStatus.OPEN
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    implementation_evidence: Mapped[str | None] = mapped_column(Text)
    #: Verification round the action belongs to (recurrence count when it was planned).
    round: Mapped[int] = mapped_column(Integer, default=0)

    finding: Mapped[Finding] = relationship(back_populates="actions")
    owner = relationship("User")

    def __repr__(self) -> str:
        return f"<CorrectiveAction {self.id} {self.kind.value}>"


class CostCategory(enum.Enum):
    SCRAP = "scrap"
    REWORK = "rework"
    CONCESSION = "concession"
    CUSTOMER_RETURN = "customer_return"
    EXTRA_INSPECTION = "extra_inspection"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class PoorQualityCost(db.Model):
    """A cost a nonconformity caused (cost of poor quality), in its own currency."""

    __tablename__ = "poor_quality_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    category: Mapped[CostCategory] = mapped_column(Enum(CostCategory, native_enum=False, length=30))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")  #: ISO 4217 code
    #: The organisation's base currency when the cost was recorded, the rate used (1 unit of
    #: ``currency`` in base units, from the dated rates table) and the converted amount.
    base_currency: Mapped[str | None] = mapped_column(String(3))
    rate: Mapped[float | None] = mapped_column(Numeric(18, 8))
    base_amount: Mapped[float | None] = mapped_column(Numeric(14, 2))
    incurred_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="costs")

    def __repr__(self) -> str:
        return f"<PoorQualityCost {self.id} {self.amount} {self.currency}>"


class ExtensionStatus(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ExtensionRequest(db.Model):
    """A request by the finding's owner to move a deadline, decided by a coordinator."""

    __tablename__ = "finding_extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    #: Which deadline: "response" or "closure".
    deadline: Mapped[str] = mapped_column(String(20))
    current_due_on: Mapped[dt.date | None] = mapped_column(Date)
    requested_due_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ExtensionStatus] = mapped_column(
        Enum(ExtensionStatus, native_enum=False, length=20), default=ExtensionStatus.PENDING
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    finding: Mapped[Finding] = relationship(back_populates="extensions")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return f"<ExtensionRequest {self.id} {self.deadline} {self.status.value}>"


class DeadlinePolicy(db.Model):
    """Per audit kind and grade: deadlines, the name used, and whether the grade is used at all.

    Editable reference data (CBs use their own grade names). ``None`` days mean no formal
    deadline (observations and OFIs only need a recorded decision).
    """

    __tablename__ = "finding_deadline_policies"
    __table_args__ = (UniqueConstraint("audit_kind", "grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_kind: Mapped[str] = mapped_column(String(20))  #: AuditKind value
    grade: Mapped[Grade] = mapped_column(Enum(Grade, native_enum=False, length=20))
    response_days: Mapped[int | None] = mapped_column(Integer)
    closure_days: Mapped[int | None] = mapped_column(Integer)
    #: The grade's name in this kind of audit (e.g. "Area of concern"); None = standard name.
    label: Mapped[str | None] = mapped_column(String(60))
    #: False when this kind of audit does not use the grade.
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<DeadlinePolicy {self.audit_kind} {self.grade.value} {self.response_days}/{self.closure_days}>"
