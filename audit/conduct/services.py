"""Conducting an audit: who may see and answer, answers with version checks, evidence files,
findings raised from answers, and the closing report that freezes the audit.

Every write checks the object-level rule (only the audit team's auditing members answer) and the
freeze (nothing changes once the report is issued), records a trail entry, flushes and never
commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.core.errors import DomainError, NotAllowed, StaleObject
from audit.core.routing import MAX_DATABASE_INT
from audit.extensions import db
from audit.models import (
    AnswerType,
    AppliedMutation,
    Audit,
    AuditReport,
    AuditStatus,
    ChecklistAnswer,
    ChecklistQuestion,
    ChecklistSection,
    Evidence,
    Finding,
    FindingStatus,
    Grade,
    TeamRole,
    Verdict,
)
from audit.storage import EXTENSIONS, get_storage, new_key, sniff_content_type
from audit.storage.images import thumbnail_jpeg
from audit.trail.services import apply_changes, record, snapshot

#: Evidence types accepted (by content). Photos from tablets are JPEG; screenshots PNG.
ALLOWED_EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
THUMBNAIL_SIZE = (320, 320)

#: Verdict of an answer → grade proposed when a finding is raised from it.
GRADE_FOR_VERDICT = {
    Verdict.MAJOR_NC: Grade.MAJOR,
    Verdict.MINOR_NC: Grade.MINOR,
    Verdict.OBSERVATION: Grade.OBSERVATION,
    Verdict.OFI: Grade.OFI,
    Verdict.CONFORMING: Grade.GOOD_PRACTICE,
}

SAMPLING_STATEMENT = (
    "Audits are based on samples of the available information; nonconformities may exist "
    "that were not found."
)


class AuditFrozen(DomainError):
    """The audit's report is issued: its records are frozen."""


class AnswerConflict(StaleObject):
    """Someone else saved a different answer since the client's base version."""

    def __init__(self, current: dict):
        super().__init__("Someone else changed this answer meanwhile: choose which one to keep.")
        self.current = current


# --- who may do what -------------------------------------------------------------------------


def team_role(audit: Audit, user) -> TeamRole | None:
    """The role of ``user`` in ``audit``'s team, or None."""
    uid = getattr(user, "id", None)
    for member in audit.team:
        if member.user_id == uid:
            return member.role
    return None


def is_auditee(audit: Audit, user) -> bool:
    """True when ``user`` owns or belongs to an audited unit, or leads a session as contact."""
    uid = getattr(user, "id", None)
    return any(u.owner_id == uid or any(m.id == uid for m in u.members) for u in audit.units)


def can_answer(audit: Audit, user) -> bool:
    """Only the audit team's auditing members (lead, auditor, trainee) answer its checklist."""
    role = team_role(audit, user)
    if role is None or not role.is_auditing:
        return False
    return Permission.CONDUCT_AUDIT in permissions_for(user.roles)


def can_view(audit: Audit, user) -> bool:
    """Team members, the auditees of the audited units, coordinators and report readers."""
    held = permissions_for(user.roles)
    if Permission.VIEW_ORGANISATION not in held:
        return False
    if team_role(audit, user) is not None or is_auditee(audit, user):
        return True
    return bool({Permission.MANAGE_PROGRAMME, Permission.VIEW_REPORTS} & held)


def require_answerer(audit: Audit, user) -> None:
    """Raise NotAllowed unless ``user`` may answer, AuditFrozen once the report is issued."""
    if not can_answer(audit, user):
        raise NotAllowed("Only the audit team's auditors can change this audit's checklist.")
    require_not_frozen(audit)


def is_frozen(audit: Audit) -> bool:
    """The audit's records no longer change: report issued, or the audit cancelled or postponed."""
    return audit.report_issued_at is not None or audit.status in (AuditStatus.CANCELLED, AuditStatus.POSTPONED)


def can_edit_records(audit: Audit, user) -> bool:
    """``user`` may change the checklist and evidence now (pages show controls only then)."""
    return can_answer(audit, user) and not is_frozen(audit)


