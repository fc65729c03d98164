"""Programme rules that generate audits, planner runs, and the scheduler's lease and job clock."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class RuleKind(enum.Enum):
    """How a rule decides when the next audit is due (DOMAIN.md §2–3)."""

    RISK_INTERNAL = "risk_internal"  #: internal audit of one unit, interval from its risk score
    SUPPLIER = "supplier"  #: second-party audit of one supplier, interval from risk and certificate
    CERTIFICATION = "certification"  #: third-party cycle of one certificate
    RRULE = "rrule"  #: an explicit RFC 5545 recurrence

    @property
    def label(self) -> str:
        return {
            "risk_internal": "Risk-based internal audit",
            "supplier": "Supplier audit",
            "certification": "Certification cycle",
            "rrule": "Recurrence (RRULE)",
        }[self.value]


class ProgrammeRule(db.Model):
    """A rule of a programme that generates real audits over a rolling horizon."""

    __tablename__ = "programme_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RuleKind] = mapped_column(Enum(RuleKind, native_enum=False, length=20))
    title: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"), index=True)
    #: RFC 5545 recurrence (without DTSTART) for RRULE rules, e.g. "FREQ=MONTHLY;INTERVAL=6".
    rrule: Mapped[str | None] = mapped_column(String(250))
    #: First occurrence (RRULE) or the date the interval counts from when nothing was audited yet.
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    #: Local wall-clock start of generated audits (site's zone), "HH:MM".
    start_time: Mapped[str] = mapped_column(String(5), default="09:00")
    planned_days: Mapped[int] = mapped_column(Integer, default=1)
    #: How far ahead the scheduler keeps real audits generated.
    horizon_months: Mapped[int] = mapped_column(Integer, default=15)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    programme = relationship("Programme", back_populates="rules")
    unit = relationship("Unit")
    supplier = relationship("Supplier")
    certificate = relationship("Certificate")
    site = relationship("Site")
    standard = relationship("Standard")
    audits = relationship("Audit", back_populates="rule")

    def __repr__(self) -> str:
        return f"<ProgrammeRule {self.id} {self.kind.value}>"


class PlannerRun(db.Model):
    """One run of the automatic planner: its proposals wait for the coordinator to accept."""

    __tablename__ = "planner_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: [{audit_id, day, lead_id, auditor_ids, reason}] — one per placeable audit.
    proposals: Mapped[list] = mapped_column(JSON, default=list)
    #: [{audit_id, reasons: [..]}] — audits the planner could not place, with why.
    unplaced: Mapped[list] = mapped_column(JSON, default=list)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Seconds the planner took (shown to coordinators and benchmarks).
    duration: Mapped[float] = mapped_column(default=0.0)

    programme = relationship("Programme")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<PlannerRun {self.id} {len(self.proposals or [])} proposals>"


class SchedulerLease(db.Model):
    """The single row that says which scheduler process may act, until when.

    A holder renews it well before ``expires_at``; another process takes it over only after
    expiry, with a conditional UPDATE, so exactly one scheduler acts (works on SQLite too).
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))  #: host:pid:random of the holder
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<SchedulerLease {self.name} {self.holder} until {self.expires_at}>"


class JobRun(db.Model):
    """When each periodic job last completed: a restarted scheduler catches up from here."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: Short outcome of the last run (counts), for the admin page and debugging.
    result: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<JobRun {self.job_id} {self.last_run_at}>"


class TriggerKind(enum.Enum):
    """Events that call for an audit soon (DOMAIN.md §2); a major NC does so from findings."""

    COMPLAINT = "complaint"
    INCIDENT = "incident"
    SIGNIFICANT_CHANGE = "significant_change"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AuditTrigger(db.Model):
    """A complaint, incident or significant change that asks for an audit of a unit or supplier
    within ``TRIGGER_AUDIT_DAYS``; it links the audit that answers it (new or already planned)."""

    __tablename__ = "audit_triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TriggerKind] = mapped_column(Enum(TriggerKind, native_enum=False, length=30))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    #: The complaint, incident or change number in the system where it is handled.
    external_reference: Mapped[str | None] = mapped_column(String(60))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    #: occurred_on + the configured days: the audit must happen by then.
    due_by: Mapped[dt.date] = mapped_column(Date)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(
        ForeignKey("programmes.id", ondelete="SET NULL"), index=True
    )
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id", ondelete="SET NULL"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit = relationship("Unit")
    supplier = relationship("Supplier")
    programme = relationship("Programme")
    audit = relationship("Audit")
    recorded_by = relationship("User")

    @property
    def recorded_late(self) -> bool:
        """Recorded only after its audit deadline had passed (by the calendar where it happened)."""
        import zoneinfo

        if self.unit is not None:
            zone = self.unit.site.timezone
        else:
            zone = self.supplier.timezone if self.supplier is not None else "UTC"
        return self.created_at.astimezone(zoneinfo.ZoneInfo(zone)).date() > self.due_by

    @property
    def subject(self) -> str:
        """What the trigger is about: the unit (with its site) or the supplier."""
        if self.unit is not None:
            return f"{self.unit.name} ({self.unit.site.name})"
        return self.supplier.name if self.supplier is not None else "—"

    def __repr__(self) -> str:
        return f"<AuditTrigger {self.id} {self.kind.value}>"
