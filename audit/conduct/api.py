"""The JSON API of the tablet checklist (documented in ``/api/openapi.json``).

Same rules as the pages: the route declares its capability, the service checks the object-level
rule (only the audit team's auditors answer). Writes carry the CSRF token in ``X-CSRFToken``.
Every refusal is a problem document built by ``audit.core.problems`` (one error format).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from audit.auth.permissions import Permission, requires
from audit.conduct import access, answering, checklist_read
from audit.conduct import answers as answer_service
from audit.conduct import evidence as evidence_service
from audit.conduct.mutations import replayed_result
from audit.conduct.openapi import openapi_document
from audit.core.database import begin_writing, commit_keeping_loaded, short_transactions
from audit.core.errors import DomainError
from audit.core.problems import problem, problem_for_domain
from audit.core.sizes import too_large_message
from audit.extensions import db
from audit.models import ChecklistAnswer, Grade, utcnow

bp = Blueprint("conduct_api", __name__, url_prefix="/api")


def _audit_for(audit_id: int, *, write: bool = False):
    audit = access.load_audit(audit_id)
    if audit is None:
        abort(404, description="There is no audit with this id.")
    if not access.can_view(audit, current_user):
        abort(403, description="You may not see this audit.")
    if write and not access.can_answer(audit, current_user):
        abort(403, description="Only the audit team's auditors can change this audit's checklist.")
    return audit


def _other_author():
    """403 when a queued change names an author other than the signed-in user (shared tablets:
    one person's offline changes must never be saved under another person's session)."""
    claimed = request.headers.get("X-Audit-Author")
    if claimed and claimed.strip() != str(current_user.id):
        return problem("other_author", "This change was made on this tablet by another person; "
                                       "it waits until they sign in again.")
    return None


def _error(exc: DomainError):
    db.session.rollback()
    if isinstance(exc, answer_service.AnswerConflict):
        return problem("conflict", exc.message, current=exc.current)
    if isinstance(exc, access.AuditFrozen):
        return problem("frozen", exc.message)
    return problem_for_domain(exc)


@bp.get("/openapi.json")
@requires(Permission.OWN_ACCOUNT)
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.get("/audits/<int:audit_id>/answers")
@requires(Permission.VIEW_ORGANISATION)
def answers(audit_id: int):
    """Every answer of the audit with its version (auditees may read).

    The ETag is a hash of the body itself, so it cannot miss a change; a tablet refreshing with
    ``If-None-Match`` gets a 304 without a body when nothing changed (the minute-by-minute
    refresh of an idle checklist costs headers only).
    """
    audit = _audit_for(audit_id)
    rows = db.session.scalars(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id)
        .order_by(ChecklistAnswer.question_id)
    ).all()
    response = jsonify(audit_id=audit.id, frozen=audit.report_issued_at is not None,
                       answers=[answer_service.answer_payload(a) for a in rows])
    etag = hashlib.sha256(response.get_data()).hexdigest()[:32]
    # Weak comparison: a compressed answer carries the same ETag as a weak one (core.compression).
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    response.set_etag(etag)
    return response


@bp.put("/audits/<int:audit_id>/answers/<int:question_id>")
@short_transactions
@requires(Permission.CONDUCT_AUDIT)
def put_answer(audit_id: int, question_id: int):
    """Save one answer: 200 with its new version, 409 with the server's answer on a conflict.

    Reads and decides in a read transaction, then writes in a short one on the same
    connection (``answering``); when the answer or the audit moved in between, it reads again.
    """
    body = request.get_json(silent=True)
    mutation_id = (body.get("mutation_id") or None) if isinstance(body, dict) else None
    mutation_id = str(mutation_id) if mutation_id else None
    actor = current_user._get_current_object()
    read = answering.read_answer(audit_id, question_id, mutation_id, actor)
    if not answering.may_answer(read, actor):
        _audit_for(audit_id, write=True)  # 404 or 403, worded as on every other route
    if (refused := _other_author()) is not None:
        return refused
    if not isinstance(body, dict):
        return problem("malformed_json", "Send a JSON object.")
    base_version = body.get("base_version", 0)
    if isinstance(base_version, str) and base_version.isascii() and base_version.isdigit():
        base_version = int(base_version)
    if isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 0:
        return problem("invalid", "base_version must be a whole number.", field="base_version")
    fields = {"verdict": body.get("verdict"), "value": body.get("value"), "note": body.get("note")}
    answered_at = body.get("answered_at")
    if answered_at is not None and not isinstance(answered_at, str):
        return problem("invalid", "answered_at must be an ISO 8601 date-time.", field="answered_at")
    try:
        device_time = _parse_time(answered_at, "answered_at")
    except DomainError as exc:
        return _error(exc)
    for attempt in range(3):
        try:
            if attempt:
                read = answering.read_answer(audit_id, question_id, mutation_id, actor)
            decision = answering.decide_answer(read, actor, base_version=base_version,
                                               mutation_id=mutation_id, **fields)
            if decision.fallback:
                begin_writing()
                return _save_in_full(audit_id, question_id, fields, base_version, mutation_id, device_time)
            payload = answering.write_answer(read, decision, mutation_id=mutation_id,
                                             answered_at=device_time, actor=actor, now=utcnow())
            commit_keeping_loaded()
        except DomainError as exc:
            return _error(exc)
        except (answering.VersionMoved, IntegrityError):
            # The answer or audit changed since the read, or the same mutation id arrived
            # twice at once: read again (the second then replays the first's result).
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        return jsonify(answer=payload, replayed=decision.replayed), 200
    abort(500)  # pragma: no cover


def _save_in_full(audit_id: int, question_id: int, fields: dict, base_version: int,
                  mutation_id: str | None, device_time: dt.datetime | None):
    """The whole-audit save, for what the lean path leaves out: refusals (with their exact
    message) and a first answer that starts the audit's fieldwork."""
    db.session.expire_all()  # rows read before the write lock may have moved: load them anew
    audit = _audit_for(audit_id, write=True)
    for attempt in range(2):
        try:
            question = checklist_read.get_question(audit, question_id)
            result = answer_service.save_answer(audit, question, base_version=base_version,
                                                mutation_id=mutation_id, answered_at=device_time,
                                                actor=current_user, now=utcnow(), **fields)
            db.session.commit()
        except DomainError as exc:
            return _error(exc)
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
            continue
        return jsonify(answer=result.payload, replayed=result.replayed), 200
    abort(500)  # pragma: no cover