def require_not_frozen(audit: Audit) -> None:
    """Raise AuditFrozen once the report is issued (or the audit was cancelled or postponed)."""
    if audit.report_issued_at is not None:
        raise AuditFrozen("The report of this audit is issued: its records can no longer change.")
    if audit.status in (AuditStatus.CANCELLED, AuditStatus.POSTPONED):
        raise AuditFrozen(f"This audit is {audit.status.label.lower()}: its checklist cannot change.")


# --- loading ---------------------------------------------------------------------------------


def load_audit(audit_id: int) -> Audit | None:
    """The audit with team, units (and their people) and site loaded for permission checks."""
    from audit.models import Unit

    stmt = (
        select(Audit)
        .where(Audit.id == audit_id)
        .options(
            selectinload(Audit.team),
            selectinload(Audit.units).selectinload(Unit.members),
            selectinload(Audit.site),
        )
    )
    return db.session.scalar(stmt)


def answer_state(answer: ChecklistAnswer | None) -> str | None:
    """The answer as one string (verdict value or typed value): conditions compare against it."""
    if answer is None:
        return None
    if answer.verdict is not None:
        return answer.verdict.value
    return answer.value


def is_answered(answer: ChecklistAnswer | None) -> bool:
    return answer is not None and (answer.verdict is not None or bool(answer.value))


def answer_payload(answer: ChecklistAnswer | None, question_id: int | None = None) -> dict:
    """The JSON form of an answer as the API returns it (version 0 = never answered)."""
    if answer is None:
        return {"question_id": question_id, "verdict": None, "value": None, "note": None,
                "version": 0, "answered_by": None, "answered_at": None}
    return {
        "question_id": answer.question_id,
        "verdict": answer.verdict.value if answer.verdict else None,
        "value": answer.value,
        "note": answer.note,
        "version": answer.version,
        "answered_by": answer.answered_by.name if answer.answered_by else None,
        "answered_at": answer.answered_at.isoformat() if answer.answered_at else None,
    }


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
        return answer_state(self.answer)

    @property
    def answered(self) -> bool:
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
    section: ChecklistSection
    rows: list[QuestionRow]

    @property
    def total(self) -> int:
        return sum(1 for r in self.rows if r.visible)

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.visible and r.answered)


@dataclass
class Checklist:
    """The whole checklist of an audit with answers, carry-forward and progress."""

    audit: Audit
    sections: list[SectionRow]
    previous_audit: Audit | None
    open_findings: list[Finding]

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def done(self) -> int:
        return sum(s.done for s in self.sections)

    @property
    def rows(self) -> list[QuestionRow]:
        return [r for s in self.sections for r in s.rows]

    @property
    def incomplete(self) -> list[QuestionRow]:
        return [r for r in self.rows if r.missing_evidence]


def previous_audit_of(audit: Audit) -> Audit | None:
    """The latest earlier audit of one of the same units (carry-forward source)."""
    from audit.models.audit import audit_units

    unit_ids = [u.id for u in audit.units]
    if not unit_ids or audit.starts_at is None:
        return None
    stmt = (
        select(Audit)
        .join(audit_units, audit_units.c.audit_id == Audit.id)
        .where(audit_units.c.unit_id.in_(unit_ids), Audit.id != audit.id,
               Audit.starts_at < audit.starts_at,
               Audit.status.not_in([AuditStatus.CANCELLED, AuditStatus.POSTPONED]))
        .order_by(Audit.starts_at.desc())
        .limit(1)
    )
    return db.session.scalar(stmt)


