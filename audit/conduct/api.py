"""The JSON API of the tablet checklist (documented in ``/api/openapi.json``).

Same rules as the pages: the route declares its capability, the service checks the object-level
rule (only the audit team's auditors answer). Writes carry the CSRF token in ``X-CSRFToken``.
Every refusal is a problem document built by ``audit.core.problems`` (one error format).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from audit.auth.permissions import Permission, requires
from audit.conduct import services
from audit.conduct.openapi import openapi_document
from audit.core.errors import DomainError
from audit.core.problems import problem, problem_for_domain
from audit.extensions import db
from audit.models import ChecklistAnswer, utcnow

bp = Blueprint("conduct_api", __name__, url_prefix="/api")


def _audit_for(audit_id: int, *, write: bool = False):
    audit = services.load_audit(audit_id)
    if audit is None:
        abort(404, description="There is no audit with this id.")
    if not services.can_view(audit, current_user):
        abort(403, description="You may not see this audit.")
    if write and not services.can_answer(audit, current_user):
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
    if isinstance(exc, services.AnswerConflict):
        return problem("conflict", exc.message, current=exc.current)
    if isinstance(exc, services.AuditFrozen):
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
    """Every answer of the audit with its version (auditees may read)."""
    audit = _audit_for(audit_id)
    rows = db.session.scalars(
        select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id)
        .order_by(ChecklistAnswer.question_id)
    ).all()
    return jsonify(audit_id=audit.id, frozen=audit.report_issued_at is not None,
                   answers=[services.answer_payload(a) for a in rows])


@bp.put("/audits/<int:audit_id>/answers/<int:question_id>")
@requires(Permission.CONDUCT_AUDIT)
def put_answer(audit_id: int, question_id: int):
    """Save one answer: 200 with its new version, 409 with the server's answer on a conflict."""
    audit = _audit_for(audit_id, write=True)
    if (refused := _other_author()) is not None:
        return refused
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem("malformed_json", "Send a JSON object.")
    base_version = body.get("base_version", 0)
    if isinstance(base_version, str) and base_version.isascii() and base_version.isdigit():
        base_version = int(base_version)
    if isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 0:
        return problem("invalid", "base_version must be a whole number.", field="base_version")
    mutation_id = body.get("mutation_id") or None
    for attempt in range(2):
        try:
            question = services.get_question(audit, question_id)
            result = services.save_answer(
                audit, question, verdict=body.get("verdict"), value=body.get("value"),
                note=body.get("note"), base_version=base_version,
                mutation_id=str(mutation_id) if mutation_id else None,
                actor=current_user, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            return _error(exc)
        except IntegrityError:
            # The same mutation id arrived twice at once: the second reads the first's result.
            db.session.rollback()
            if attempt:
                raise
            continue
        return jsonify(answer=result.payload, replayed=result.replayed), 200
    abort(500)  # pragma: no cover


def _parse_taken_at(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("taken_at must be an ISO 8601 date-time.", field="taken_at") from None
    if value.tzinfo is None:
        raise DomainError("taken_at needs a time zone offset.", field="taken_at")
    return value


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
    data = upload.stream.read(max_bytes + 1)
    try:
        question = None
        raw_question_id = request.form.get("question_id")
        if raw_question_id:
            if not (raw_question_id.isascii() and raw_question_id.isdigit()):
                raise DomainError("question_id must be a whole number.", field="question_id")
            question = services.get_question(audit, int(raw_question_id))
        evidence, replayed = services.add_evidence(
            audit, data=data, filename=upload.filename, question=question,
            client_id=request.form.get("client_id") or None,
            taken_at=_parse_taken_at(request.form.get("taken_at")),
            caption=request.form.get("caption"), max_bytes=max_bytes,
            actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        return _error(exc)
    except ValueError:
        db.session.rollback()
        return problem("invalid", "question_id must be a number.", field="question_id")
    return jsonify(evidence=services.evidence_payload(evidence), replayed=replayed), (200 if replayed else 201)
