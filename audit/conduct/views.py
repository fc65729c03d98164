"""Pages for conducting an audit: the tablet checklist, raising a finding from an answer,
evidence files, the closing report (HTML and PDF), and the offline shell (service worker,
web app manifest)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from audit.audits.services import to_local
from audit.auth.permissions import Permission, public, requires
from audit.conduct import access, agenda, answers, checklist_read, forms, offline
from audit.conduct import evidence as evidence_service
from audit.conduct.mutations import replayed_result
from audit.core.errors import DomainError
from audit.core.forms import flashing, saving
from audit.extensions import db
from audit.models import AgendaSession, Clause, Evidence, Finding, Grade, Verdict, utcnow
from audit.storage import StorageError, get_storage

bp = Blueprint("conduct", __name__)


def viewable_audit(audit_id: int):
    """The audit if ``current_user`` may see its records: 404 when it does not exist, else 403."""
    audit = access.load_audit(audit_id)
    if audit is None:
        abort(404)
    if not access.can_view(audit, current_user):
        abort(403)
    return audit


# --- offline shell ---------------------------------------------------------------------------


@bp.get("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so its scope covers the checklist pages; its
    cache version is the content hash computed at start-up (``audit.conduct.offline``)."""
    shell = offline.shell()
    body = render_template(offline.WORKER_TEMPLATE, version=shell.version,
                           precache=list(shell.precache), page_cache=shell.page_cache,
                           user_header=shell.user_header, max_pages=shell.max_pages)
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
@public
def manifest():
    """The installable web app manifest (no data in it: static text)."""
    body = {
        "name": current_app.config["ORGANISATION_NAME"] + " audits",
        "short_name": "Audits",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e79",
        "icons": [
            {"src": url_for("static", filename="img/icon-192.png"), "sizes": "192x192",
             "type": "image/png"},
            {"src": url_for("static", filename="img/icon-512.png"), "sizes": "512x512",
             "type": "image/png"},
        ],
    }
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- checklist -------------------------------------------------------------------------------


@bp.get("/audits/<int:audit_id>/checklist")
@requires(Permission.VIEW_ORGANISATION)
def checklist(audit_id: int):
    """The tablet checklist: one-tap verdicts, autosave, evidence, carry-forward."""
    audit = viewable_audit(audit_id)
    data = checklist_read.build_checklist(audit, structure=checklist_read.frozen_sections,
                                          reader=current_user)
    return render_template(
        "conduct/checklist.html", audit=audit, checklist=data,
        can_answer=access.can_edit_records(audit, current_user),
        verdicts=list(Verdict), page_cache=offline.PAGE_CACHE,
        photo={"max_bytes": current_app.config["EVIDENCE_MAX_BYTES"],
               "original_max_bytes": evidence_service.original_max_bytes(current_app.config),
               "long_edge": current_app.config["PHOTO_LONG_EDGE"],
               "quality": current_app.config["PHOTO_JPEG_QUALITY"]},
    )


def _raised_by(audit, mutation_id: str | None):
    """The finding a raise-finding form with ``mutation_id`` already raised on ``audit``, or None."""
    try:
        done = replayed_result(mutation_id or None, audit, "finding")
    except DomainError:  # the key was used for something else: the form's own check words it
        return None
    return db.session.get(Finding, done["finding_id"]) if done else None


@bp.route("/audits/<int:audit_id>/checklist/questions/<int:question_id>/finding",
          methods=["GET", "POST"])