def build_checklist(audit: Audit) -> Checklist:
    """Everything the checklist screen shows, in a fixed number of queries."""
    if audit.checklist_version_id is None:
        return Checklist(audit, [], None, [])
    sections = list(db.session.scalars(
        select(ChecklistSection)
        .where(ChecklistSection.version_id == audit.checklist_version_id)
        .order_by(ChecklistSection.position)
        .options(selectinload(ChecklistSection.questions).selectinload(ChecklistQuestion.clauses))
    ))
    answers = {a.question_id: a for a in db.session.scalars(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id)
        .options(selectinload(ChecklistAnswer.answered_by))
    )}
    evidence: dict[int, list[Evidence]] = {}
    for ev in db.session.scalars(
        select(Evidence).where(Evidence.audit_id == audit.id).order_by(Evidence.id)
    ):
        evidence.setdefault(ev.question_id, []).append(ev)
    findings: dict[int, list[Finding]] = {}
    for f in db.session.scalars(
        select(Finding).where(Finding.audit_id == audit.id).order_by(Finding.id)
        .options(selectinload(Finding.answer))
    ):
        if f.answer is not None:
            findings.setdefault(f.answer.question_id, []).append(f)

    previous = previous_audit_of(audit)
    previous_by_key: dict[str, ChecklistAnswer] = {}
    if previous is not None:
        for ans in db.session.scalars(
            select(ChecklistAnswer).where(ChecklistAnswer.audit_id == previous.id)
            .options(selectinload(ChecklistAnswer.question))
        ):
            previous_by_key[ans.question.key] = ans

    unit_ids = [u.id for u in audit.units]
    open_findings: list[Finding] = []
    if unit_ids:
        open_findings = list(db.session.scalars(
            select(Finding)
            .where(Finding.unit_id.in_(unit_ids), Finding.audit_id != audit.id,
                   Finding.status.not_in([FindingStatus.CLOSED, FindingStatus.DECLINED,
                                          FindingStatus.ACCEPTED]))
            .order_by(Finding.raised_at.desc())
            .options(selectinload(Finding.clauses))
        ))

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
    return Checklist(audit, result, previous, open_findings)


# --- answers ---------------------------------------------------------------------------------


def _clean_value(question: ChecklistQuestion, verdict: str | None, value) -> tuple[Verdict | None, str | None]:
    """Validate the submitted answer against the question's type; return (verdict, value)."""
    if question.answer_type is AnswerType.VERDICT:
        if value not in (None, ""):
            raise DomainError("This question takes a verdict, not a value.", field="value")
        if verdict in (None, ""):
            return None, None
        try:
            return Verdict(verdict), None
        except ValueError:
            raise DomainError(
                f"Unknown verdict “{verdict}”: use one of "
                + ", ".join(v.value for v in Verdict) + ".", field="verdict") from None
    if verdict not in (None, ""):
        raise DomainError("This question takes a value, not a verdict.", field="verdict")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    text = str(value).strip()
    kind = question.answer_type
    if kind is AnswerType.YES_NO:
        if text not in ("yes", "no"):
            raise DomainError("Answer yes or no.", field="value")
    elif kind is AnswerType.NUMBER:
        try:
            number = float(text)
        except ValueError:
            raise DomainError("Enter a number.", field="value") from None
        if question.min_value is not None and number < question.min_value:
            raise DomainError(f"The value must be at least {question.min_value:g}.", field="value")
        if question.max_value is not None and number > question.max_value:
            raise DomainError(f"The value must be at most {question.max_value:g}.", field="value")
    elif kind is AnswerType.DATE:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise DomainError("Enter a date as YYYY-MM-DD.", field="value") from None
    elif kind is AnswerType.CHOICE:
        if text not in (question.choices or []):
            raise DomainError("Choose one of the offered answers.", field="value")
    elif len(text) > 5000:
        raise DomainError("Keep the answer under 5000 characters.", field="value")
    return None, text


def _replayed(mutation_id: str | None, audit: Audit, kind: str) -> dict | None:
    if not mutation_id:
        return None
    done = db.session.scalar(select(AppliedMutation).where(AppliedMutation.mutation_id == mutation_id))
    if done is None:
        return None
    if done.audit_id != audit.id or done.kind != kind:
        raise DomainError("This mutation id was already used for something else.", field="mutation_id")
    return done.result


def _remember(mutation_id: str | None, audit: Audit, kind: str, result: dict, *, actor, now) -> None:
    if mutation_id:
        db.session.add(AppliedMutation(mutation_id=mutation_id, audit_id=audit.id, kind=kind,
                                       user_id=getattr(actor, "id", None), result=result,
                                       applied_at=now))
        db.session.flush()


def _check_mutation_id(mutation_id: str | None) -> None:
    if mutation_id is not None and not (1 <= len(mutation_id) <= 64):
        raise DomainError("A mutation id has 1 to 64 characters.", field="mutation_id")


@dataclass
class SaveResult:
    payload: dict
    replayed: bool


