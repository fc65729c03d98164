"""The answer save in short transactions: read and decide first, then write under the lock.

Opening ``BEGIN IMMEDIATE`` at a request's first statement held SQLite's write lock for the
whole answer save, so savers queued behind each other's reads (issue 16 item 2). Here a save
is three steps; the caller (``api.put_answer``) commits or rolls back:

1. ``read_answer`` — one SELECT, in a read transaction: the audit, the signed-in user's team
   role, the question (of the audit's frozen checklist), the current answer and an earlier
   use of the mutation id. Nothing else: no clause load, no unit or team load.
2. ``decide_answer`` — pure: permission, freeze, validation, conflict, replay.
3. ``write_answer`` — in a write transaction of its own (``core.database.begin_writing``,
   on the read's connection, only when there is something to write): the answer's INSERT or
   UPDATE, its trail row and the mutation id. The UPDATE (and the INSERT) only apply when the
   versions read in step 1 still hold; otherwise ``VersionMoved`` is raised and the caller
   starts over.

The steady-state save thus sends five statements (the session's user, the read, the answer,
the trail, the mutation). The first answer of a scheduled audit also starts its fieldwork,
which needs the whole audit: that save (and every refusal, for its exact message) goes
through ``answers.save_answer`` instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, and_, bindparam, delete, exists, insert, select, update

from audit.auth.permissions import Permission, permissions_for
from audit.conduct.access import require_not_frozen
from audit.conduct.answers import AnswerConflict, _clean_value, answer_payload, bounded_answer_time
from audit.conduct.mutations import check_mutation_id
from audit.core.database import begin_writing
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
    Site,
    Supplier,
    TrailEntry,
    User,
)
from audit.models.audit import audit_zone
from audit.trail.services import entry_values, snapshot

#: Audit statuses in which a first answer changes the audit itself (fieldwork starts).
STARTS_FIELDWORK = (AuditStatus.PLAN_ISSUED, AuditStatus.SCHEDULED)


class VersionMoved(Exception):
    """The answer or the audit changed between the read and the write: read again."""


@dataclass
class AnswerRead:
    """What ``read_answer`` found: the columns the rules read of the audit, question, answer
    and mutation rows (plain values, usable after the read transaction ends), and the role."""

    audit: _AuditRow | None
    role: object
    question: _Row | None
    answer: _Row | None
    mutation: _Row | None


@dataclass
class AnswerDecision:
    """What to write: ``values`` for the answer, or a ``payload`` to return as is."""

    values: dict | None = None
    payload: dict | None = None
    replayed: bool = False
    #: True when the lean path cannot decide (refusals, first answers): use answers.save_answer.
    fallback: bool = False


class _Row:
    """A few columns of one row, by attribute, as the rules read them: what ``read_answer``
    loads instead of whole ORM objects."""

    def __init__(self, values: dict):
        self.__dict__ = values


class _AuditRow(_Row):

    @property
    def timezone(self) -> str:
        """As ``Audit.timezone``: its site's zone, else its supplier's, else UTC."""
        return audit_zone(self.site_id is not None, self.site_timezone,
                          self.supplier_id is not None, self.supplier_timezone)


_AUDIT_COLUMNS = ("id", "reference", "status", "report_issued_at", "version_id", "starts_at",
                  "site_id", "supplier_id")
_QUESTION_COLUMNS = ("id", "key", "answer_type", "choices", "min_value", "max_value")
_ANSWER_COLUMNS = ("id", "question_id", "verdict", "value", "note", "version", "answered_by_id",
                   "answered_at")
_MUTATION_COLUMNS = ("mutation_id", "audit_id", "kind", "result")


def _read_statement(with_mutation: bool):
    """The read's SELECT, built once: a statement object keeps its cache key, so a save pays
    neither the statement's construction nor its cache key (issue 16); ids are parameters."""
    audits, questions = Audit.__table__, ChecklistQuestion.__table__
    answers, mutations = ChecklistAnswer.__table__, AppliedMutation.__table__
    team, users = AuditTeamMember.__table__, User.__table__
    sites, suppliers = Site.__table__, Supplier.__table__
    question_id = bindparam("question_id", type_=Integer)
    role = (select(team.c.role)
            .where(team.c.audit_id == audits.c.id, team.c.user_id == bindparam("user_id", type_=Integer))
            .limit(1).scalar_subquery())
    versions_sections = select(ChecklistSection.__table__.c.id).where(
        ChecklistSection.__table__.c.version_id == audits.c.checklist_version_id)
    answered_by = users.alias("answered_by")
    columns = [
        *(audits.c[c] for c in _AUDIT_COLUMNS), sites.c.timezone, suppliers.c.timezone, role,
        *(questions.c[c] for c in _QUESTION_COLUMNS),
        *(answers.c[c] for c in _ANSWER_COLUMNS), answered_by.c.name,
        *((mutations.c[c] for c in _MUTATION_COLUMNS) if with_mutation else ()),
    ]
    stmt = (
        select(*columns)
        .select_from(audits)
        .outerjoin(sites, sites.c.id == audits.c.site_id)
        .outerjoin(suppliers, suppliers.c.id == audits.c.supplier_id)
        .outerjoin(questions, and_(questions.c.id == question_id,
                                   questions.c.section_id.in_(versions_sections)))
        .outerjoin(answers, and_(answers.c.audit_id == audits.c.id, answers.c.question_id == question_id))
        .outerjoin(answered_by, answered_by.c.id == answers.c.answered_by_id)
    )
    if with_mutation:
        stmt = stmt.outerjoin(mutations, mutations.c.mutation_id == bindparam("mutation_id", type_=mutations.c.mutation_id.type))
    return stmt.where(audits.c.id == bindparam("audit_id", type_=Integer))


