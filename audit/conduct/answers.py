"""Answering an audit's checklist: typed values, conflicting edits, offline replays, and findings
raised from an answer. Every write checks the answerer and the freeze and records a trail row."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from audit.conduct.access import require_answerer
from audit.conduct.lifecycle import start_fieldwork
from audit.conduct.mutations import check_mutation_id, remember_result, replayed_result
from audit.core.errors import DomainError, StaleObject
from audit.extensions import db
from audit.findings.services import raise_finding
from audit.models import (
    AnswerType,
    Audit,
    AuditStatus,
    ChecklistAnswer,
    ChecklistQuestion,
    Evidence,
    Finding,
    Grade,
    Verdict,
)
from audit.trail.services import apply_changes, record, snapshot

#: Verdict of an answer → grade proposed when a finding is raised from it.
GRADE_FOR_VERDICT = {
    Verdict.MAJOR_NC: Grade.MAJOR,
    Verdict.MINOR_NC: Grade.MINOR,
    Verdict.OBSERVATION: Grade.OBSERVATION,
    Verdict.OFI: Grade.OFI,
    Verdict.CONFORMING: Grade.GOOD_PRACTICE,
}


class AnswerConflict(StaleObject):
    """Someone else saved a different answer since the client's base version."""

    def __init__(self, current: dict):
        super().__init__("Someone else changed this answer meanwhile: choose which one to keep.")
        self.current = current


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



def bounded_answer_time(audit: Audit, device_time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When the answer was given: the device's clock (an offline answer is synced later), kept
    between the start of the audit's first local day and the sync time ``now``, since a
    tablet's clock may be wrong."""
    if device_time is None:
        return now
    when = min(device_time.astimezone(dt.UTC), now)
    if audit.starts_at is not None:
        zone = zoneinfo.ZoneInfo(audit.timezone)
        first_day = audit.starts_at.astimezone(zone).date()
        day_start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        when = max(when, min(day_start, now))
    return when


@dataclass
class SaveResult:
    """What ``save_answer`` returns: the answer as the API sends it, and whether it was a replay."""

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
    answered_at: dt.datetime | None = None,
    actor,
    now: dt.datetime,
) -> SaveResult:
    """Save one answer, detecting conflicting edits.

    ``base_version`` is the version the client last saw (0 = no answer yet). A stale base with a
    different content raises AnswerConflict carrying the server's answer; a stale base with the
    same content is a harmless no-op. A ``mutation_id`` already applied returns the original
    result without applying anything again (offline replays). ``answered_at`` is the device's
    time of the change (see ``bounded_answer_time``); the trail shows it beside the sync time.
    """
    check_mutation_id(mutation_id)
    previous = replayed_result(mutation_id, audit, "answer")
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
        when = bounded_answer_time(audit, answered_at, now)
        # The trail row's own time is the sync time; an earlier device time is shown beside it.
        stamp = {"answered_at": when.isoformat()} if now - when > dt.timedelta(minutes=1) else {}
        if answer is None:
            answer = ChecklistAnswer(audit_id=audit.id, question_id=question.id, version=1,
                                     answered_by_id=actor.id, answered_at=when, **values)
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
                   summary=f"Answered {question.key} in {audit.reference}",
                   changes={**snapshot(values), **stamp})
        else:
            changes = apply_changes(answer, values)
            answer.version = current_version + 1
            answer.answered_by_id = actor.id
            answer.answered_at = when
            db.session.flush()
            record(answer, "update", actor=actor, now=now,
                   summary=f"Changed answer {question.key} in {audit.reference}",
                   changes={**changes, **stamp})
        db.session.flush()
        if audit.status in (AuditStatus.PLAN_ISSUED, AuditStatus.SCHEDULED):
            start_fieldwork(audit, actor=actor, now=now)
    payload = answer_payload(answer, question.id)
    remember_result(mutation_id, audit, "answer", payload, actor=actor, now=now)
    return SaveResult(payload, False)


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
    mutation_id: str | None = None,
) -> Finding:
    """Raise a finding from a checklist answer: clauses, answer and evidence files come along.

    ``mutation_id`` is the tablet's key of a queued finding: a replay with the same key returns
    the finding raised the first time instead of raising a second one.
    """
    check_mutation_id(mutation_id)
    # The replay is looked up before the freeze (as ``save_answer`` does): a tablet that lost the
    # response replays its queue after the report was issued, and must hear that the finding was
    # recorded, not that it was refused.
    done = replayed_result(mutation_id, audit, "finding")
    if done is not None:
        return db.session.get(Finding, done["finding_id"])
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
    remember_result(mutation_id, audit, "finding",
                    {"finding_id": finding.id, "reference": finding.reference,
                     "question_id": question.id}, actor=actor, now=now)
    return finding


def finding_defaults(audit: Audit, question: ChecklistQuestion) -> dict:
    """Pre-filled values for the raise-finding form: grade from the verdict, note as evidence."""
    answer = db.session.scalar(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id,
                                      ChecklistAnswer.question_id == question.id))
    grade = GRADE_FOR_VERDICT.get(answer.verdict) if answer and answer.verdict else None
    return {"grade": (grade or Grade.MINOR).value, "evidence": answer.note if answer else "",
            "statement": ""}