def save_answer(
    audit: Audit,
    question: ChecklistQuestion,
    *,
    verdict: str | None = None,
    value=None,
    note: str | None = None,
    base_version: int,
    mutation_id: str | None = None,
    actor,
    now: dt.datetime,
) -> SaveResult:
    """Save one answer, detecting conflicting edits.

    ``base_version`` is the version the client last saw (0 = no answer yet). A stale base with a
    different content raises AnswerConflict carrying the server's answer; a stale base with the
    same content is a harmless no-op. A ``mutation_id`` already applied returns the original
    result without applying anything again (offline replays).
    """
    _check_mutation_id(mutation_id)
    previous = _replayed(mutation_id, audit, "answer")
    if previous is not None:
        return SaveResult(previous, True)
    require_answerer(audit, actor)
    # JSON clients can send any type; only text (and numbers/booleans for values) make sense.
    if verdict is not None and not isinstance(verdict, str):
        raise DomainError("The verdict must be text, e.g. “conforming”.", field="verdict")
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise DomainError("The value must be text or a number.", field="value")
    if note is not None and not isinstance(note, str):
        raise DomainError("The note must be text.", field="note")
    verdict_obj, clean = _clean_value(question, verdict, value)
    note = (note or "").strip() or None
    if note and len(note) > 5000:
        raise DomainError("Keep the note under 5000 characters.", field="note")

    answer = db.session.scalar(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id,
                                      ChecklistAnswer.question_id == question.id)
    )
    current_version = answer.version if answer is not None else 0
    same = (answer is not None and answer.verdict == verdict_obj and answer.value == clean
            and answer.note == note) or (answer is None and verdict_obj is None and clean is None
                                         and note is None)
    if base_version != current_version and not same:
        raise AnswerConflict(answer_payload(answer, question.id))
    if not same:
        values = {"verdict": verdict_obj, "value": clean, "note": note}
        if answer is None:
            answer = ChecklistAnswer(audit_id=audit.id, question_id=question.id, version=1,
                                     answered_by_id=actor.id, answered_at=now, **values)
            try:
                with db.session.begin_nested():
                    db.session.add(answer)
            except IntegrityError:
                # Another auditor created this answer a moment ago: that is a conflict.
                answer = db.session.scalar(
                    select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id,
                                                  ChecklistAnswer.question_id == question.id))
                raise AnswerConflict(answer_payload(answer, question.id)) from None
            record(answer, "create", actor=actor, now=now,
                   summary=f"Answered {question.key} in {audit.reference}", changes=snapshot(values))
        else:
            changes = apply_changes(answer, values)
            answer.version = current_version + 1
            answer.answered_by_id = actor.id
            answer.answered_at = now
            db.session.flush()
            record(answer, "update", actor=actor, now=now,
                   summary=f"Changed answer {question.key} in {audit.reference}", changes=changes)
        db.session.flush()
        if audit.status in (AuditStatus.PLAN_ISSUED, AuditStatus.SCHEDULED):
            start_fieldwork(audit, actor=actor, now=now)
    payload = answer_payload(answer, question.id)
    _remember(mutation_id, audit, "answer", payload, actor=actor, now=now)
    return SaveResult(payload, False)


def _advance(audit: Audit, target: AuditStatus, *, actor, now: dt.datetime) -> bool:
    """Move the audit to ``target`` through the audit life-cycle service when its rules allow."""
    from audit.audits.services import change_status
    from audit.audits.workflow import can_move

    if not can_move(audit, target):
        return False
    try:
        with db.session.begin_nested():
            change_status(audit, target, actor=actor, now=now)
    except DomainError:
        return False  # e.g. no dates yet: the answer still counts, the status stays
    return True


def start_fieldwork(audit: Audit, *, actor, now: dt.datetime) -> None:
    """The first answer puts a scheduled audit in progress (when the life cycle allows it)."""
    _advance(audit, AuditStatus.IN_PROGRESS, actor=actor, now=now)


# --- evidence --------------------------------------------------------------------------------