_READ = {True: _read_statement(True), False: _read_statement(False)}


def read_answer(audit_id: int, question_id: int, mutation_id: str | None, user) -> AnswerRead:
    """Everything a save decides on, in one SELECT (outer joins on unique keys only).

    Plain rows, not ORM objects: the rules read a few columns, and loading five mapped
    objects per save cost more than the query itself.
    """
    params = {"audit_id": audit_id, "question_id": question_id, "user_id": user.id}
    if mutation_id:
        params["mutation_id"] = mutation_id
    row = db.session.connection().execute(_READ[bool(mutation_id)], params).first()
    if row is None:
        return AnswerRead(None, None, None, None, None)
    n_audit = len(_AUDIT_COLUMNS)
    audit = _AuditRow(dict(zip(_AUDIT_COLUMNS, row, strict=False)))
    audit.site_timezone, audit.supplier_timezone, role = row[n_audit:n_audit + 3]
    i = n_audit + 3
    question = _Row(dict(zip(_QUESTION_COLUMNS, row[i:], strict=False)))
    i += len(_QUESTION_COLUMNS)
    answer = _Row(dict(zip(_ANSWER_COLUMNS, row[i:], strict=False)))
    i += len(_ANSWER_COLUMNS)
    answered_by_name = row[i]
    answer.answered_by = _Row({"name": answered_by_name}) if answer.answered_by_id is not None else None
    i += 1
    mutation = _Row(dict(zip(_MUTATION_COLUMNS, row[i:], strict=False))) if mutation_id else None
    return AnswerRead(audit, role,
                      question if question.id is not None else None,
                      answer if answer.id is not None else None,
                      mutation if mutation is not None and mutation.mutation_id is not None else None)


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


def _write_statements() -> dict:
    """The write's statements, built once with parameters (as ``_READ``)."""
    audits, table = Audit.__table__, ChecklistAnswer.__table__

    def param(name, column):
        return bindparam(name, type_=column.type)

    # The audit's version as read: it moves when the audit is frozen, cancelled or rescheduled.
    audit_unchanged = exists().where(audits.c.id == param("w_audit_id", audits.c.id),
                                     audits.c.version_id == param("w_audit_version", audits.c.version_id))
    update_answer = (
        update(table)
        .where(table.c.id == param("w_id", table.c.id),
               table.c.version == param("w_version", table.c.version), audit_unchanged)
        .values({c: param(f"v_{c}", table.c[c]) for c in _WRITTEN}))
    inserted = ("audit_id", "question_id", *_WRITTEN)
    insert_answer = (
        insert(table)
        .from_select(inserted, select(*[param(f"v_{c}", table.c[c]) for c in inserted]).where(audit_unchanged))
        .returning(table.c.id))
    return {"update": update_answer, "insert": insert_answer,
            "trail": insert(TrailEntry.__table__), "mutation": insert(AppliedMutation.__table__)}


