"""The checklist of an audit as the screen shows it: questions, answers, carry-forward from the
previous audit, evidence, findings raised and progress, loaded in a fixed number of queries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import Integer, bindparam, inspect, select
from sqlalchemy.orm import selectinload

from audit.core.errors import DomainError
from audit.core.routing import MAX_DATABASE_INT
from audit.extensions import db
from audit.findings.queries import readable_findings
from audit.models import (
    Audit,
    AuditStatus,
    ChecklistAnswer,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplateVersion,
    Evidence,
    Finding,
    FindingStatus,
)
from audit.models.audit import audit_units
from audit.models.checklist import FROZEN_STATUSES


def answer_state(answer: ChecklistAnswer | None) -> str | None:
    """The answer as one string (verdict value or typed value): conditions compare against it."""
    if answer is None:
        return None
    if answer.verdict is not None:
        return answer.verdict.value
    return answer.value


def is_answered(answer: ChecklistAnswer | None) -> bool:
    """True when the answer holds a verdict or a value (a note alone is not an answer)."""
    return answer is not None and (answer.verdict is not None or bool(answer.value))



def get_question(audit: Audit, question_id: int) -> ChecklistQuestion:
    """A question of the audit's frozen checklist version, or DomainError."""
    if not isinstance(question_id, int) or not 0 < question_id <= MAX_DATABASE_INT:
        raise DomainError("That question is not part of this audit's checklist.", field="question_id")
    question = db.session.scalar(
        select(ChecklistQuestion)
        .join(ChecklistSection)
        .where(ChecklistQuestion.id == question_id,
               ChecklistSection.version_id == audit.checklist_version_id)
        .options(selectinload(ChecklistQuestion.clauses))
    )
    if question is None or audit.checklist_version_id is None:
        raise DomainError("That question is not part of this audit's checklist.", field="question_id")
    return question


@dataclass
class QuestionRow:
    """One question as the checklist screen shows it."""

    question: ChecklistQuestion
    answer: ChecklistAnswer | None
    previous: ChecklistAnswer | None
    evidence: list[Evidence] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    visible: bool = True

    @property
    def state(self) -> str | None:
        """The answer as one string (what conditions of later questions compare against)."""
        return answer_state(self.answer)

    @property
    def answered(self) -> bool:
        """True when the question holds a verdict or a value."""
        return is_answered(self.answer)

    @property
    def missing_evidence(self) -> str | None:
        """Why the answer is not complete yet, when the question demands evidence."""
        q = self.question
        if not self.answered or not self.visible:
            return None
        if q.photo_required and not any(e.is_image for e in self.evidence):
            return "a photo is required"
        if q.evidence_required and not self.evidence and not (self.answer and self.answer.note):
            return "evidence (a note or a file) is required"
        return None


@dataclass
class SectionRow:
    """One section of the checklist screen with its question rows."""

    section: ChecklistSection
    rows: list[QuestionRow]

    @property
    def total(self) -> int:
        """Questions shown (a question hidden by its condition does not count)."""
        return sum(1 for r in self.rows if r.visible)

    @property
    def done(self) -> int:
        """Questions shown and answered."""
        return sum(1 for r in self.rows if r.visible and r.answered)


@dataclass
class Checklist:
    """The whole checklist of an audit with answers, carry-forward and progress."""

    audit: Audit
    sections: list[SectionRow]
    previous_audit: Audit | None
    open_findings: list[Finding]
    #: References of the audit's findings still in draft (each one blocks the report's issue).
    drafts: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Questions shown in the whole checklist."""
        return sum(s.total for s in self.sections)

    @property
    def done(self) -> int:
        """Questions shown and answered in the whole checklist."""
        return sum(s.done for s in self.sections)

    @property
    def rows(self) -> list[QuestionRow]:
        """Every question row, in section order."""
        return [r for s in self.sections for r in s.rows]

    @property
    def incomplete(self) -> list[QuestionRow]:
        """Answered rows still missing the evidence their question demands."""
        return [r for r in self.rows if r.missing_evidence]


#: The checklist's statements, built once with parameters: building and keying them anew
#: cost about a millisecond of every checklist page (issue 16).
_AUDIT_ID = bindparam("audit_id", type_=Integer)
_UNIT_IDS = bindparam("unit_ids", type_=Integer, expanding=True)
_ANSWERS = (select(ChecklistAnswer).where(ChecklistAnswer.audit_id == _AUDIT_ID)
            .options(selectinload(ChecklistAnswer.answered_by)))
_EVIDENCE = select(Evidence).where(Evidence.audit_id == _AUDIT_ID).order_by(Evidence.id)
_FINDINGS = (select(Finding).where(Finding.audit_id == _AUDIT_ID).order_by(Finding.id)
             .options(selectinload(Finding.answer)))
_PREVIOUS_ANSWERS = (select(ChecklistAnswer, ChecklistQuestion.key)
                     .join(ChecklistQuestion, ChecklistQuestion.id == ChecklistAnswer.question_id)
                     .where(ChecklistAnswer.audit_id == _AUDIT_ID))
#: Open findings of the audit's units raised in other audits (the "open findings" panel): open
#: as the audit page and the findings list count it (issued to declined; no drafts), narrowed
#: to what the reader may open (``readable_findings``) when the page is built.
_OPEN_FINDINGS = (
    select(Finding)
    .where(Finding.unit_id.in_(_UNIT_IDS), Finding.audit_id != _AUDIT_ID,
           Finding.status.in_([s for s in FindingStatus if s.is_open]))
    .order_by(Finding.raised_at.desc())
    .options(selectinload(Finding.clauses))
)
#: The latest earlier audit of one of the units (``previous_audit_of``).
_PREVIOUS_AUDIT = (
    select(Audit)
    .join(audit_units, audit_units.c.audit_id == Audit.id)
    .where(audit_units.c.unit_id.in_(_UNIT_IDS), Audit.id != _AUDIT_ID,
           Audit.starts_at < bindparam("starts_at", type_=Audit.starts_at.type),
           Audit.status.not_in(AuditStatus.inactive()))
    .order_by(Audit.starts_at.desc())
    .limit(1)
)


def previous_audit_of(audit: Audit) -> Audit | None:
    """The latest earlier audit of one of the same units (carry-forward source)."""
    unit_ids = [u.id for u in audit.units]
    if not unit_ids or audit.starts_at is None:
        return None
    return db.session.scalar(_PREVIOUS_AUDIT, {"unit_ids": unit_ids, "audit_id": audit.id,
                                               "starts_at": audit.starts_at})


def _sections(version_id: int) -> list[ChecklistSection]:
    """The version's sections with their questions and the questions' clauses (ORM objects)."""
    return list(db.session.scalars(
        select(ChecklistSection)
        .where(ChecklistSection.version_id == version_id)
        .order_by(ChecklistSection.position)
        .options(selectinload(ChecklistSection.questions).selectinload(ChecklistQuestion.clauses))
    ))


def _copy(obj, **relations) -> SimpleNamespace:
    """A read-only copy of a row's columns (and the given related copies), free of any session."""
    values = {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}
    return SimpleNamespace(**values, **relations)


