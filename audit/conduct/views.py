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
    send_from_directory,
    url_for,
)
from flask_login import current_user

from audit import PROJECT_ROOT
from audit.auth.permissions import Permission, public, requires
from audit.conduct import forms, services
from audit.core.errors import DomainError
from audit.core.forms import attach_error
from audit.extensions import db
from audit.models import Evidence, Grade, utcnow
from audit.storage import StorageError, get_storage

bp = Blueprint("conduct", __name__)


def _viewable_audit(audit_id: int):
    audit = services.load_audit(audit_id)
    if audit is None:
        abort(404)
    if not services.can_view(audit, current_user):
        abort(403)
    return audit


# --- offline shell ---------------------------------------------------------------------------


@bp.get("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so its scope covers the checklist pages."""
    response = send_from_directory(PROJECT_ROOT / "static", "sw.js", mimetype="text/javascript",
                                   max_age=0)
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
    audit = _viewable_audit(audit_id)
    data = services.build_checklist(audit)
    return render_template(
        "conduct/checklist.html", audit=audit, checklist=data,
        can_answer=services.can_answer(audit, current_user) and audit.report_issued_at is None,
        verdicts=list(services.Verdict),
    )


@bp.route("/audits/<int:audit_id>/checklist/questions/<int:question_id>/finding",
          methods=["GET", "POST"])
@requires(Permission.CONDUCT_AUDIT)
def raise_finding(audit_id: int, question_id: int):
    """Raise a finding from an answer: audit, clauses, question and evidence pre-filled."""
    audit = _viewable_audit(audit_id)
    if not services.can_answer(audit, current_user):
        abort(403)
    try:
        question = services.get_question(audit, question_id)
    except DomainError:
        abort(404)
    form = forms.RaiseFindingForm(data=None if request.method == "POST"
                                  else services.finding_defaults(audit, question))
    if form.validate_on_submit():
        try:
            finding = services.raise_finding_from_answer(
                audit, question, grade=Grade(form.grade.data), statement=form.statement.data,
                evidence=form.evidence.data, actor=current_user, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            flash(f"Finding {finding.reference} raised.", "success")
            return redirect(url_for("conduct.checklist", audit_id=audit.id) + f"#q{question.id}")
    return render_template("conduct/raise_finding.html", audit=audit, question=question, form=form)


# --- evidence files --------------------------------------------------------------------------


def _evidence_file(evidence_id: int, thumbnail: bool) -> Response:
    ev = db.session.get(Evidence, evidence_id)
    if ev is None:
        abort(404)
    _viewable_audit(ev.audit_id)
    key = ev.thumbnail_key if thumbnail else ev.storage_key
    if key is None:
        abort(404)
    try:
        data = get_storage().get(key)
    except StorageError:
        abort(404)
    response = current_app.response_class(
        data, mimetype="image/jpeg" if thumbnail else ev.content_type)
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


# --- the report ------------------------------------------------------------------------------


def _report_page(audit, form=None, ack_form=None, status=200):
    contents = services.report_contents(audit)
    report = contents["report"]
    if form is None:
        form = forms.ReportForm(obj=report)
    lead = services.team_role(audit, current_user) is services.TeamRole.LEAD
    return render_template(
        "conduct/report.html", **contents, form=form,
        ack_form=ack_form or forms.AcknowledgeForm(), confirm=forms.ConfirmForm(),
        can_edit=services.can_answer(audit, current_user) and audit.report_issued_at is None,
        is_lead=lead and services.can_answer(audit, current_user),
        can_acknowledge=(services.is_auditee(audit, current_user)
                         or services.can_answer(audit, current_user)) and report is not None,
        blockers=services.report_blockers(audit, report, contents["checklist"]),
    ), status


@bp.route("/audits/<int:audit_id>/report", methods=["GET", "POST"])
@requires(Permission.VIEW_ORGANISATION)
def report(audit_id: int):
    """The closing record: edit conclusions etc. (team), sign and issue (lead)."""
    audit = _viewable_audit(audit_id)
    if request.method == "GET":
        return _report_page(audit)
    if Permission.CONDUCT_AUDIT not in _held():
        abort(403)
    form = forms.ReportForm()
    if form.validate_on_submit():
        try:
            services.save_report(audit, forms.report_values(form), actor=current_user, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if isinstance(exc, services.NotAllowed):
                abort(403)
            attach_error(form, exc)
        else:
            flash("Report saved.", "success")
            return redirect(url_for("conduct.report", audit_id=audit.id))
    return _report_page(audit, form=form, status=422)


def _held():
    from audit.auth.permissions import permissions_for

    return permissions_for(current_user.roles)


def _report_action(audit_id: int, action) -> Response:
    audit = _viewable_audit(audit_id)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        message = action(audit)
        db.session.commit()
    except services.NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("conduct.report", audit_id=audit_id))


@bp.post("/audits/<int:audit_id>/report/sign")
@requires(Permission.CONDUCT_AUDIT)
def sign_report(audit_id: int):
    """The lead auditor signs the report."""
    def _sign(audit):
        services.sign_report(audit, actor=current_user, now=utcnow())
        return "Report signed."
    return _report_action(audit_id, _sign)


@bp.post("/audits/<int:audit_id>/report/issue")
@requires(Permission.CONDUCT_AUDIT)
def issue_report(audit_id: int):
    """Issue the report: the audit is frozen from now on."""
    def _issue(audit):
        services.issue_report(audit, actor=current_user, now=utcnow())
        return "Report issued: the audit's records are now frozen."
    return _report_action(audit_id, _issue)


@bp.post("/audits/<int:audit_id>/report/acknowledge")
@requires(Permission.VIEW_ORGANISATION)
def acknowledge_report(audit_id: int):
    """The auditee representative acknowledges the report."""
    audit = _viewable_audit(audit_id)
    form = forms.AcknowledgeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.acknowledge_report(audit, name=form.name.data or "", actor=current_user, now=utcnow())
        db.session.commit()
    except services.NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Acknowledgement recorded.", "success")
    return redirect(url_for("conduct.report", audit_id=audit_id))


@bp.get("/audits/<int:audit_id>/report.pdf")
@requires(Permission.VIEW_ORGANISATION)
def report_pdf(audit_id: int):
    """The report as a PDF (WeasyPrint), with evidence thumbnails."""
    from audit.conduct.pdf import render_report_pdf

    audit = _viewable_audit(audit_id)
    pdf = render_report_pdf(services.report_contents(audit))
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{audit.reference}-report.pdf"'
    return response
