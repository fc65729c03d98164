"""SCAR pages for supplier contacts: their own company's requests only, stage by stage.

Every route loads the SCAR through ``_own_scar``, which answers 404 for anything that is not a
SCAR of the contact's own company: a supplier learns nothing about other findings, not even
that they exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.forms import saving
from audit.core.workflow import refuse_unless_allowed
from audit.extensions import db
from audit.findings import forms
from audit.findings import services as fs
from audit.findings.deadlines import DEADLINE_LABELS
from audit.findings.extension_requests import extendable_deadlines
from audit.models import (
    EIGHT_D_DISCIPLINES,
    ActionKind,
    Audit,
    CorrectiveAction,
    Finding,
    FindingStatus,
    Role,
    RootCauseMethod,
    utcnow,
)

bp = Blueprint("scar", __name__, url_prefix="/scar")


def _scope(stmt):
    """Only SCARs of the contact's company (an administrator sees all)."""
    stmt = stmt.where(Finding.scar_stage.is_not(None))
    if Role.ADMIN in current_user.roles and current_user.supplier_id is None:
        return stmt
    if current_user.supplier_id is None:
        return stmt.where(False)
    return stmt.where(Finding.supplier_id == current_user.supplier_id)


def _own_scar(finding_id: int) -> Finding:
    finding = db.session.scalar(_scope(select(Finding).where(Finding.id == finding_id)).options(
        joinedload(Finding.audit), joinedload(Finding.supplier),
        selectinload(Finding.clauses), selectinload(Finding.extensions),
        selectinload(Finding.actions).joinedload(CorrectiveAction.owner)))
    if finding is None:
        abort(404)
    return finding


@bp.get("/")
@requires(Permission.RESPOND_SCAR)
def index():
    """The contact's own SCARs, newest first; "overdue" by the date at each audited site, as the
    sweep counts it (``deadlines.local_date``)."""
    rows = db.session.scalars(_scope(select(Finding)).options(
        # The audit's site and supplier give its zone: joined, not one lazy load per SCAR.
        joinedload(Finding.audit).options(joinedload(Audit.site), joinedload(Audit.supplier)),
        selectinload(Finding.clauses))
        .order_by(Finding.issued_at.desc(), Finding.id.desc())).unique().all()
    now = utcnow()
    overdue = {f.id for f in rows if f.is_overdue(fs.local_date(f, now))}
    return render_template("scar/list.html", rows=rows, overdue=overdue)


#: The form each SCAR action takes (``SCAR`` workflow, plus ``ACTION`` for completing one and
#: ``FINDING`` for asking more time, the finding's own extension request).
ACTION_FORMS = {
    "acknowledge": (forms.ConfirmForm, "ack"),
    "containment": (forms.ScarContainmentForm, "d3"),
    "root_cause": (forms.ScarRootCauseForm, "d4"),
    "plan": (forms.ScarPlanForm, "d5"),
    "complete_action": (forms.CompleteActionForm, "complete"),
    "request_extension": (forms.ExtensionForm, "ext"),
}

#: The finding's deadlines as a supplier knows them: its response is the action plan, its
#: closure the implementation (``Finding.scar_due_dates``).
EXTENSION_DEADLINES = {"response": DEADLINE_LABELS["action_plan"],
                       "closure": DEADLINE_LABELS["implementation"]}


def _form(name: str, finding: Finding):
    form_cls, prefix = ACTION_FORMS[name]
    form = form_cls(prefix=prefix)
    if name == "request_extension":
        form.deadline.choices = [(d, EXTENSION_DEADLINES[d]) for d in extendable_deadlines(finding)]
    return form


def _completable(finding: Finding) -> set[int]:
    return {a.id for a in finding.actions if fs.ACTION.decide(a, current_user, "complete_action")}


def _forms_for(finding: Finding) -> dict:
    """The forms of the steps the supplier may take now, as the workflows decide."""
    allowed = fs.SCAR.allowed(finding, current_user)
    if _completable(finding):
        allowed.add("complete_action")
    if fs.FINDING.decide(finding, current_user, "request_extension").allowed:
        allowed.add("request_extension")
    return {name: _form(name, finding) for name in ACTION_FORMS if name in allowed}


def sent_back_because(finding: Finding) -> str | None:
    """Why the SCAR waits for the supplier again, in the words of whoever sent it back: the
    verifier's note when the actions were found not effective after the last response was
    submitted, else the reason the last response was rejected; None when nothing was sent back."""
    if finding.status is not FindingStatus.AWAITING_RESPONSE:
        return None
    not_effective = finding.recurrence_count and finding.verification_note and finding.verified_at
    if not_effective and (finding.response_submitted_at is None
                          or finding.verified_at > finding.response_submitted_at):
        return f"Your actions were verified not effective: {finding.verification_note}"
    if finding.rejection_reason:
        return f"Your previous response was not accepted: {finding.rejection_reason}"
    return None


