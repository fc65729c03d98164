"""Checklist template versions: reading them, creating templates, drafts, publishing, retiring.

A published version never changes (see the package docstring); ``ensure_draft`` is the guard
every editing service calls first.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.errors import DomainError
from audit.core.services import same_text
from audit.extensions import db
from audit.library.checklists.validation import QUESTION_FIELDS, check_conditions, clean_text
from audit.models import (
    Audit,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    VersionStatus,
)
from audit.trail.services import record

# --- reading ----------------------------------------------------------------------------------


def version_query():
    """A select of versions with template, sections, questions and clauses eagerly loaded."""
    return select(ChecklistTemplateVersion).options(
        joinedload(ChecklistTemplateVersion.template),
        selectinload(ChecklistTemplateVersion.sections)
        .selectinload(ChecklistSection.questions)
        .selectinload(ChecklistQuestion.clauses)
        .joinedload(Clause.standard),
    )


def load_version(version_id: int) -> ChecklistTemplateVersion | None:
    """One version with everything a page needs, in a constant number of queries."""
    return db.session.scalar(version_query().where(ChecklistTemplateVersion.id == version_id))


def published_version(template_name: str) -> ChecklistTemplateVersion | None:
    """The current published version of the template called ``template_name`` (or None).

    This is what a new audit should use; store its id in ``Audit.checklist_version_id`` and
    the audit keeps that exact version even after the template is edited and republished.
    """
    return db.session.scalar(
        version_query()
        .join(ChecklistTemplateVersion.template)
        .where(ChecklistTemplate.name == template_name,
               ChecklistTemplateVersion.status == VersionStatus.PUBLISHED)
        .order_by(ChecklistTemplateVersion.number.desc())
        .limit(1)
    )


def published_versions() -> list[ChecklistTemplateVersion]:
    """Every template's current published version, by template name (for pickers)."""
    return list(db.session.scalars(
        select(ChecklistTemplateVersion)
        .join(ChecklistTemplateVersion.template)
        .options(joinedload(ChecklistTemplateVersion.template))
        .where(ChecklistTemplateVersion.status == VersionStatus.PUBLISHED)
        .order_by(ChecklistTemplate.name)
    ))


def draft_of(template: ChecklistTemplate) -> ChecklistTemplateVersion | None:
    """The template's draft version, if it has one (a template has at most one)."""
    return next((v for v in template.versions if v.status == VersionStatus.DRAFT), None)


def questions_of(version: ChecklistTemplateVersion) -> list[ChecklistQuestion]:
    """All questions of ``version`` in section and question order."""
    return [q for s in version.sections for q in s.questions]


def next_version_number(template: ChecklistTemplate) -> int:
    """The number the template's next version gets (1 for a new template)."""
    if template.id is None:
        return 1
    current = db.session.scalar(select(func.max(ChecklistTemplateVersion.number))
                                .where(ChecklistTemplateVersion.template_id == template.id))
    return (current or 0) + 1


# --- versioning -------------------------------------------------------------------------------


def ensure_draft(version: ChecklistTemplateVersion, *, content: bool = True) -> None:
    """Refuse any change to a version that is not a draft (published versions are frozen).

    With ``content`` (every edit of sections and questions), a draft that an audit already
    uses is frozen too: the audit must keep exactly the questions it was started with.
    """
    if version.status != VersionStatus.DRAFT:
        raise DomainError(
            f"{version.label} is {version.status.value} and cannot change; "
            "start a new draft to edit this checklist."
        )
    if content and version.id is not None and db.session.scalar(
            select(Audit.id).where(Audit.checklist_version_id == version.id).limit(1)) is not None:
        raise DomainError(
            f"{version.label} is used by an audit and cannot change; publish it and start a "
            "new draft to edit this checklist."
        )


def create_template(name: str, description: str | None = None, *, actor,
                    now: dt.datetime) -> ChecklistTemplateVersion:
    """Create a template with an empty first draft version."""
    name = clean_text(name)
    if not name:
        raise DomainError("Give the checklist a name.", field="name")
    if len(name) > 160:
        raise DomainError("Keep the name under 160 characters.", field="name")
    if db.session.scalar(select(ChecklistTemplate.id).where(
            same_text(ChecklistTemplate.name, name))) is not None:
        raise DomainError(f"Another checklist is already called “{name}”.", field="name")
    template = ChecklistTemplate(name=name, description=clean_text(description) or None, created_at=now)
    version = ChecklistTemplateVersion(template=template, number=1, created_at=now)
    db.session.add_all([template, version])
    db.session.flush()
    record(template, "create", actor=actor, now=now, summary=f"Created checklist {name}",
           changes={"name": name, "description": template.description})
    return version