@requires(Permission.CONDUCT_AUDIT)
def raise_finding(audit_id: int, question_id: int):
    """Raise a finding from an answer: audit, clauses, question and evidence pre-filled."""
    audit = viewable_audit(audit_id)
    if not access.can_answer(audit, current_user):
        abort(403)
    try:
        question = checklist_read.get_question(audit, question_id)
    except DomainError:
        abort(404)
    back = url_for("conduct.checklist", audit_id=audit.id) + f"#q{question.id}"
    try:
        access.require_not_frozen(audit)
    except access.AuditFrozen as exc:
        # The same form posted again after the issue (its first response was lost): the finding
        # it raised is there, as the API's replay says, not refused.
        if (raised := _raised_by(audit, request.form.get("mutation_id"))) is not None:
            flash(f"Finding {raised.reference} was already raised.", "info")
            return redirect(back)
        # Refuse before showing a form that could only fail on submit.
        flash(exc.message, "error")
        return redirect(back)
    form = forms.RaiseFindingForm(data=None if request.method == "POST"
                                  else answers.finding_defaults(audit, question))
    if form.validate_on_submit():
        with saving(form) as saved:
            finding = answers.raise_finding_from_answer(
                audit, question, grade=Grade(form.grade.data), statement=form.statement.data,
                evidence=form.evidence.data, actor=current_user, now=utcnow(),
                mutation_id=form.mutation_id.data or None)
        if saved.ok:
            flash(f"Finding {finding.reference} raised.", "success")
            return redirect(back)
    return render_template("conduct/raise_finding.html", audit=audit, question=question, form=form)


# --- evidence files --------------------------------------------------------------------------


def _evidence_file(evidence_id: int, thumbnail: bool) -> Response:
    ev = db.session.get(Evidence, evidence_id)
    if ev is None:
        abort(404)
    viewable_audit(ev.audit_id)
    key = ev.thumbnail_key if thumbnail else ev.storage_key
    if key is None:
        abort(404)
    try:
        chunks = get_storage().stream(key)
    except StorageError:
        abort(404)
    # Streamed: a large file never sits whole in a worker (database storage reads it in slices).
    response = current_app.response_class(
        stream_with_context(chunks), mimetype="image/jpeg" if thumbnail else ev.content_type)
    # Files never change (originals immutable): the browser may keep them for the session.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    if not thumbnail:
        disposition = "inline" if ev.is_image or ev.content_type == "application/pdf" else "attachment"
        response.headers["Content-Disposition"] = f'{disposition}; filename="evidence-{ev.id}"'
    return response


@bp.get("/evidence/<int:evidence_id>")
@requires(Permission.VIEW_ORGANISATION)
def evidence_file(evidence_id: int):
    """An evidence file, after checking the viewer may see its audit."""
    return _evidence_file(evidence_id, thumbnail=False)


@bp.get("/evidence/<int:evidence_id>/thumbnail")
@requires(Permission.VIEW_ORGANISATION)
def evidence_thumbnail(evidence_id: int):
    """The derived thumbnail of a photo."""
    return _evidence_file(evidence_id, thumbnail=True)


# --- the audit plan --------------------------------------------------------------------------


def _plan_clauses(audit):
    if audit.clauses:
        return list(audit.clauses)
    ids = [s.id for s in audit.standards]
    if not ids:
        return []
    return list(db.session.scalars(select(Clause).where(Clause.standard_id.in_(ids), Clause.depth <= 1)
                                   .order_by(Clause.standard_id, Clause.position)))


def _plan_page(audit, form=None, editing=None, status=200):
    can_edit = agenda.can_edit_plan(audit, current_user)
    if form is None and can_edit:
        form = forms.SessionForm(formdata=None)
    if form is not None:
        form.fill_choices(audit, _plan_clauses(audit))
    return render_template("conduct/plan.html", audit=audit, sessions=agenda.load_sessions(audit),
                           form=form, editing=editing, can_edit=can_edit,
                           confirm=forms.ConfirmForm()), status


@bp.get("/audits/<int:audit_id>/plan")
@requires(Permission.VIEW_ORGANISATION)
def plan(audit_id: int):
    """The audit plan: agenda sessions, calendar files, and issuing it to the auditees."""
    return _plan_page(viewable_audit(audit_id))


