"""Checklist templates: versioned, sectioned questions mapped to clauses."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Column,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow

question_clauses = Table(
    "checklist_question_clauses",
    db.metadata,
    Column(
        "question_id", ForeignKey("checklist_questions.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("clause_id", ForeignKey("clauses.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ChecklistTemplate(db.Model):
    """A named checklist; its content lives in versions."""

    __tablename__ = "checklist_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[ChecklistTemplateVersion]] = relationship(
        back_populates="template",
        order_by="ChecklistTemplateVersion.number",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<ChecklistTemplate {self.id} {self.name!r}>"


class VersionStatus(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"  #: immutable from here on
    RETIRED = "retired"

    @property
    def css(self) -> str:
        """The pill class of this status: published is the one in use, a draft is work to do."""
        return {"published": "ok", "draft": "warn"}.get(self.value, "")


class ChecklistTemplateVersion(db.Model):
    """One version of a template. Published versions never change; audits point at one."""

    __tablename__ = "checklist_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=20), default=VersionStatus.DRAFT
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    change_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The version this draft was copied from (None for a first version or an import).
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_template_versions.id"), index=True)

    template: Mapped[ChecklistTemplate] = relationship(back_populates="versions")
    published_by = relationship("User")
    sections: Mapped[list[ChecklistSection]] = relationship(
        back_populates="version", order_by="ChecklistSection.position", cascade="all, delete-orphan"
    )

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @property
    def label(self) -> str:
        return f"{self.template.name} v{self.number}" if self.template else f"v{self.number}"

    def __repr__(self) -> str:
        return f"<ChecklistTemplateVersion {self.template_id} v{self.number}>"


class ChecklistSection(db.Model):
    """An ordered group of questions within one template version."""

    __tablename__ = "checklist_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_template_versions.id", ondelete="CASCADE"), index=True,
    )
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[ChecklistTemplateVersion] = relationship(back_populates="sections")
    questions: Mapped[list[ChecklistQuestion]] = relationship(
        back_populates="section", order_by="ChecklistQuestion.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<ChecklistSection {self.id} {self.title!r}>"


class AnswerType(enum.Enum):
    VERDICT = "verdict"  #: conforming / minor NC / major NC / observation / OFI / N/A
    YES_NO = "yes_no"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    CHOICE = "choice"


class ChecklistQuestion(db.Model):
    """A question in our own words, mapped to one or more clauses (of one or more standards)."""

    __tablename__ = "checklist_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_sections.id", ondelete="CASCADE"), index=True,
    )
    #: Stable across versions of one template: carry-forward and conditions use it.
    key: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    guidance: Mapped[str | None] = mapped_column(Text)
    answer_type: Mapped[AnswerType] = mapped_column(
        Enum(AnswerType, native_enum=False, length=20), default=AnswerType.VERDICT
    )
    choices: Mapped[list | None] = mapped_column(JSON)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    evidence_required: Mapped[bool] = mapped_column(default=False)
    photo_required: Mapped[bool] = mapped_column(default=False)
    weight: Mapped[float | None] = mapped_column(Float)
    #: Show only when the question with this key has the answer condition_value.
    condition_key: Mapped[str | None] = mapped_column(String(60))
    condition_value: Mapped[str | None] = mapped_column(String(120))

    section: Mapped[ChecklistSection] = relationship(back_populates="questions")
    clauses = relationship("Clause", secondary=question_clauses,
                           order_by="[Clause.standard_id, Clause.position]")

    def __repr__(self) -> str:
        return f"<ChecklistQuestion {self.id} {self.key}>"


# --- immutability guard -------------------------------------------------------------------------

_FROZEN = (VersionStatus.PUBLISHED, VersionStatus.RETIRED)
#: Statuses whose content never changes again (what readers may keep).
FROZEN_STATUSES = frozenset(_FROZEN)


class FrozenVersionError(Exception):
    """Something tried to change a published or retired checklist version in the database."""


def _stored_status(version: ChecklistTemplateVersion) -> VersionStatus | None:
    """The status the version has in the database (None for a version not stored yet)."""
    state = inspect(version)
    if not state.persistent:
        return None
    history = state.attrs.status.history
    return history.deleted[0] if history.deleted else version.status


def _version_of(obj) -> ChecklistTemplateVersion | None:
    if isinstance(obj, ChecklistTemplateVersion):
        return obj
    if isinstance(obj, ChecklistSection):
        return obj.version
    if isinstance(obj, ChecklistQuestion):
        return obj.section.version if obj.section is not None else None
    return None


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_frozen_versions(session: Session, _context, _instances) -> None:
    """Last line of defence behind the services: published content never changes in the database.

    Only retiring a published version (status published → retired) is allowed. Rows of versions
    being created in this flush are not checked, so published versions can be built in one go.
    """
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, ChecklistTemplateVersion | ChecklistSection | ChecklistQuestion):
            continue
        if obj in session.dirty and not session.is_modified(obj):
            continue
        version = _version_of(obj)
        if version is None or _stored_status(version) not in _FROZEN:
            continue
        if isinstance(obj, ChecklistTemplateVersion) and obj not in session.deleted:
            state = inspect(obj)
            changed = {a.key for a in state.attrs if a.history.has_changes()}
            if changed <= {"status"} and obj.status == VersionStatus.RETIRED:
                continue
        raise FrozenVersionError(
            f"{version!r} is {_stored_status(version).value}: its content cannot change")