def _parse_time(text: str | None, name: str) -> dt.datetime | None:
    """An aware date-time sent by the tablet (``taken_at``, ``answered_at``), or None."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(f"{name} must be an ISO 8601 date-time.", field=name) from None
    if value.tzinfo is None:
        raise DomainError(f"{name} needs a time zone offset.", field=name)
    return value


def _full_size(upload, read: int) -> int:
    """The whole upload's size (the form parser spooled it), to name it in the refusal."""
    try:
        upload.stream.seek(0, 2)
        return upload.stream.tell()
    except (AttributeError, OSError, ValueError):
        return read


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(exc: RequestEntityTooLarge):
    """Over MAX_CONTENT_LENGTH: the same words as the evidence limit, not Werkzeug's
    "The data value transmitted exceeds the capacity limit"."""
    return problem("payload_too_large",
                   too_large_message(request.content_length, current_app.config["EVIDENCE_MAX_BYTES"]),
                   field="file")


@bp.post("/audits/<int:audit_id>/evidence")
@requires(Permission.CONDUCT_AUDIT)
def post_evidence(audit_id: int):
    """Attach a photo or PDF (multipart ``file``); 201 new, 200 when ``client_id`` was stored."""
    audit = _audit_for(audit_id, write=True)
    if (refused := _other_author()) is not None:
        return refused
    upload = request.files.get("file")
    if upload is None:
        return problem("invalid", "Send the file in the 'file' field.", field="file")
    max_bytes = current_app.config["EVIDENCE_MAX_BYTES"]
    try:
        evidence_service.check_original_size(request.form.get("original_size"),
                                             evidence_service.original_max_bytes(current_app.config))
    except DomainError as exc:
        upload.close()
        return _error(exc)
    try:
        data = upload.stream.read(max_bytes + 1)
        size = _full_size(upload, len(data)) if len(data) > max_bytes else None
    finally:
        # A large upload is spooled to a temporary file: release it now, not at garbage collection.
        upload.close()
    try:
        question = None
        raw_question_id = request.form.get("question_id")
        if raw_question_id:
            if not (raw_question_id.isascii() and raw_question_id.isdigit()):
                raise DomainError("question_id must be a whole number.", field="question_id")
            question = checklist_read.get_question(audit, int(raw_question_id))
        evidence, replayed = evidence_service.add_evidence(
            audit, data=data, filename=upload.filename, question=question,
            client_id=request.form.get("client_id") or None,
            taken_at=_parse_time(request.form.get("taken_at"), "taken_at"),
            caption=request.form.get("caption"), max_bytes=max_bytes, size=size,
            actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        return _error(exc)
    except ValueError:
        db.session.rollback()
        return problem("invalid", "question_id must be a number.", field="question_id")
    return jsonify(evidence=evidence_service.evidence_payload(evidence), replayed=replayed), (200 if replayed else 201)


def _finding_fields(body: dict) -> tuple[Grade, str, str | None]:
    """The grade, statement and evidence of a queued finding, or a DomainError naming the field."""
    try:
        grade = Grade(body.get("grade") or "")
    except ValueError:
        raise DomainError("Choose a grade.", field="grade") from None
    statement = body.get("statement")
    if not isinstance(statement, str) or not statement.strip():
        raise DomainError("State the finding.", field="statement")
    evidence = body.get("evidence")
    if evidence is not None and not isinstance(evidence, str):
        raise DomainError("Objective evidence is text.", field="evidence")
    if len(statement) > 5000 or len(evidence or "") > 5000:
        raise DomainError("A statement or evidence has at most 5000 characters.", field="statement")
    return grade, statement.strip(), (evidence or "").strip() or None


@bp.post("/audits/<int:audit_id>/questions/<int:question_id>/findings")
@requires(Permission.CONDUCT_AUDIT)
def post_finding(audit_id: int, question_id: int):
    """Raise a finding from an answer (a tablet's queued finding): 201 new, 200 when the
    ``mutation_id`` was applied before (the same finding, never a second one)."""
    audit = _audit_for(audit_id, write=True)
    if (refused := _other_author()) is not None:
        return refused
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem("malformed_json", "Send a JSON object.")
    mutation_id = body.get("mutation_id") or None
    for attempt in range(2):
        try:
            grade, statement, evidence = _finding_fields(body)
            question = checklist_read.get_question(audit, question_id)
            replayed = replayed_result(str(mutation_id) if mutation_id else None, audit,
                                                "finding") is not None
            finding = answer_service.raise_finding_from_answer(
                audit, question, grade=grade, statement=statement, evidence=evidence,
                actor=current_user, now=utcnow(),
                mutation_id=str(mutation_id) if mutation_id else None)
            payload = {"id": finding.id, "reference": finding.reference, "question_id": question.id}
            db.session.commit()
        except DomainError as exc:
            return _error(exc)
        except IntegrityError:
            # The same key arrived twice at once: the second reads the first's finding.
            db.session.rollback()
            if attempt:
                raise
            continue
        return jsonify(finding=payload, replayed=replayed), 200 if replayed else 201
    abort(500)  # pragma: no cover