def _save_session_view(audit, session):
    form = forms.SessionForm()
    form.fill_choices(audit, _plan_clauses(audit))
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            agenda.save_session(audit, session, forms.session_values(form), actor=current_user, now=utcnow())
        if saved.ok:
            flash("Session saved.", "success")
            return redirect(url_for("conduct.plan", audit_id=audit.id))
    return _plan_page(audit, form=form, editing=session, status=422)


@bp.post("/audits/<int:audit_id>/plan/sessions")
@requires(Permission.VIEW_ORGANISATION)
def add_session(audit_id: int):
    """Add an agenda slot (lead auditor or programme manager)."""
    audit = viewable_audit(audit_id)
    if not agenda.can_edit_plan(audit, current_user):
        abort(403)
    return _save_session_view(audit, None)


def _session_of(audit, session_id: int):
    session = db.session.get(AgendaSession, session_id)
    if session is None or session.audit_id != audit.id:
        abort(404)
    return session


@bp.route("/audits/<int:audit_id>/plan/sessions/<int:session_id>", methods=["GET", "POST"])
@requires(Permission.VIEW_ORGANISATION)
def edit_session(audit_id: int, session_id: int):
    """Change an agenda slot."""
    audit = viewable_audit(audit_id)
    if not agenda.can_edit_plan(audit, current_user):
        abort(403)
    session = _session_of(audit, session_id)
    if request.method == "POST":
        return _save_session_view(audit, session)
    form = forms.SessionForm(formdata=None, data={
        "kind": session.kind.value, "title": session.title, "unit_id": str(session.unit_id or ""),
        "auditor_id": str(session.auditor_id or ""), "clause_ids": [str(c.id) for c in session.clauses],
        "auditee_contacts": session.auditee_contacts, "location": session.location,
        "starts_local": to_local(session.starts_at, audit.timezone),
        "ends_local": to_local(session.ends_at, audit.timezone)})
    return _plan_page(audit, form=form, editing=session)


@bp.post("/audits/<int:audit_id>/plan/sessions/<int:session_id>/delete")
@requires(Permission.VIEW_ORGANISATION)
def delete_session(audit_id: int, session_id: int):
    """Remove an agenda slot."""
    audit = viewable_audit(audit_id)
    session = _session_of(audit, session_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    with flashing("Session removed."):
        agenda.delete_session(audit, session, actor=current_user, now=utcnow())
    return redirect(url_for("conduct.plan", audit_id=audit.id))


@bp.post("/audits/<int:audit_id>/plan/issue")
@requires(Permission.VIEW_ORGANISATION)
def issue_plan(audit_id: int):
    """Send the plan to the auditees and the team."""
    audit = viewable_audit(audit_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    with flashing() as outcome:
        recipients = agenda.issue_plan(audit, actor=current_user, now=utcnow())
        outcome.message = f"Plan issued to {len(recipients)} people."
    return redirect(url_for("conduct.plan", audit_id=audit.id))


def _ics_response(audit, sessions, name: str):
    body = agenda.session_ics(audit, sessions)
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.ics"'
    return response


@bp.get("/audits/<int:audit_id>/plan.ics")
@requires(Permission.VIEW_ORGANISATION)
def plan_ics(audit_id: int):
    """All sessions of the plan as one calendar file."""
    audit = viewable_audit(audit_id)
    sessions = agenda.load_sessions(audit)
    if not sessions:
        abort(404)
    return _ics_response(audit, sessions, f"{audit.reference}-plan")


@bp.get("/audits/<int:audit_id>/plan/sessions/<int:session_id>.ics")
@requires(Permission.VIEW_ORGANISATION)
def session_ics(audit_id: int, session_id: int):
    """One session as a calendar file (one per session, as attached to the plan e-mail)."""
    audit = viewable_audit(audit_id)
    return _ics_response(audit, [_session_of(audit, session_id)], f"{audit.reference}-session-{session_id}")