def evidence_payload(ev: Evidence) -> dict:
    return {
        "id": ev.id, "client_id": ev.client_id, "question_id": ev.question_id,
        "content_type": ev.content_type, "size": ev.size, "caption": ev.caption,
        "taken_at": ev.taken_at.isoformat() if ev.taken_at else None,
        "uploaded_at": ev.uploaded_at.isoformat(),
        "thumbnail": ev.thumbnail_key is not None,
    }


def _thumbnail(data: bytes) -> bytes:
    return thumbnail_jpeg(data, THUMBNAIL_SIZE)


def add_evidence(
    audit: Audit,
    *,
    data: bytes,
    filename: str | None,
    question: ChecklistQuestion | None = None,
    client_id: str | None = None,
    taken_at: dt.datetime | None = None,
    caption: str | None = None,
    max_bytes: int,
    actor,
    now: dt.datetime,
) -> tuple[Evidence, bool]:
    """Store an evidence file (checked by content and size) with a thumbnail for photos.

    Returns ``(evidence, replayed)``: an already stored ``client_id`` returns that evidence.
    """
    _check_mutation_id(client_id)
    if client_id:
        existing = db.session.scalar(select(Evidence).where(Evidence.client_id == client_id))
        if existing is not None:
            if existing.audit_id != audit.id:
                raise DomainError("This evidence id belongs to another audit.", field="client_id")
            return existing, True
    require_answerer(audit, actor)
    if not data:
        raise DomainError("The file is empty.", field="file")
    if len(data) > max_bytes:
        raise DomainError(f"The file is too large ({len(data) / 1_048_576:.1f} MB): "
                          f"the limit is {max_bytes / 1_048_576:.0f} MB.", field="file")
    ctype = sniff_content_type(data)
    if ctype not in ALLOWED_EVIDENCE_TYPES:
        raise DomainError("Only photos (JPEG, PNG, WebP) and PDF documents can be attached; "
                          "this file is none of them.", field="file")
    if taken_at is not None and taken_at > now + dt.timedelta(minutes=5):
        raise DomainError("The evidence date lies in the future.", field="taken_at")
    thumb = _thumbnail(data) if ctype.startswith("image/") else None
    storage = get_storage()
    key = new_key(f"evidence/{audit.id}", EXTENSIONS[ctype])
    storage.put(key, data)
    thumb_key = None
    if thumb is not None:
        thumb_key = key.rsplit(".", 1)[0] + "-thumb.jpg"
        storage.put(thumb_key, thumb)
    ev = Evidence(
        client_id=client_id or None, audit_id=audit.id,
        question_id=question.id if question is not None else None,
        storage_key=key, thumbnail_key=thumb_key, content_type=ctype, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=(filename or "")[:255] or None, caption=(caption or "").strip()[:255] or None,
        taken_at=taken_at or now, uploaded_at=now, uploaded_by_id=actor.id,
    )
    db.session.add(ev)
    db.session.flush()
    record(ev, "create", actor=actor, now=now,
           summary=f"Attached evidence to {audit.reference}",
           changes=snapshot({"question_id": ev.question_id, "content_type": ctype,
                             "size": len(data), "sha256": ev.sha256}))
    return ev, False


# --- findings --------------------------------------------------------------------------------


def raise_finding_from_answer(
    audit: Audit,
    question: ChecklistQuestion,
    *,
    grade: Grade,
    statement: str,
    evidence: str | None,
    actor,
    now: dt.datetime,
) -> Finding:
    """Raise a finding from a checklist answer: clauses, answer and evidence files come along."""
    from audit.findings.services import raise_finding

    require_answerer(audit, actor)
    answer = db.session.scalar(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id,
                                      ChecklistAnswer.question_id == question.id))
    finding = raise_finding(audit, grade=grade, statement=statement, evidence=evidence,
                            clauses=list(question.clauses), answer=answer, actor=actor, now=now)
    files = db.session.scalars(
        select(Evidence).where(Evidence.audit_id == audit.id, Evidence.question_id == question.id,
                               Evidence.finding_id.is_(None))).all()
    for ev in files:
        ev.finding_id = finding.id
        record(ev, "update", actor=actor, now=now, summary=f"Evidence cited by {finding.reference}",
               changes={"finding_id": [None, finding.id]})
    db.session.flush()
    return finding


