"""Audit programmes, audits of all three kinds, and audit teams."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo

from sqlalchemy import Column, Date, Enum, ForeignKey, Index, Integer, String, Table, Text, func, type_coerce
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utc_date, utcnow


class ProgrammeStatus(enum.Enum):
    DRAFT = "draft"
    APPROVED = "approved"
    ACTIVE = "active"
    CLOSED = "closed"


class Programme(db.Model):
    """Audits planned for a time frame towards a purpose (ISO 19011 clause 5)."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    objectives: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    risks: Mapped[str | None] = mapped_column(Text)
    #: Who commissions the programme (top management for internal audits).
    audit_client: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[ProgrammeStatus] = mapped_column(
        Enum(ProgrammeStatus, native_enum=False, length=20), default=ProgrammeStatus.DRAFT
    )
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Who prepared the programme (created it): they may not approve it themselves.
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Bumped by every change to scope, period, objectives or rules; approval records which one.
    content_version: Mapped[int] = mapped_column(default=1, server_default="1")
    approved_version: Mapped[int | None] = mapped_column()

    manager = relationship("User", foreign_keys=[manager_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    prepared_by = relationship("User", foreign_keys=[prepared_by_id])

    @property
    def changed_since_approval(self) -> bool:
        """Approved once, then its scope, period, objectives or rules changed: approve again."""
        return self.approved_version is not None and self.approved_version != self.content_version
    audits: Mapped[list[Audit]] = relationship(back_populates="programme")
    rules = relationship("ProgrammeRule", back_populates="programme", cascade="all, delete-orphan",
                         order_by="ProgrammeRule.id")

    def __repr__(self) -> str:
        return f"<Programme {self.id} {self.name!r}>"


class AuditKind(enum.Enum):
    INTERNAL = "internal"  #: first-party
    SECOND_PARTY = "second_party"  #: supplier audit
    THIRD_PARTY = "third_party"  #: certification body

    @property
    def label(self) -> str:
        return {
            "internal": "Internal",
            "second_party": "Supplier (second-party)",
            "third_party": "Certification (third-party)",
        }[self.value]


class ThirdPartyType(enum.Enum):
    STAGE1 = "stage1"
    STAGE2 = "stage2"
    SURVEILLANCE = "surveillance"
    RECERTIFICATION = "recertification"
    SPECIAL = "special"
    SHORT_NOTICE = "short_notice"

    @property
    def label(self) -> str:
        return {
            "stage1": "Stage 1",
            "stage2": "Stage 2",
            "surveillance": "Surveillance",
            "recertification": "Recertification",
            "special": "Special",
            "short_notice": "Short-notice",
        }[self.value]


class AuditStatus(enum.Enum):
    """Audit life cycle (DOMAIN.md §4); POSTPONED and CANCELLED are side exits."""

    PLANNED = "planned"
    SCHEDULED = "scheduled"
    PLAN_ISSUED = "plan_issued"
    IN_PROGRESS = "in_progress"
    FIELDWORK_COMPLETE = "fieldwork_complete"
    REPORT_ISSUED = "report_issued"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def css(self) -> str:
        """The CSS class that colours this status wherever it is shown (pills, calendar)."""
        return _AUDIT_STATUS_CSS[self]

    # Named groups of statuses, defined once here so every feature means the same by them.

    @classmethod
    def inactive(cls) -> tuple[AuditStatus, ...]:
        """Set aside (cancelled, postponed): occupies nobody, counts for nothing, records frozen."""
        return (cls.CANCELLED, cls.POSTPONED)

    @classmethod
    def not_started(cls) -> tuple[AuditStatus, ...]:
        """Before fieldwork: planned, scheduled, plan issued."""
        return (cls.PLANNED, cls.SCHEDULED, cls.PLAN_ISSUED)

    @classmethod
    def fieldwork(cls) -> tuple[AuditStatus, ...]:
        """Fieldwork under way or done, report not issued yet (the report is pending)."""
        return (cls.IN_PROGRESS, cls.FIELDWORK_COMPLETE)

    @classmethod
    def live(cls) -> tuple[AuditStatus, ...]:
        """Not started or in fieldwork: the audit still needs its team's time."""
        return cls.not_started() + cls.fieldwork()

    @classmethod
    def fieldwork_ahead(cls) -> tuple[AuditStatus, ...]:
        """Fieldwork not complete yet: the audit can still take on clauses or a trigger."""
        return cls.not_started() + (cls.IN_PROGRESS,)

    @classmethod
    def plan_issued(cls) -> tuple[AuditStatus, ...]:
        """The plan went out to the auditees and the report has not: plan changes are re-sent."""
        return (cls.PLAN_ISSUED, cls.IN_PROGRESS, cls.FIELDWORK_COMPLETE)

    @classmethod
    def reported(cls) -> tuple[AuditStatus, ...]:
        """The report is issued (and maybe followed up or closed)."""
        return (cls.REPORT_ISSUED, cls.FOLLOW_UP, cls.CLOSED)

    @classmethod
    def audited(cls) -> tuple[AuditStatus, ...]:
        """Fieldwork complete: what was examined counts as audited."""
        return (cls.FIELDWORK_COMPLETE,) + cls.reported()


#: One class per stage of the life cycle; static/css/app.css styles pills and calendar entries.
_AUDIT_STATUS_CSS = {
    AuditStatus.PLANNED: "st-planned", AuditStatus.SCHEDULED: "st-scheduled",
    AuditStatus.PLAN_ISSUED: "st-scheduled", AuditStatus.IN_PROGRESS: "st-progress",
    AuditStatus.FIELDWORK_COMPLETE: "st-progress", AuditStatus.REPORT_ISSUED: "st-done",
    AuditStatus.FOLLOW_UP: "st-done", AuditStatus.CLOSED: "st-done",
    AuditStatus.POSTPONED: "st-postponed", AuditStatus.CANCELLED: "st-cancelled",
}


audit_units = Table(
    "audit_units",
    db.metadata,
    Column("audit_id", ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True),
    # Indexed on its own too: "audits of my units" filters by unit (the key leads with audit).
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True, index=True),
)

audit_standards = Table(
    "audit_standards",
    db.metadata,
    Column("audit_id", ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True),
    Column("standard_id", ForeignKey("standards.id", ondelete="CASCADE"), primary_key=True, index=True),
)

audit_clauses = Table(
    "audit_clauses",
    db.metadata,
    Column("audit_id", ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def audit_zone(at_site: bool, site_zone: str | None, at_supplier: bool, supplier_zone: str | None) -> str:
    """``Audit.timezone`` from plain values: the site's zone, else the supplier's, else UTC."""
    if at_site:
        return site_zone
    if at_supplier:
        return supplier_zone
    return "UTC"


def local_dates(starts_at: dt.datetime | None, ends_at: dt.datetime | None,
                zone: str) -> tuple[dt.date, dt.date] | None:
    """``Audit.local_dates`` from plain values: the first and last day of [starts_at, ends_at)
    in ``zone``, or None without dates."""
    if starts_at is None or ends_at is None:
        return None
    tz = zoneinfo.ZoneInfo(zone)
    last = ends_at - dt.timedelta(microseconds=1)
    return starts_at.astimezone(tz).date(), max(last, starts_at).astimezone(tz).date()


class Audit(db.Model):
    """One audit. Times are stored in UTC; they are entered and shown in the site's zone."""

    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  #: e.g. IA-2026-014
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AuditKind] = mapped_column(Enum(AuditKind, native_enum=False, length=20))
    third_party_type: Mapped[ThirdPartyType | None] = mapped_column(
        Enum(ThirdPartyType, native_enum=False, length=20)
    )
    status: Mapped[AuditStatus] = mapped_column(
        Enum(AuditStatus, native_enum=False, length=30), default=AuditStatus.PLANNED
    )
    #: Why the audit was postponed or cancelled (required for those exits).
    status_reason: Mapped[str | None] = mapped_column(Text)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), index=True)
    certification_body_id: Mapped[int | None] = mapped_column(
        ForeignKey("certification_bodies.id"), index=True,
    )
    audit_client: Mapped[str | None] = mapped_column(String(160))
    objectives: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    criteria: Mapped[str | None] = mapped_column(Text)
    #: The date the programme first planned; kept when the audit is rescheduled.
    planned_date: Mapped[dt.date | None] = mapped_column(Date)
    #: Latest day the audit may happen (a trigger or a major NC asks for an audit within N
    #: days, DOMAIN.md §2); the planner never proposes a later day.
    due_by: Mapped[dt.date | None] = mapped_column(Date)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The frozen checklist template version this audit uses.
    checklist_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("checklist_template_versions.id"), index=True,
    )
    #: Bumped whenever dates or team change: calendars use it as SEQUENCE.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    #: Planned length in working days, used by the planner when no dates are set yet.
    planned_days: Mapped[int] = mapped_column(Integer, default=1)
    #: The programme rule that generated this audit, and which occurrence of it
    #: (e.g. "rule:4:2026-05-01"): a unique key makes generation idempotent.
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("programme_rules.id", ondelete="SET NULL"), index=True
    )
    generation_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    report_due_on: Mapped[dt.date | None] = mapped_column(Date)
    report_issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Optimistic lock: several coordinators and auditors edit audits at once.
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    programme: Mapped[Programme | None] = relationship(back_populates="audits")
    site = relationship("Site")
    supplier = relationship("Supplier")
    certificate = relationship("Certificate")
    certification_body = relationship("CertificationBody")
    checklist_version = relationship("ChecklistTemplateVersion")
    rule = relationship("ProgrammeRule", back_populates="audits")
    units = relationship("Unit", secondary=audit_units, order_by="Unit.name")
    standards = relationship("Standard", secondary=audit_standards, order_by="Standard.code")
    clauses = relationship("Clause", secondary=audit_clauses, order_by="Clause.position")
    team: Mapped[list[AuditTeamMember]] = relationship(
        back_populates="audit", cascade="all, delete-orphan", order_by="AuditTeamMember.id"
    )
    sessions: Mapped[list[AgendaSession]] = relationship(
        back_populates="audit", cascade="all, delete-orphan", order_by="AgendaSession.starts_at"
    )

    @property
    def timezone(self) -> str:
        """IANA zone the audit happens in: its site's, else its supplier's, else UTC."""
        site, supplier = self.site, self.supplier
        return audit_zone(site is not None, site.timezone if site is not None else None,
                          supplier is not None, supplier.timezone if supplier is not None else None)

    @property
    def lead(self):
        for member in self.team:
            if member.role is TeamRole.LEAD:
                return member.user
        return None

    @property
    def auditors(self) -> list:
        """Members who actually audit (lead, auditors, trainees): experts and observers never count."""
        return [m.user for m in self.team if m.role.is_auditing]

    @property
    def is_open(self) -> bool:
        """Not yet finished nor abandoned: still occupies people's calendars."""
        return self.status not in AuditStatus.inactive() + (AuditStatus.CLOSED,)

    def local_dates(self) -> tuple[dt.date, dt.date] | None:
        """First and last day of the audit in its site's zone, or None without dates."""
        return local_dates(self.starts_at, self.ends_at, self.timezone)

    def local_today(self, now: dt.datetime) -> dt.date:
        """The calendar date at the audit's site (or supplier) at ``now``: deadlines and
        reminders count calendar days where the audit happens, not in UTC."""
        return now.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()

    def __repr__(self) -> str:
        return f"<Audit {self.reference} {self.status.value}>"