def _render(finding: Finding, failed: dict | None = None, status: int = 200):
    available = _forms_for(finding)
    available.update(failed or {})
    return render_template("scar/detail.html", finding=finding, forms=available,
                           completable=_completable(finding), sent_back=sent_back_because(finding),
                           extension_deadlines=EXTENSION_DEADLINES,
                           due=fs.scar_stage_due(finding), today=fs.local_date(finding, utcnow()),
                           analysis_fields=forms.ANALYSIS_FIELDS,
                           eight_d_disciplines=EIGHT_D_DISCIPLINES), status


@bp.get("/<int:finding_id>")
@requires(Permission.RESPOND_SCAR)
def detail(finding_id: int):
    """One SCAR with the stage the supplier is at and the form for the next one."""
    return _render(_own_scar(finding_id))


def _run(finding_id: int, name: str, call, message: str, *, check=None):
    """Check the workflow (``check(finding)``, default: the SCAR's own), validate the stage's
    form, call the service, commit; on a refused form re-render the page with the input."""
    finding = _own_scar(finding_id)
    if check is not None:
        check(finding)
    else:
        refuse_unless_allowed(fs.SCAR, finding, name)
    form = _form(name, finding)
    if form.validate_on_submit():
        with saving(form) as saved:
            call(finding, form)
        if not saved.ok:
            return _render(_own_scar(finding_id), {name: form}, 400)
        flash(message, "success")
        return redirect(url_for(".detail", finding_id=finding_id))
    return _render(finding, {name: form}, 400)


@bp.post("/<int:finding_id>/acknowledge")
@requires(Permission.RESPOND_SCAR)
def acknowledge(finding_id: int):
    """D1/D2: confirm receipt."""
    return _run(finding_id, "acknowledge",
                lambda f, form: fs.acknowledge_scar(f, actor=current_user, now=utcnow()),
                "SCAR acknowledged.")


@bp.post("/<int:finding_id>/containment")
@requires(Permission.RESPOND_SCAR)
def containment(finding_id: int):
    """D3: containment."""
    return _run(finding_id, "containment",
                lambda f, form: fs.submit_scar_containment(f, form.containment.data,
                                                           actor=current_user, now=utcnow()),
                "Containment recorded.")


@bp.post("/<int:finding_id>/root-cause")
@requires(Permission.RESPOND_SCAR)
def root_cause(finding_id: int):
    """D4: root cause and extent."""
    return _run(finding_id, "root_cause",
                lambda f, form: fs.submit_scar_root_cause(
                    f, root_cause_method=RootCauseMethod(form.root_cause_method.data),
                    root_cause=form.root_cause.data, extent_check=form.extent_check.data,
                    **forms.analysis_from(form), actor=current_user, now=utcnow()),
                "Root cause recorded.")


@bp.post("/<int:finding_id>/plan")
@requires(Permission.RESPOND_SCAR)
def plan(finding_id: int):
    """D5/D6: the action plan; submits the response for review."""
    def call(f, form):
        rows = []
        for i in range(1, forms.ACTION_ROWS + 1):
            description = (getattr(form, f"action{i}_description").data or "").strip()
            due = getattr(form, f"action{i}_due_on").data
            if description or due:
                rows.append({"kind": ActionKind(getattr(form, f"action{i}_kind").data),
                             "description": description, "due_on": due})
        fs.submit_scar_plan(f, rows, actor=current_user, now=utcnow())
    return _run(finding_id, "plan", call,
                "Action plan submitted for review.")


@bp.post("/<int:finding_id>/actions/<int:action_id>/complete")
@requires(Permission.RESPOND_SCAR)
def complete_action(finding_id: int, action_id: int):
    """D7: an action implemented, with evidence."""
    def action_of(f):
        return next((a for a in f.actions if a.id == action_id), None) or abort(404)

    def call(f, form):
        fs.complete_action(action_of(f), form.evidence.data, actor=current_user, now=utcnow())
    return _run(finding_id, "complete_action", call, "Action marked implemented.",
                check=lambda f: refuse_unless_allowed(fs.ACTION, action_of(f), "complete_action"))


@bp.post("/<int:finding_id>/extensions")
@requires(Permission.RESPOND_SCAR)
def request_extension(finding_id: int):
    """Ask for more time on the action plan or the implementation: the finding's own extension
    request (its rules and its decision by a coordinator), taken from the SCAR page."""
    return _run(finding_id, "request_extension",
                lambda f, form: fs.request_extension(
                    f, deadline=form.deadline.data, new_due_on=form.new_due_on.data,
                    reason=form.reason.data, actor=current_user, now=utcnow()),
                "Extension requested: a coordinator decides, and you will be told.",
                check=lambda f: refuse_unless_allowed(fs.FINDING, f, "request_extension"))