#: The answer's columns a save writes (besides the audit and question of a new one).
_WRITTEN = ("verdict", "value", "note", "version", "answered_by_id", "answered_at")
_WRITE = _write_statements()


def write_answer(read: AnswerRead, decision: AnswerDecision, *, mutation_id: str | None,
                 actor, now: dt.datetime, answered_at: dt.datetime | None = None) -> dict:
    """Write the decided answer, its trail row and the mutation id (caller commits).

    Each write is conditional on the versions read before the lock: the answer's ``version``
    and the audit's ``version_id`` (which moves when it is frozen, cancelled or rescheduled).
    A condition that no longer holds raises ``VersionMoved`` before anything is written.
    The statements are built once (``_WRITE``) and everything they send is worked out before
    the first one takes the write lock; the trail row (``trail.services.entry_values``, the
    columns ``record`` would add) is inserted directly instead of through the unit of work.
    """
    audit, question, answer = read.audit, read.question, read.answer
    # The device's time of the change (offline answers), kept within the audit's days and now;
    # the trail row's own time is the sync time, an earlier device time is shown beside it.
    when = bounded_answer_time(audit, answered_at, now)
    stamp = {"answered_at": when.isoformat()} if now - when > dt.timedelta(minutes=1) else {}
    values = decision.values
    write = None
    if decision.payload is not None:
        payload = decision.payload
    else:
        params = {"v_verdict": values["verdict"], "v_value": values["value"], "v_note": values["note"],
                  "v_answered_by_id": actor.id, "v_answered_at": when,
                  "w_audit_id": audit.id, "w_audit_version": audit.version_id}
        if answer is None:
            params.update(v_version=1, v_audit_id=audit.id, v_question_id=question.id)
            trail = {"action": "create", "summary": f"Answered {question.key} in {audit.reference}",
                     "changes": {**snapshot(values), **stamp}}
            payload = _payload(question.id, values, 1, actor, when)
        else:
            params.update(v_version=answer.version + 1, w_id=answer.id, w_version=answer.version)
            before = snapshot({"verdict": answer.verdict, "value": answer.value, "note": answer.note})
            after = snapshot(values)
            trail = {"action": "update", "summary": f"Changed answer {question.key} in {audit.reference}",
                     "changes": {**{k: [before[k], after[k]] for k in after if before[k] != after[k]}, **stamp}}
            payload = _payload(question.id, values, answer.version + 1, actor, when)
        write = (params, trail)
    mutation = None
    if mutation_id and not decision.replayed:
        mutation = {"mutation_id": mutation_id, "audit_id": audit.id, "kind": "answer", "user_id": actor.id,
                    "result": payload, "applied_at": now}
    if write is None and mutation is None:
        return payload
    begin_writing()  # the write lock, from here to the caller's commit
    connection = db.session.connection()
    if write is not None:
        params, trail = write
        if answer is None:
            answer_id = connection.execute(_WRITE["insert"], params).scalar()
        else:
            answer_id = answer.id if connection.execute(_WRITE["update"], params).rowcount == 1 else None
        if answer_id is None:
            raise VersionMoved
        connection.execute(_WRITE["trail"], entry_values(ChecklistAnswer.__name__, answer_id, trail["action"],
                                                         actor=actor, now=now, summary=trail["summary"],
                                                         changes=trail["changes"]))
    if mutation is not None:
        connection.execute(_WRITE["mutation"], mutation)
    return payload


def prune_applied_mutations(*, now: dt.datetime, keep_days: int) -> int:
    """Forget mutation ids older than the offline window; returns how many went (idempotent).

    A tablet replays its queue within ``keep_days`` (the offline window); an older replay is
    not expected, so its id need not be remembered. Bookkeeping, not a person's change: no
    trail row.
    """
    cutoff = now - dt.timedelta(days=keep_days)
    return db.session.execute(delete(AppliedMutation).where(AppliedMutation.applied_at < cutoff)).rowcount