#: Published versions a worker keeps (least recently shown forgotten first).
FROZEN_VERSIONS_KEPT = 64
_FROZEN_LOCK = threading.Lock()


def _kept() -> OrderedDict:
    # Per application, not per module: a test's fresh database reuses ids from 1.
    return current_app.extensions.setdefault("audit.frozen_checklists", OrderedDict())


def frozen_sections(version_id: int) -> tuple:
    """The sections (with questions and clauses) of a published or retired version as
    session-free copies, kept by each worker: that content never changes (the models refuse
    it, ``checklist._refuse_changes_to_frozen_versions``), and loading its ~170 rows was half
    of every checklist page (issue 16). A draft version is loaded each time, as ORM objects.

    The copies carry every column of a section, question and clause, and ``questions`` /
    ``clauses``; no other relationship. The tablet page uses them; the report keeps the ORM
    objects (its coverage reaches a clause's standard). Versions are kept by id, which a
    published version keeps for good (the models refuse to delete it); a database restored
    from a backup under running workers wants the workers restarted.
    """
    with _FROZEN_LOCK:
        cached = _kept().get(version_id)
        if cached is not None:
            _kept().move_to_end(version_id)
            return cached
    status = db.session.scalar(select(ChecklistTemplateVersion.status)
                               .where(ChecklistTemplateVersion.id == version_id))
    sections = _sections(version_id)
    if status not in FROZEN_STATUSES:
        return tuple(sections)
    copies = tuple(
        _copy(section, questions=[_copy(q, clauses=[_copy(c) for c in q.clauses]) for q in section.questions])
        for section in sections)
    with _FROZEN_LOCK:
        kept = _kept()
        kept[version_id] = copies
        while len(kept) > FROZEN_VERSIONS_KEPT:
            kept.popitem(last=False)
    return copies


def build_checklist(audit: Audit, *, structure=None, reader=None) -> Checklist:
    """Everything the checklist screen shows, in a fixed number of queries.

    ``structure(version_id)`` gives the version's sections (default: loaded as ORM objects;
    the tablet page passes ``frozen_sections``). The rules -- answers, visibility, evidence,
    progress -- are the same whatever the sections are. The units' open findings from other
    audits are read only for a ``reader`` (the page's user), and only those they may open.
    """
    params = {"audit_id": audit.id}
    if audit.checklist_version_id is None:
        return Checklist(audit, [], None, [], [f.reference for f in db.session.scalars(_FINDINGS, params)
                                               if f.status is FindingStatus.DRAFT])
    sections = (structure or _sections)(audit.checklist_version_id)
    answers = {a.question_id: a for a in db.session.scalars(_ANSWERS, params)}
    evidence: dict[int, list[Evidence]] = {}
    for ev in db.session.scalars(_EVIDENCE, params):
        evidence.setdefault(ev.question_id, []).append(ev)
    findings: dict[int, list[Finding]] = {}
    drafts = []
    for f in db.session.scalars(_FINDINGS, params):
        if f.answer is not None:
            findings.setdefault(f.answer.question_id, []).append(f)
        if f.status is FindingStatus.DRAFT:
            drafts.append(f.reference)

    previous = previous_audit_of(audit)
    previous_by_key: dict[str, ChecklistAnswer] = {}
    if previous is not None:
        # The question's key only, not the earlier version's question objects.
        for ans, key in db.session.execute(_PREVIOUS_ANSWERS, {"audit_id": previous.id}):
            previous_by_key[key] = ans

    unit_ids = [u.id for u in audit.units]
    open_findings: list[Finding] = []
    if unit_ids and reader is not None:
        open_findings = list(db.session.scalars(_OPEN_FINDINGS.where(readable_findings(reader)),
                                                {"unit_ids": unit_ids, "audit_id": audit.id}))

    states: dict[str, str | None] = {}
    result = []
    for section in sections:
        rows = []
        for q in section.questions:
            answer = answers.get(q.id)
            states[q.key] = answer_state(answer)
            rows.append(QuestionRow(q, answer, previous_by_key.get(q.key),
                                    evidence.get(q.id, []), findings.get(q.id, [])))
        result.append(SectionRow(section, rows))
    for row in (r for s in result for r in s.rows):
        q = row.question
        if q.condition_key:
            row.visible = states.get(q.condition_key) == q.condition_value
    return Checklist(audit, result, previous, open_findings, drafts)


