"""The answer save in short transactions: read and decide first, then write under the lock.

Opening ``BEGIN IMMEDIATE`` at a request's first statement held SQLite's write lock for the
whole answer save, so savers queued behind each other's reads (issue 16 item 2). Here a save
is three steps, and the caller (``api.put_answer``) owns the transactions between them:

1. ``read_answer`` — one SELECT, in a read transaction: the audit, the signed-in user's team
   role, the question (of the audit's frozen checklist), the current answer and an earlier
   use of the mutation id. Nothing else: no clause load, no unit or team load.
2. ``decide_answer`` — pure: permission, freeze, validation, conflict, replay.
3. ``write_answer`` — in a write transaction of its own: the answer's INSERT or UPDATE, its
   trail row and the mutation id. The UPDATE (and the INSERT) only apply when the versions
   read in step 1 still hold; otherwise ``VersionMoved`` is raised and the caller starts over.

The steady-state save thus sends five statements (the session's user, the read, the answer,
the trail, the mutation). The first answer of a scheduled audit also starts its fieldwork,
which needs the whole audit: that save (and every refusal, for its exact message) goes
through ``answers.save_answer`` instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, false, insert, literal, select, update

from audit.auth.permissions import Permission, permissions_for
from audit.conduct.access import require_not_frozen
from audit.conduct.answers import AnswerConflict, _clean_value, answer_payload, bounded_answer_time
from audit.conduct.mutations import check_mutation_id
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    AppliedMutation,
    Audit,
    AuditStatus,
    AuditTeamMember,
    ChecklistAnswer,
    ChecklistQuestion,
    ChecklistSection,
)
from audit.trail.services import record, snapshot

#: Audit statuses in which a first answer changes the audit itself (fieldwork starts).
STARTS_FIELDWORK = (AuditStatus.PLAN_ISSUED, AuditStatus.SCHEDULED)


class VersionMoved(Exception):
    """The answer or the audit changed between the read and the write: read again."""


@dataclass
class AnswerRead:
    """What ``read_answer`` found (rows stay loaded after the read transaction ends)."""

    audit: Audit | None
    role: object
    question: ChecklistQuestion | None
    answer: ChecklistAnswer | None
    mutation: AppliedMutation | None


@dataclass
class AnswerDecision:
    """What to write: ``values`` for the answer, or a ``payload`` to return as is."""

    values: dict | None = None
    payload: dict | None = None
    replayed: bool = False
    #: True when the lean path cannot decide (refusals, first answers): use answers.save_answer.
    fallback: bool = False


def read_answer(audit_id: int, question_id: int, mutation_id: str | None, user) -> AnswerRead:
    """Everything a save decides on, in one SELECT (outer joins on unique keys only)."""
    role = (select(AuditTeamMember.role)
            .where(AuditTeamMember.audit_id == Audit.id, AuditTeamMember.user_id == user.id)
            .limit(1).scalar_subquery())
    versions_sections = select(ChecklistSection.id).where(
        ChecklistSection.version_id == Audit.checklist_version_id)
    stmt = (
        select(Audit, role, ChecklistQuestion, ChecklistAnswer, AppliedMutation)
        .select_from(Audit)
        .outerjoin(ChecklistQuestion, and_(ChecklistQuestion.id == question_id,
                                           ChecklistQuestion.section_id.in_(versions_sections)))
        .outerjoin(ChecklistAnswer, and_(ChecklistAnswer.audit_id == Audit.id,
                                         ChecklistAnswer.question_id == question_id))
        .outerjoin(AppliedMutation, AppliedMutation.mutation_id == mutation_id if mutation_id else false())
        .where(Audit.id == audit_id)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        return AnswerRead(None, None, None, None, None)
    return AnswerRead(*row)


def may_answer(read: AnswerRead, user) -> bool:
    """Whether the read shows an audit ``user`` answers (team's auditing member, CONDUCT_AUDIT)."""
    return read.audit is not None and read.role is not None and read.role.is_auditing \
        and Permission.CONDUCT_AUDIT in permissions_for(user.roles)


def decide_answer(read: AnswerRead, user, *, verdict, value, note, base_version: int,
                  mutation_id: str | None) -> AnswerDecision:
    """The same rules as ``answers.save_answer``, on what ``read_answer`` loaded."""
    check_mutation_id(mutation_id)
    audit = read.audit
    if audit is None or read.question is None:
        return AnswerDecision(fallback=True)  # 404 / unknown question: the full path words it
    if read.mutation is not None:
        if read.mutation.audit_id != audit.id or read.mutation.kind != "answer":
            raise DomainError("This mutation id was already used for something else.", field="mutation_id")
        return AnswerDecision(payload=read.mutation.result, replayed=True)
    if not may_answer(read, user):
        return AnswerDecision(fallback=True)
    require_not_frozen(audit)
    if verdict is not None and not isinstance(verdict, str):
        raise DomainError("The verdict must be text, e.g. “conforming”.", field="verdict")
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise DomainError("The value must be text or a number.", field="value")
    if note is not None and not isinstance(note, str):
        raise DomainError("The note must be text.", field="note")
    verdict_obj, clean = _clean_value(read.question, verdict, value)
    note = (note or "").strip() or None
    if note and len(note) > 5000:
        raise DomainError("Keep the note under 5000 characters.", field="note")
    answer = read.answer
    current = answer.version if answer is not None else 0
    same = (answer is not None and (answer.verdict, answer.value, answer.note) == (verdict_obj, clean, note)) \
        or (answer is None and verdict_obj is None and clean is None and note is None)
    if base_version != current and not same:
        raise AnswerConflict(answer_payload(answer, read.question.id))
    if same:
        return AnswerDecision(payload=answer_payload(answer, read.question.id))
    if answer is None and audit.status in STARTS_FIELDWORK:
        return AnswerDecision(fallback=True)
    return AnswerDecision(values={"verdict": verdict_obj, "value": clean, "note": note})


def _payload(question_id: int, values: dict, version: int, actor, now: dt.datetime) -> dict:
    return {"question_id": question_id,
            "verdict": values["verdict"].value if values["verdict"] else None,
            "value": values["value"], "note": values["note"], "version": version,
            "answered_by": actor.name, "answered_at": now.isoformat()}


def write_answer(read: AnswerRead, decision: AnswerDecision, *, mutation_id: str | None,
                 actor, now: dt.datetime, answered_at: dt.datetime | None = None) -> dict:
    """Write the decided answer, its trail row and the mutation id (caller commits).

    Each write is conditional on the versions read before the lock: the answer's ``version``
    and the audit's ``version_id`` (which moves when it is frozen, cancelled or rescheduled).
    A condition that no longer holds raises ``VersionMoved`` before anything is written.
    """
    audit, question, answer = read.audit, read.question, read.answer
    # The device's time of the change (offline answers), kept within the audit's days and now;
    # the trail row's own time is the sync time, an earlier device time is shown beside it.
    when = bounded_answer_time(audit, answered_at, now)
    stamp = {"answered_at": when.isoformat()} if now - when > dt.timedelta(minutes=1) else {}
    audit_unchanged = exists().where(Audit.id == audit.id, Audit.version_id == audit.version_id)
    table = ChecklistAnswer.__table__
    values = decision.values
    if decision.payload is not None:
        payload = decision.payload
    elif answer is None:
        stored = {**values, "audit_id": audit.id, "question_id": question.id, "version": 1,
                  "answered_by_id": actor.id, "answered_at": when}
        columns = list(stored)
        new_id = db.session.execute(
            insert(table).from_select(columns, select(*[literal(stored[c], table.c[c].type) for c in columns])
                                      .where(audit_unchanged))
            .returning(table.c.id)).scalar()
        if new_id is None:
            raise VersionMoved
        # A detached stand-in: the trail needs the class and id, not a loaded row.
        record(ChecklistAnswer(id=new_id), "create", actor=actor, now=now,
               summary=f"Answered {question.key} in {audit.reference}", changes={**snapshot(values), **stamp})
        payload = _payload(question.id, values, 1, actor, when)
    else:
        done = db.session.execute(
            update(table)
            .where(table.c.id == answer.id, table.c.version == answer.version, audit_unchanged)
            .values(**values, version=answer.version + 1, answered_by_id=actor.id, answered_at=when))
        if done.rowcount != 1:
            raise VersionMoved
        before = snapshot({"verdict": answer.verdict, "value": answer.value, "note": answer.note})
        after = snapshot(values)
        record(answer, "update", actor=actor, now=now,
               summary=f"Changed answer {question.key} in {audit.reference}",
               changes={**{k: [before[k], after[k]] for k in after if before[k] != after[k]}, **stamp})
        payload = _payload(question.id, values, answer.version + 1, actor, when)
    if mutation_id and not decision.replayed:
        db.session.execute(insert(AppliedMutation.__table__).values(
            mutation_id=mutation_id, audit_id=audit.id, kind="answer", user_id=actor.id,
            result=payload, applied_at=now))
    return payload


def prune_applied_mutations(*, now: dt.datetime, keep_days: int) -> int:
    """Forget mutation ids older than the offline window; returns how many went (idempotent).

    A tablet replays its queue within ``keep_days`` (the offline window); an older replay is
    not expected, so its id need not be remembered. Bookkeeping, not a person's change: no
    trail row.
    """
    cutoff = now - dt.timedelta(days=keep_days)
    return db.session.execute(delete(AppliedMutation).where(AppliedMutation.applied_at < cutoff)).rowcount
