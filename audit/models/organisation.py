"""The audited organisation: sites, auditable units, suppliers, certification bodies, certificates."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Date, Enum, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from audit.extensions import db

unit_members = Table(
    "unit_members",
    db.metadata,
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    # Indexed on its own too: "units I belong to" filters by user (the key leads with unit).
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

unit_standards = Table(
    "unit_standards",
    db.metadata,
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    Column("standard_id", ForeignKey("standards.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Site(db.Model):
    """A physical location. Audit wall-clock times are in its IANA time zone."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  #: short code used in references
    address: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))  #: IANA name, e.g. Europe/Berlin
    is_active: Mapped[bool] = mapped_column(default=True)

    units: Mapped[list[Unit]] = relationship(back_populates="site", order_by="Unit.name")
    #: Number of units, filled only by queries that ask (``with_expression``): the sites list
    #: shows a count and must not load every unit for it (issue 16).
    unit_count: Mapped[int | None] = query_expression()
    holidays: Mapped[list[SiteHoliday]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="SiteHoliday.day"
    )

    def __repr__(self) -> str:
        return f"<Site {self.code} {self.timezone}>"


class SiteHoliday(db.Model):
    """A day the site is closed; the planner never schedules audits on it."""

    __tablename__ = "site_holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))

    site: Mapped[Site] = relationship(back_populates="holidays")

    def __repr__(self) -> str:
        return f"<SiteHoliday {self.site_id} {self.day}>"


class UnitKind(enum.Enum):
    PROCESS = "process"
    DEPARTMENT = "department"


class Unit(db.Model):
    """An auditable unit (process or department) at a site, with its risk factors."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[UnitKind] = mapped_column(
        Enum(UnitKind, native_enum=False, length=20), default=UnitKind.PROCESS
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: Process owner: receives findings and is never an impartial auditor of this unit.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    #: Risk factors (DOMAIN.md §2): importance 1..3, change 0..2, maturity 0..1.
    importance: Mapped[int] = mapped_column(Integer, default=2)
    change_level: Mapped[int] = mapped_column(Integer, default=0)
    maturity_risk: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    site: Mapped[Site] = relationship(back_populates="units")
    owner = relationship("User", foreign_keys=[owner_id])
    members = relationship("User", secondary=unit_members, order_by="User.name")
    standards = relationship("Standard", secondary=unit_standards, order_by="Standard.code")

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name!r}>"


class RiskClass(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ApprovalStatus(enum.Enum):
    """Supplier approval states (DOMAIN.md §2)."""

    CANDIDATE = "candidate"
    UNDER_EVALUATION = "under_evaluation"
    APPROVED = "approved"
    CONDITIONALLY_APPROVED = "conditionally_approved"
    ON_PROBATION = "on_probation"
    REJECTED = "rejected"
    DISQUALIFIED = "disqualified"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Supplier(db.Model):
    """An external provider (ISO 9001 8.4) audited second-party by risk."""

    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(80))
    #: What they supply, shown to auditors as context.
    supplies: Mapped[str | None] = mapped_column(String(250))
    #: IANA zone of the supplier's premises (audits there happen in that zone).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    risk_class: Mapped[RiskClass] = mapped_column(
        Enum(RiskClass, native_enum=False, length=20), default=RiskClass.MEDIUM
    )
    approval_status: Mapped[ApprovalStatus] = mapped_column(
        Enum(ApprovalStatus, native_enum=False, length=30), default=ApprovalStatus.CANDIDATE
    )
    notes: Mapped[str | None] = mapped_column(Text)

    certificates = relationship("Certificate", back_populates="supplier")

    def __repr__(self) -> str:
        return f"<Supplier {self.id} {self.name!r}>"


class CertificationBody(db.Model):
    """An accredited certification body (third-party auditor)."""

    __tablename__ = "certification_bodies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    accreditation: Mapped[str | None] = mapped_column(String(160))  #: e.g. "DAkkS D-ZM-12345"
    contact_email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(250))

    def __repr__(self) -> str:
        return f"<CertificationBody {self.id} {self.name!r}>"


class CertificateStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Certificate(db.Model):
    """A management-system certificate: ours (supplier_id None) or a supplier's."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    certification_body_id: Mapped[int | None] = mapped_column(
        ForeignKey("certification_bodies.id"), index=True,
    )
    #: Holder when a supplier's certificate; None = our own organisation.
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(Text)
    #: Certification decision; the 3-year cycle starts here (ISO/IEC 17021-1).
    decision_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[CertificateStatus] = mapped_column(
        Enum(CertificateStatus, native_enum=False, length=20), default=CertificateStatus.ACTIVE
    )
    is_accredited: Mapped[bool] = mapped_column(default=True)
    cycle_number: Mapped[int] = mapped_column(Integer, default=1)

    standard = relationship("Standard")
    certification_body = relationship("CertificationBody")
    supplier = relationship("Supplier", back_populates="certificates")

    def __repr__(self) -> str:
        return f"<Certificate {self.id} {self.number}>"
