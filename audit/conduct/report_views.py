"""Conduct pages, continued: the audit report — the closing record, blockers, sign-off, issue,
acknowledgement and PDF. Routes on the conduct blueprint (installed by ``audit.conduct.init_app``)."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from audit.auth.permissions import Permission, permissions_for, requires
from audit.conduct import blockers, checklist_read, forms
from audit.conduct import report as audit_report  # the view functions below include report()
from audit.conduct.pdf import render_report_pdf
from audit.conduct.report_workflow import REPORT
from audit.conduct.views import bp, viewable_audit
from audit.core.errors import DomainError
from audit.core.forms import flashing, saving
from audit.core.workflow import refuse_unless_allowed
from audit.models import utcnow

# --- the report ------------------------------------------------------------------------------


def _report_contents(audit) -> dict:
    return audit_report.report_contents(
        audit, confidentiality=current_app.config.get("REPORT_CONFIDENTIALITY"))


def _report_page(audit, form=None, ack_form=None, status=200):
    contents = _report_contents(audit)
    report = contents["report"]
    if form is None:
        form = forms.ReportForm(obj=report)
    can = REPORT.allowed(audit, current_user)
    return render_template(
        "conduct/report.html", **contents, form=form,
        ack_form=ack_form or forms.AcknowledgeForm(), confirm=forms.ConfirmForm(),
        can=can, show_signoff=bool(can & {"sign_report", "issue_report", "acknowledge_report", "question_reason"}),
        blockers=blockers.report_blockers(audit, report, contents["checklist"]),
        reason_form=forms.QuestionReasonForm(),
    ), status


@bp.route("/audits/<int:audit_id>/report", methods=["GET", "POST"])
@requires(Permission.VIEW_ORGANISATION)
def report(audit_id: int):
    """The closing record: edit conclusions etc. (team), sign and issue (lead)."""
    audit = viewable_audit(audit_id)
    if request.method == "GET":
        return _report_page(audit)
    refuse_unless_allowed(REPORT, audit, "report")
    form = forms.ReportForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            audit_report.save_report(audit, forms.report_values(form), actor=current_user, now=utcnow())
        if saved.ok:
            flash("Report saved.", "success")
            return redirect(url_for("conduct.report", audit_id=audit.id))
    return _report_page(audit, form=form, status=422)


def _held():
    return permissions_for(current_user.roles)


def _report_action(audit_id: int, name: str, action, form=None) -> Response:
    """Run one REPORT workflow step posted from the report page: the workflow decides first,
    then ``action(audit)`` returns the success message; errors come back as a flash."""
    audit = viewable_audit(audit_id)
    refuse_unless_allowed(REPORT, audit, name)
    if not (form or forms.ConfirmForm()).validate_on_submit():
        abort(400)
    with flashing() as outcome:
        outcome.message = action(audit)
    return redirect(url_for("conduct.report", audit_id=audit_id))


@bp.post("/audits/<int:audit_id>/report/questions/<int:question_id>/reason")
@requires(Permission.CONDUCT_AUDIT)
def question_reason(audit_id: int, question_id: int):
    """Record why an NC verdict has no finding, or why a question was not covered."""
    form = forms.QuestionReasonForm()

    def _record(audit):
        if not form.validate():
            raise DomainError(" ".join(e for errs in form.errors.values() for e in errs))
        question = checklist_read.get_question(audit, question_id)
        blockers.record_question_reason(audit, question, kind=form.kind.data,
                                        reason=form.reason.data, actor=current_user, now=utcnow())
        return f"Reason recorded for {question.key}."
    return _report_action(audit_id, "question_reason", _record)


@bp.post("/audits/<int:audit_id>/report/sign")
@requires(Permission.CONDUCT_AUDIT)
def sign_report(audit_id: int):
    """The lead auditor signs the report."""
    def _sign(audit):
        audit_report.sign_report(audit, actor=current_user, now=utcnow())
        return "Report signed."
    return _report_action(audit_id, "sign_report", _sign)


@bp.post("/audits/<int:audit_id>/report/issue")
@requires(Permission.CONDUCT_AUDIT)
def issue_report(audit_id: int):
    """Issue the report: the audit is frozen from now on."""
    def _issue(audit):
        audit_report.issue_report(audit, actor=current_user, now=utcnow())
        return "Report issued: the audit's records are now frozen."
    return _report_action(audit_id, "issue_report", _issue)


@bp.post("/audits/<int:audit_id>/report/acknowledge")
@requires(Permission.VIEW_ORGANISATION)
def acknowledge_report(audit_id: int):
    """The auditee representative acknowledges the report."""
    form = forms.AcknowledgeForm()

    def _acknowledge(audit):
        audit_report.acknowledge_report(audit, name=form.name.data or "", actor=current_user, now=utcnow())
        return "Acknowledgement recorded."
    return _report_action(audit_id, "acknowledge_report", _acknowledge, form)


@bp.get("/audits/<int:audit_id>/report.pdf")
@requires(Permission.VIEW_ORGANISATION)
def report_pdf(audit_id: int):
    """The report as a PDF (WeasyPrint), with evidence thumbnails."""
    audit = viewable_audit(audit_id)
    pdf = render_report_pdf(_report_contents(audit))
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{audit.reference}-report.pdf"'
    return response
