"""Editing a draft checklist: its sections and questions, their order, clauses and conditions.

Every service here calls ``ensure_draft`` first: only a draft no audit uses may change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.errors import DomainError
from audit.extensions import db
from audit.library.checklists.validation import (
    QUESTION_FIELDS,
    allowed_answers,
    clean_question,
    clean_text,
)
from audit.library.checklists.versions import ensure_draft, questions_of
from audit.library.services import clause_ref, equivalent_clauses
from audit.models import ChecklistQuestion, ChecklistSection, ChecklistTemplateVersion, Clause, ClauseTopic
from audit.trail.services import record, to_jsonable


def new_question(values: dict, position: int) -> ChecklistQuestion:
    """A question row from cleaned values (see ``validation.clean_question``)."""
    q = ChecklistQuestion(position=position)
    for field in QUESTION_FIELDS:
        setattr(q, field, values[field])
    q.clauses = list(values["clauses"])
    return q


# --- editing a draft --------------------------------------------------------------------------


def add_section(version: ChecklistTemplateVersion, title: str, *, actor,
                now: dt.datetime) -> ChecklistSection:
    """Append a section to a draft."""
    ensure_draft(version)
    title = clean_text(title)
    if not title:
        raise DomainError("Give the section a title.", field="title")
    section = ChecklistSection(title=title[:200],
                               position=len(version.sections))
    version.sections.append(section)
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Added section “{title}”",
           changes={"section": title})
    return section


def update_section(section: ChecklistSection, title: str, *, actor, now: dt.datetime) -> None:
    """Rename a section of a draft."""
    ensure_draft(section.version)
    title = clean_text(title)
    if not title:
        raise DomainError("Give the section a title.", field="title")
    if title != section.title:
        record(section.version, "update", actor=actor, now=now,
               summary=f"Renamed section “{section.title}” to “{title}”",
               changes={"section": [section.title, title]})
        section.title = title[:200]
        db.session.flush()


def delete_section(section: ChecklistSection, *, actor, now: dt.datetime) -> None:
    """Remove a section and its questions from a draft."""
    version = section.version
    ensure_draft(version)
    _refuse_if_conditioned_on(version, {q.key for q in section.questions})
    record(version, "update", actor=actor, now=now, summary=f"Removed section “{section.title}”",
           changes={"section": section.title, "questions": len(section.questions)})
    version.sections.remove(section)
    db.session.delete(section)
    _renumber(version.sections)
    db.session.flush()


def move_section(section: ChecklistSection, offset: int, *, actor, now: dt.datetime) -> None:
    """Move a section up (-1) or down (+1) within its draft."""
    version = section.version
    ensure_draft(version)
    sections = list(version.sections)
    i = sections.index(section)
    j = max(0, min(len(sections) - 1, i + offset))
    if i == j:
        return
    sections.insert(j, sections.pop(i))
    _renumber(sections)
    version.sections[:] = sections
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Moved section “{section.title}”",
           changes={"position": [i + 1, j + 1]})


def _renumber(items) -> None:
    for position, item in enumerate(items):
        item.position = position


def _refuse_if_conditioned_on(version: ChecklistTemplateVersion, keys: set[str],
                              ignore: ChecklistQuestion | None = None) -> None:
    for q in questions_of(version):
        if q.condition_key in keys and q is not ignore and q.key not in keys:
            raise DomainError(f"Question “{q.key}” is shown only depending on “{q.condition_key}”;"
                              " change that condition first.")


def _resolve_clauses(values: dict) -> list[Clause]:
    """The clauses chosen by id, plus their equivalents when ``include_equivalents`` is set."""
    ids = list(dict.fromkeys(int(i) for i in values.get("clause_ids") or []))
    if not ids:
        return []
    found = {c.id: c for c in db.session.scalars(
        select(Clause).where(Clause.id.in_(ids))
        .options(joinedload(Clause.standard),
                 selectinload(Clause.topics).selectinload(ClauseTopic.clauses)))}
    if any(i not in found for i in ids):
        raise DomainError("Some chosen clauses do not exist (any more).", field="clause_ids")
    clauses = [found[i] for i in ids]
    if values.get("include_equivalents"):
        for clause in list(clauses):
            clauses.extend(c for c in equivalent_clauses(clause) if c not in clauses)
    return sorted(clauses, key=lambda c: (c.standard.code, c.standard.edition, c.position))


def _validate_in_version(version, values: dict, current: ChecklistQuestion | None) -> None:
    others = [q for q in questions_of(version) if q is not current]
    if any(q.key == values["key"] for q in others):
        raise DomainError(f"Key “{values['key']}” is already used in this checklist.", field="key")
    if values["condition_key"]:
        target = next((q for q in others if q.key == values["condition_key"]), None)
        if target is None:
            raise DomainError(f"No question with key “{values['condition_key']}” in this "
                              "checklist.", field="condition_key")
        allowed = allowed_answers(target)
        if allowed is not None and values["condition_value"] not in allowed:
            raise DomainError(f"“{values['condition_value']}” is not a possible answer of "
                              f"“{target.key}” ({', '.join(allowed)}).", field="condition_value")


def add_question(section: ChecklistSection, values: dict, *, actor,
                 now: dt.datetime) -> ChecklistQuestion:
    """Append a question to a draft section.

    ``values`` holds the QUESTION_FIELDS (strings as a form sends them are fine) plus
    ``clause_ids``; problems raise DomainError naming the field.
    """
    version = section.version
    ensure_draft(version)
    clean, problems = clean_question(values, clauses=_resolve_clauses(values))
    if problems:
        field, message = problems[0]
        raise DomainError(message[0].upper() + message[1:] + ".", field=field)
    _validate_in_version(version, clean, None)
    question = new_question(clean, len(section.questions))
    section.questions.append(question)
    db.session.flush()
    record(question, "create", actor=actor, now=now,
           summary=f"Added question {clean['key']} to {version.label}",
           changes=_question_snapshot(question))
    return question


def _question_snapshot(q: ChecklistQuestion) -> dict:
    data = {field: to_jsonable(getattr(q, field)) for field in QUESTION_FIELDS}
    data["clauses"] = [clause_ref(c) for c in q.clauses]
    return data


def update_question(question: ChecklistQuestion, values: dict, *, actor,
                    now: dt.datetime) -> None:
    """Change a question of a draft (same rules as ``add_question``)."""
    version = question.section.version
    ensure_draft(version)
    clean, problems = clean_question(values, clauses=_resolve_clauses(values))
    if problems:
        field, message = problems[0]
        raise DomainError(message[0].upper() + message[1:] + ".", field=field)
    _validate_in_version(version, clean, question)
    if clean["key"] != question.key:
        _refuse_if_conditioned_on(version, {question.key}, ignore=question)
    before = _question_snapshot(question)
    for field in QUESTION_FIELDS:
        setattr(question, field, clean[field])
    question.clauses = list(clean["clauses"])
    db.session.flush()
    after = _question_snapshot(question)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        record(question, "update", actor=actor, now=now,
               summary=f"Changed question {question.key} in {version.label}", changes=changes)


def delete_question(question: ChecklistQuestion, *, actor, now: dt.datetime) -> None:
    """Remove a question from a draft (refused while another question depends on it)."""
    section = question.section
    ensure_draft(section.version)
    _refuse_if_conditioned_on(section.version, {question.key})
    record(section.version, "update", actor=actor, now=now,
           summary=f"Removed question {question.key}", changes={"question": question.key})
    section.questions.remove(question)
    db.session.delete(question)
    _renumber(section.questions)
    db.session.flush()


def move_question(question: ChecklistQuestion, offset: int, *, actor, now: dt.datetime) -> None:
    """Move a question up (-1) or down (+1); past the edge of its section it moves into the
    neighbouring section (to its end when moving up, to its start when moving down)."""
    section = question.section
    version = section.version
    ensure_draft(version)
    questions = list(section.questions)
    i = questions.index(question)
    j = i + offset
    if 0 <= j < len(questions):
        questions.insert(j, questions.pop(i))
        section.questions[:] = questions
        _renumber(section.questions)
        where = f"position {j + 1}"
    else:
        sections = list(version.sections)
        k = sections.index(section) + (1 if offset > 0 else -1)
        if not 0 <= k < len(sections):
            return
        target = sections[k]
        section.questions.remove(question)
        if offset > 0:
            target.questions.insert(0, question)
        else:
            target.questions.append(question)
        _renumber(section.questions)
        _renumber(target.questions)
        where = f"section “{target.title}”"
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Moved question {question.key} to {where}",
           changes={"question": question.key})
