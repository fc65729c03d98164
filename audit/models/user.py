"""People: users, their combinable roles, auditor qualifications and training records."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class Role(enum.Enum):
    """A role is a bundle of capabilities; a user may hold several (see audit/auth/permissions.py)."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    AUDITEE = "auditee"
    SUPPLIER = "supplier"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        return {
            "admin": "Administrator",
            "coordinator": "Audit coordinator",
            "auditor": "Auditor",
            "auditee": "Auditee / process owner",
            "supplier": "Supplier contact",
            "viewer": "Viewer / top management",
        }[self.value]


#: Words before a name that are titles, not names (with or without their full stop).
_HONORIFICS = {"dr", "prof", "mr", "mrs", "ms", "mx", "ing", "dipl", "sir", "dame"}


class User(db.Model):
    """A person who logs in. Supplier contacts carry ``supplier_id`` and see only their company."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  #: stored lower-case
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Supplier company a supplier contact belongs to (None for everyone else).
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    #: IANA zone used to show times to this user.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    job_title: Mapped[str | None] = mapped_column(String(120))
    #: Consecutive failed logins; reset on success. Drives login throttling.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Part of every session cookie's user id: raising it ends all of the user's sessions at
    #: once (logout, password change, deactivation, role removal), because a signed cookie
    #: cannot be recalled and otherwise stays valid for its whole lifetime.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Loaded where needed (lazily, or eagerly by the queries that list users with roles):
    # a selectin default added a query to every load of a user, roles used or not (issue 16).
    # The session's user comes with its roles in one statement (core.security).
    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    qualifications: Mapped[list[Qualification]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Qualification.id"
    )
    training_records: Mapped[list[TrainingRecord]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="TrainingRecord.completed_on"
    )
    supplier = relationship("Supplier", foreign_keys=[supplier_id])

    @property
    def greeting_name(self) -> str:
        """How the home page greets the person: the first word of the name that is not an
        honorific ("Dr. Heinz Vogel" → "Heinz"); the whole name when every word is one."""
        words = self.name.split()
        return next((w for w in words if not w.endswith(".") and w.lower() not in _HONORIFICS),
                    self.name)

    # Flask-Login protocol -------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: ``"<id>:<session_version>"``."""
        return f"{self.id}:{self.session_version}"

    # Roles ------------------------------------------------------------------------------
    @property
    def roles(self) -> set[Role]:
        """The roles held: from ``role_links`` once loaded (every change goes through it), else
        from the snapshot the session's user was loaded with (``remember_roles``)."""
        snapshot = self.__dict__.get("_roles_snapshot")
        if snapshot is not None and "role_links" not in self.__dict__:
            return set(snapshot)
        return {link.role for link in self.role_links}

    def remember_roles(self, stored: str | None) -> None:
        """Keep the roles read with the user (their stored names, comma-separated) so that
        ``roles`` needs neither ``role_links`` nor its query; expiring the user drops them.

        The session's user is loaded on every request; reading its roles as one aggregated
        column instead of joined ``UserRole`` objects saves ~70 µs of each (issue 16).
        """
        names = stored.split(",") if stored else ()
        self.__dict__["_roles_snapshot"] = frozenset(Role[name] for name in names)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def can(self, permission) -> bool:
        # Imported here, not at the top: importing it there makes an import cycle.
        from audit.auth.permissions import permissions_for

        return permission in permissions_for(self.roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


@event.listens_for(User, "expire")
def _forget_roles_snapshot(user: User, attrs) -> None:
    # A commit or refresh expires role_links; the snapshot read before must not outlive it.
    # (``user`` is None when the object was already garbage-collected.)
    if user is not None and (attrs is None or "role_links" in attrs):
        user.__dict__.pop("_roles_snapshot", None)


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    user: Mapped[User] = relationship(back_populates="role_links")

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role.value}>"


class QualificationLevel(enum.Enum):
    """Auditor competence per standard (ISO 19011 clause 7)."""

    TRAINEE = "trainee"
    AUDITOR = "auditor"
    LEAD = "lead"

    @property
    def label(self) -> str:
        return {"trainee": "Auditor in training", "auditor": "Auditor", "lead": "Lead auditor"}[
            self.value
        ]

    @property
    def rank(self) -> int:
        return {"trainee": 0, "auditor": 1, "lead": 2}[self.value]


class Qualification(db.Model):
    """An auditor's qualification for one standard, valid until a date."""

    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    level: Mapped[QualificationLevel] = mapped_column(
        Enum(QualificationLevel, native_enum=False, length=20)
    )
    valid_from: Mapped[dt.date] = mapped_column(Date)
    #: None = no expiry recorded.
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    #: Certificate or course reference proving the qualification.
    reference: Mapped[str | None] = mapped_column(String(120))

    user: Mapped[User] = relationship(back_populates="qualifications")
    standard = relationship("Standard")

    def is_valid_on(self, day: dt.date) -> bool:
        """True when the qualification covers ``day``."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def __repr__(self) -> str:
        return f"<Qualification {self.user_id} {self.standard_id} {self.level.value}>"


class TrainingRecord(db.Model):
    """A completed course or training event (ISO 9001 7.2 evidence of competence)."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(120))
    completed_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[int | None] = mapped_column(Integer)
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(back_populates="training_records")
    standard = relationship("Standard")

    def __repr__(self) -> str:
        return f"<TrainingRecord {self.user_id} {self.title!r}>"