def finding_defaults(audit: Audit, question: ChecklistQuestion) -> dict:
    """Pre-filled values for the raise-finding form: grade from the verdict, note as evidence."""
    answer = db.session.scalar(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id,
                                      ChecklistAnswer.question_id == question.id))
    grade = GRADE_FOR_VERDICT.get(answer.verdict) if answer and answer.verdict else None
    return {"grade": (grade or Grade.MINOR).value, "evidence": answer.note if answer else "",
            "statement": ""}


# --- the report ------------------------------------------------------------------------------

REPORT_FIELDS = ("conclusions", "fulfilment", "positive_findings", "areas_not_covered",
                 "diverging_opinions", "follow_up")


def default_report_due_on(audit: Audit, days: int) -> dt.date | None:
    """The audit's last day (in its site's zone) plus ``days``."""
    if audit.ends_at is None:
        return None
    local_end = audit.ends_at.astimezone(zoneinfo.ZoneInfo(audit.timezone)).date()
    return local_end + dt.timedelta(days=days)


def ensure_report_due_on(audit: Audit, *, days: int, actor, now: dt.datetime) -> None:
    """Set ``report_due_on`` to its default if nobody set it (feeds the report reminders)."""
    if audit.report_due_on is None:
        due = default_report_due_on(audit, days)
        if due is not None:
            audit.report_due_on = due
            db.session.flush()
            record(audit, "update", actor=actor, now=now, summary=f"Report of {audit.reference} due",
                   changes={"report_due_on": [None, due.isoformat()]})


def get_report(audit: Audit) -> AuditReport | None:
    return db.session.scalar(select(AuditReport).where(AuditReport.audit_id == audit.id))


def _require_lead(audit: Audit, actor, what: str) -> None:
    if team_role(audit, actor) is not TeamRole.LEAD or not can_answer(audit, actor):
        raise NotAllowed(f"Only the lead auditor can {what}.")


def save_report(audit: Audit, data: dict, *, actor, now: dt.datetime) -> AuditReport:
    """Write the closing record (conclusions, positive findings, areas not covered ...).

    A change after the lead's sign-off withdraws the sign-off: the lead signs what is issued.
    """
    require_answerer(audit, actor)
    values = {k: ((data.get(k) or "").strip() or None) for k in REPORT_FIELDS}
    report = get_report(audit)
    if report is None:
        report = AuditReport(audit_id=audit.id, sampling_statement=SAMPLING_STATEMENT,
                             updated_at=now, **values)
        db.session.add(report)
        db.session.flush()
        record(report, "create", actor=actor, now=now,
               summary=f"Started the report of {audit.reference}", changes=snapshot(values))
        return report
    changes = apply_changes(report, values)
    if changes:
        if report.signed_at is not None:
            changes["signed_at"] = [report.signed_at.isoformat(), None]
            report.signed_at = None
            report.signed_by_id = None
        report.updated_at = now
        db.session.flush()
        record(report, "update", actor=actor, now=now,
               summary=f"Edited the report of {audit.reference}", changes=changes)
    return report


def report_blockers(audit: Audit, report: AuditReport | None, checklist: Checklist) -> list[str]:
    """What still prevents issuing the report (empty when it can be issued)."""
    problems = []
    if report is None or not report.conclusions:
        problems.append("Write the audit conclusions.")
    if report is None or not report.fulfilment:
        problems.append("State the degree of fulfilment of the audit criteria.")
    for row in checklist.incomplete:
        problems.append(f"Question {row.question.key}: {row.missing_evidence}.")
    if report is None or report.signed_at is None:
        problems.append("The lead auditor has not signed the report.")
    return problems


def sign_report(audit: Audit, *, actor, now: dt.datetime) -> AuditReport:
    """The lead auditor signs the report as it stands."""
    require_not_frozen(audit)
    _require_lead(audit, actor, "sign the report")
    report = get_report(audit)
    if report is None or not report.conclusions:
        raise DomainError("Write the conclusions before signing.", field="conclusions")
    report.signed_by_id = actor.id
    report.signed_at = now
    report.updated_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now, summary=f"Lead signed the report of {audit.reference}",
           changes={"signed_at": [None, now.isoformat()]})
    return report