def update_template(template: ChecklistTemplate, name: str, description: str | None, *,
                    actor, now: dt.datetime) -> None:
    """Rename a template or change its description (not part of any version's content)."""
    name = clean_text(name)
    if not name:
        raise DomainError("Give the checklist a name.", field="name")
    if db.session.scalar(select(ChecklistTemplate.id).where(
            same_text(ChecklistTemplate.name, name),
            ChecklistTemplate.id != template.id)) is not None:
        raise DomainError(f"Another checklist is already called “{name}”.", field="name")
    changes = {}
    for attr, value in (("name", name), ("description", clean_text(description) or None)):
        if getattr(template, attr) != value:
            changes[attr] = [getattr(template, attr), value]
            setattr(template, attr, value)
    if changes:
        db.session.flush()
        record(template, "update", actor=actor, now=now, summary=f"Updated checklist {name}",
               changes=changes)


def start_draft(template: ChecklistTemplate, *, actor, now: dt.datetime) -> ChecklistTemplateVersion:
    """The template's draft: the existing one, or a new copy of its latest version.

    The copy keeps question keys, texts, flags and clause mappings; it is a separate set of
    rows, so published versions (and the audits using them) are never touched.
    """
    existing = draft_of(template)
    if existing is not None:
        return existing
    source = max(template.versions, key=lambda v: v.number, default=None)
    if source is not None:
        source = load_version(source.id)
    version = ChecklistTemplateVersion(template=template, number=next_version_number(template),
                                       status=VersionStatus.DRAFT, created_at=now,
                                       based_on_id=source.id if source else None)
    db.session.add(version)
    for section in source.sections if source else []:
        copy = ChecklistSection(title=section.title, position=section.position)
        for q in section.questions:
            new = ChecklistQuestion(position=q.position)
            for field in QUESTION_FIELDS:
                value = getattr(q, field)
                setattr(new, field, list(value) if isinstance(value, list) else value)
            new.clauses = list(q.clauses)
            copy.questions.append(new)
        version.sections.append(copy)
    db.session.flush()
    record(version, "create", actor=actor, now=now,
           summary=f"Started draft v{version.number} of {template.name}"
           + (f" from v{source.number}" if source else ""),
           changes={"based_on": source.number if source else None})
    return version


def publishing_problems(version: ChecklistTemplateVersion) -> list[str]:
    """Why ``version`` cannot be published yet (empty list: it can)."""
    problems = []
    questions = questions_of(version)
    if not questions:
        problems.append("The checklist has no questions.")
    for section in version.sections:
        if not section.questions:
            problems.append(f"Section “{section.title}” has no questions.")
    for q in questions:
        if not q.clauses:
            problems.append(f"Question “{q.key}” is not mapped to any clause.")
    flat = [{field: getattr(q, field) for field in QUESTION_FIELDS} for q in questions]
    for i, _field, msg in check_conditions(flat):
        problems.append(f"Question “{flat[i]['key']}”: {msg}.")
    return problems


def publish_version(version: ChecklistTemplateVersion, *, actor, now: dt.datetime,
                    change_note: str | None = None) -> ChecklistTemplateVersion:
    """Freeze a draft: it becomes the template's published version; the previous published
    version is retired (audits that use it keep it)."""
    ensure_draft(version, content=False)
    problems = publishing_problems(version)
    if problems:
        raise DomainError("Cannot publish: " + " ".join(problems))
    previous = [v for v in version.template.versions
                if v.status == VersionStatus.PUBLISHED and v.id != version.id]
    for old in previous:
        old.status = VersionStatus.RETIRED
        record(old, "retire", actor=actor, now=now,
               summary=f"Retired {old.label} (superseded by v{version.number})",
               changes={"status": ["published", "retired"]})
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    version.published_by_id = getattr(actor, "id", None)
    if clean_text(change_note):
        version.change_note = clean_text(change_note)
    db.session.flush()
    record(version, "publish", actor=actor, now=now, summary=f"Published {version.label}",
           changes={"status": ["draft", "published"], "change_note": version.change_note})
    return version


def discard_draft(version: ChecklistTemplateVersion, *, actor, now: dt.datetime) -> None:
    """Delete a draft version (a template's only version cannot be discarded)."""
    ensure_draft(version)
    template = version.template
    if len(template.versions) == 1:
        raise DomainError("This is the checklist's only version; there is nothing to go back to.")
    record(version, "delete", actor=actor, now=now,
           summary=f"Discarded draft {version.label}", changes={})
    template.versions.remove(version)
    db.session.delete(version)
    db.session.flush()