def audit_day():
    """The day an audit sorts by in lists: its UTC start date once dated, else its planned
    date (NULL when it has neither). The programme page's index is built on this very
    expression, so queries must use it as it is."""
    return type_coerce(func.coalesce(utc_date(Audit.starts_at), Audit.planned_date), Date)


#: The programme page pages its audits by day (undated last) and counts those before today:
#: without this index both sorted or scanned all the programme's audits on every page view
#: (1.2 of its 1.6 ms of SQL at demo scale 50 on SQLite, issue 16). The status counts read
#: the second one alone.
Index("ix_audits_programme_day", Audit.programme_id, audit_day().is_(None), audit_day(), Audit.starts_at,
      Audit.id)
Index("ix_audits_programme_status", Audit.programme_id, Audit.status)


class TeamRole(enum.Enum):
    """Roles in an audit team (ISO 19011). Technical experts, observers and guides never audit."""

    LEAD = "lead"
    AUDITOR = "auditor"
    TRAINEE = "trainee"
    TECHNICAL_EXPERT = "technical_expert"
    OBSERVER = "observer"
    GUIDE = "guide"

    @property
    def is_auditing(self) -> bool:
        return self in (TeamRole.LEAD, TeamRole.AUDITOR, TeamRole.TRAINEE)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AuditTeamMember(db.Model):
    """One person in one audit's team, with their role."""

    __tablename__ = "audit_team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[TeamRole] = mapped_column(Enum(TeamRole, native_enum=False, length=20))
    #: Recorded by a coordinator when impartiality is waived (small organisations).
    impartiality_justification: Mapped[str | None] = mapped_column(Text)

    audit: Mapped[Audit] = relationship(back_populates="team")
    user = relationship("User")

    def __repr__(self) -> str:
        return f"<AuditTeamMember {self.audit_id} {self.user_id} {self.role.value}>"


class SessionKind(enum.Enum):
    OPENING = "opening"
    SESSION = "session"
    CLOSING = "closing"


agenda_session_clauses = Table(
    "agenda_session_clauses",
    db.metadata,
    Column("session_id", ForeignKey("agenda_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AgendaSession(db.Model):
    """One slot of an audit plan: opening meeting, an audited process, or the closing meeting."""

    __tablename__ = "agenda_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SessionKind] = mapped_column(
        Enum(SessionKind, native_enum=False, length=20), default=SessionKind.SESSION
    )
    title: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Auditee contacts for the slot (names, roles), free text.
    auditee_contacts: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    audit: Mapped[Audit] = relationship(back_populates="sessions")
    unit = relationship("Unit")
    auditor = relationship("User")
    clauses = relationship("Clause", secondary=agenda_session_clauses, order_by="Clause.position")

    def __repr__(self) -> str:
        return f"<AgendaSession {self.audit_id} {self.title!r}>"