def acknowledge_report(audit: Audit, *, name: str, actor, now: dt.datetime) -> AuditReport:
    """Record the auditee representative's acknowledgement (given at the closing meeting).

    An auditee of the audited units acknowledges for themselves; a team auditor may record the
    name of the representative who acknowledged on the tablet.
    """
    report = get_report(audit)
    if report is None:
        raise DomainError("There is no report to acknowledge yet.")
    if is_auditee(audit, actor):
        name = name or actor.name
        ack_id = actor.id
    elif can_answer(audit, actor):
        ack_id = None
    else:
        raise NotAllowed("Only the auditee representative or the audit team can record this.")
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the name of the auditee representative.", field="name")
    report.acknowledged_by_name = name[:160]
    report.acknowledged_by_id = ack_id
    report.acknowledged_at = now
    report.updated_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now,
           summary=f"{name} acknowledged the report of {audit.reference}",
           changes={"acknowledged_by_name": [None, name]})
    return report


def issue_report(audit: Audit, *, actor, now: dt.datetime) -> AuditReport:
    """Issue the report: the audit is frozen (no answers, evidence or findings afterwards)."""
    require_not_frozen(audit)
    _require_lead(audit, actor, "issue the report")
    report = get_report(audit)
    problems = report_blockers(audit, report, build_checklist(audit))
    if problems:
        raise DomainError("The report cannot be issued yet: " + " ".join(problems))
    report.issued_at = now
    report.issued_by_id = actor.id
    report.updated_at = now
    audit.report_issued_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now, summary=f"Issued the report of {audit.reference}",
           changes={"issued_at": [None, now.isoformat()]})
    if audit.status is AuditStatus.IN_PROGRESS:
        _advance(audit, AuditStatus.FIELDWORK_COMPLETE, actor=actor, now=now)
    if not _advance(audit, AuditStatus.REPORT_ISSUED, actor=actor, now=now):
        # The issued report is what freezes the audit; its status follows whatever came before.
        old = audit.status
        audit.status = AuditStatus.REPORT_ISSUED
        audit.updated_at = now
        db.session.flush()
        record(audit, "transition", actor=actor, now=now, summary=f"{audit.reference}: report issued",
               changes={"status": [old.value, AuditStatus.REPORT_ISSUED.value],
                        "report_issued_at": [None, now.isoformat()]})
    return report


# --- report contents -------------------------------------------------------------------------


@dataclass
class ClauseCoverage:
    """How far one clause was examined in this audit."""

    clause: object
    questions: int = 0
    answered: int = 0
    verdicts: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)


def report_contents(audit: Audit) -> dict:
    """Everything the report shows (ISO 19011 6.5.1), loaded in a fixed number of queries."""
    checklist = build_checklist(audit)
    findings = list(db.session.scalars(
        select(Finding).where(Finding.audit_id == audit.id).order_by(Finding.reference)
        .options(selectinload(Finding.clauses), selectinload(Finding.unit))
    ))
    files: dict[int, list[Evidence]] = {}
    for ev in db.session.scalars(select(Evidence).where(Evidence.audit_id == audit.id,
                                                        Evidence.finding_id.is_not(None))):
        files.setdefault(ev.finding_id, []).append(ev)
    coverage: dict[int, ClauseCoverage] = {}
    for row in checklist.rows:
        if not row.visible:
            continue
        for clause in row.question.clauses:
            cov = coverage.setdefault(clause.id, ClauseCoverage(clause))
            cov.questions += 1
            if row.answered:
                cov.answered += 1
                label = row.answer.verdict.label if row.answer.verdict else "answered"
                cov.verdicts[label] = cov.verdicts.get(label, 0) + 1
    for f in findings:
        for clause in f.clauses:
            coverage.setdefault(clause.id, ClauseCoverage(clause)).findings.append(f)
    for clause in audit.clauses:
        coverage.setdefault(clause.id, ClauseCoverage(clause))
    ordered = sorted(coverage.values(), key=lambda c: (c.clause.standard_id, c.clause.position))
    return {
        "audit": audit,
        "report": get_report(audit),
        "checklist": checklist,
        "findings": findings,
        "finding_files": files,
        "coverage": ordered,
        "sampling_statement": SAMPLING_STATEMENT,
    }
