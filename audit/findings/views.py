"""Findings pages: list with filters, dashboard, each finding's workflow, policy, CSV import.

Views are thin: parse the form, call one service, commit, redirect. Which forms a finding's
page offers is decided here from the services' own permission predicates, so the page never
shows a button the service would refuse.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import model_choices, saving
from audit.core.workflow import refuse_unless_allowed
from audit.extensions import db
from audit.findings import charts, forms, queries
from audit.findings import services as fs
from audit.library.io import refuse_control_characters
from audit.models import (
    ActionKind,
    Audit,
    AuditKind,
    CorrectiveAction,
    CostCategory,
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    Grade,
    RootCauseMethod,
    Site,
    Supplier,
    Unit,
    User,
    utcnow,
)
from audit.trail.services import entries_for

bp = Blueprint("findings", __name__, url_prefix="/findings")

PAGE_SIZE = 100


def _today() -> dt.date:
    return utcnow().date()


def _facet(model, finding_column, blank: str, selected: int, order) -> list[tuple[int, str]]:
    """Choices of one filter: only what findings refer to (plus the current selection), so the
    filter stays short and fast however many units, sites or suppliers the organisation has."""
    used = model.id.in_(select(finding_column).where(finding_column.is_not(None)).distinct())
    wanted = or_(used, model.id == selected) if selected else used
    return model_choices(select(model).where(wanted).order_by(order), blank=blank)


def _filter_form() -> forms.FilterForm:
    form = forms.FilterForm(request.args)
    selected = {name: request.args.get(name, 0, type=int) for name in ("unit", "site", "supplier", "owner")}
    form.unit.choices = _facet(Unit, Finding.unit_id, "Any unit", selected["unit"], Unit.name)
    form.site.choices = _facet(Site, Finding.site_id, "Any site", selected["site"], Site.name)
    form.supplier.choices = _facet(Supplier, Finding.supplier_id, "Any supplier", selected["supplier"],
                                   Supplier.name)
    form.owner.choices = _facet(User, Finding.owner_id, "Anyone", selected["owner"], User.name)
    form.validate()
    return form


@bp.get("/")
@requires(Permission.VIEW_ORGANISATION)
def index():
    """All findings, filterable by status, grade, unit, site, supplier, clause, owner, overdue."""
    form = _filter_form()
    filters = queries.Filters.from_form(form, reader=current_user)
    page = max(request.args.get("page", 1, type=int), 1)
    today = _today()
    rows = queries.list_findings(filters, today, limit=PAGE_SIZE + 1,
                                 offset=(page - 1) * PAGE_SIZE)
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("findings/list.html", form=form, rows=rows, today=today, page=page,
                           has_more=has_more, args=args)


@bp.get("/dashboard")
@requires(Permission.VIEW_ORGANISATION)
def dashboard():
    """Ageing, days to close, clause heat map and trend, as server-rendered SVG."""
    form = _filter_form()
    filters = queries.Filters.from_form(form, reader=current_user)
    today = _today()
    data = queries.dashboard(filters, today)
    svgs = {
        "ageing": Markup(charts.bar_chart(data["ageing"], title="Open findings by age")),
        "trend": Markup(charts.trend_chart(data["trend"], title="Findings raised and closed "
                                                                "per month")),
        "heat": Markup(charts.heat_map(data["heat"], title="Nonconformities by clause")),
    }
    return render_template("findings/dashboard.html", form=form, data=data, svgs=svgs,
                           today=today)


def _load(finding_id: int) -> Finding:
    finding = db.session.scalar(
        select(Finding).where(Finding.id == finding_id).options(
            joinedload(Finding.audit), joinedload(Finding.unit).joinedload(Unit.owner),
            joinedload(Finding.site), joinedload(Finding.supplier), joinedload(Finding.owner),
            joinedload(Finding.raised_by), joinedload(Finding.verified_by),
            joinedload(Finding.follow_up_audit), joinedload(Finding.repeat_of),
            selectinload(Finding.clauses),
            selectinload(Finding.actions).joinedload(CorrectiveAction.owner),
            selectinload(Finding.costs),
            selectinload(Finding.extensions).joinedload(ExtensionRequest.requested_by),
        ))
    if finding is None or not fs.can_read(finding, current_user):
        abort(404)  # what a person may not read does not exist for them
    return finding


def _owner_choices(finding: Finding) -> list[tuple[int, str]]:
    users = db.session.scalars(select(User).where(User.is_active.is_(True),
                                                  User.supplier_id.is_(None))
                               .order_by(User.name)).all()
    return [(u.id, u.name) for u in users]


#: The form each workflow action of a finding's page takes (``FINDING`` and ``ACTION`` actions).
ACTION_FORMS = {
    "issue": (forms.ConfirmForm, "issue"),
    "assign": (forms.AssignOwnerForm, "assign"),
    "decide": (forms.DecideForm, "decide"),
    "respond": (forms.ResponseForm, "respond"),
    "accept": (forms.ConfirmForm, "accept"),
    "reject": (forms.ReasonForm, "reject"),
    "add_action": (forms.AddActionForm, "add"),
    "complete_action": (forms.CompleteActionForm, "complete"),
    "verify": (forms.VerifyForm, "verify"),
    "close": (forms.CloseForm, "close"),
    "reopen": (forms.ReasonForm, "reopen"),
    "request_extension": (forms.ExtensionForm, "ext"),
    "decide_extension": (forms.ExtensionDecisionForm, "extd"),
    "add_cost": (forms.CostForm, "cost"),
}


def _form(name: str, finding: Finding, *, formdata=None):
    form_cls, prefix = ACTION_FORMS[name]
    form = form_cls(prefix=prefix) if formdata is None else form_cls(formdata=formdata, prefix=prefix)
    if hasattr(form, "owner_id"):
        form.owner_id.choices = _owner_choices(finding)
    return form


def available_forms(finding: Finding, user) -> dict:
    """The forms of the actions ``user`` may take on ``finding`` now, as its workflow decides."""
    allowed = fs.FINDING.allowed(finding, user)
    if completable_actions(finding, user):
        allowed.add("complete_action")
    return {name: _form(name, finding) for name in ACTION_FORMS if name in allowed}


def completable_actions(finding: Finding, user) -> set[int]:
    """Ids of the finding's actions ``user`` may mark implemented now."""
    return {a.id for a in finding.actions if fs.ACTION.decide(a, user, "complete_action")}


def _render_detail(finding: Finding, failed: dict | None = None, status: int = 200):
    from audit.programme.stage2 import stage2_state

    available = available_forms(finding, current_user)
    if failed:
        available.update(failed)
    return render_template(
        "findings/detail.html", finding=finding, forms=available, today=_today(),
        completable=completable_actions(finding, current_user),
        grade_name=fs.grade_label(finding.audit.kind, finding.grade),
        trail=entries_for(finding), scar_due=fs.scar_stage_due(finding),
        ishikawa_categories=forms.ISHIKAWA_CATEGORIES, stage2=stage2_state(finding, _today()),
    ), status


@bp.get("/<int:finding_id>")
@requires(Permission.VIEW_ORGANISATION)
def detail(finding_id: int):
    """One finding: statement, evidence, response, actions, verification, trail."""
    return _render_detail(_load(finding_id))


def _run(finding_id: int, name: str, call, message: str, *, check=None):
    """Check the workflow (``check(finding)``, default: the finding's own), validate the action's
    form, call the service, commit; on a refused form re-render the page with the user's input."""
    finding = _load(finding_id)
    if check is not None:
        check(finding)
    else:
        refuse_unless_allowed(fs.FINDING, finding, name)
    form = _form(name, finding, formdata=request.form)
    if form.validate_on_submit():
        with saving(form) as saved:
            call(finding, form)
        if not saved.ok:
            return _render_detail(_load(finding_id), {name: form}, 400)
        flash(message, "success")
        return redirect(url_for(".detail", finding_id=finding_id))
    return _render_detail(finding, {name: form}, 400)


def _actions_from(form) -> list[dict]:
    rows = []
    for i in range(1, forms.ACTION_ROWS + 1):
        description = (getattr(form, f"action{i}_description").data or "").strip()
        due = getattr(form, f"action{i}_due_on").data
        if not description and due is None:
            continue
        rows.append({"kind": ActionKind(getattr(form, f"action{i}_kind").data),
                     "description": description, "due_on": due})
    return rows


@bp.post("/<int:finding_id>/issue")
@requires(Permission.VERIFY_FINDING)
def issue(finding_id: int):
    """Issue a draft to the auditee (deadlines start)."""
    return _run(finding_id, "issue",
                lambda f, form: fs.issue_finding(f, actor=current_user, now=utcnow()),
                "Finding issued.")


@bp.post("/<int:finding_id>/assign")
@requires(Permission.VERIFY_FINDING)
def assign(finding_id: int):
    """Name the auditee-side owner of an issued NC."""
    def call(f, form):
        owner = db.session.get(User, form.owner_id.data)
        fs.assign_owner(f, owner, actor=current_user, now=utcnow())
    return _run(finding_id, "assign", call, "Owner assigned.")


@bp.post("/<int:finding_id>/respond")
@requires(Permission.RESPOND_FINDING)
def respond(finding_id: int):
    """Submit containment, extent, root cause and actions."""
    def call(f, form):
        fs.submit_response(
            f, containment=form.containment.data, extent_check=form.extent_check.data,
            root_cause_method=RootCauseMethod(form.root_cause_method.data),
            whys=[getattr(form, f"why{i}").data for i in range(1, forms.WHY_ROWS + 1)],
            ishikawa={c: getattr(form, f"ishikawa_{c}").data
                      for c in forms.ISHIKAWA_CATEGORIES},
            root_cause=form.root_cause.data, actions=_actions_from(form),
            actor=current_user, now=utcnow())
    return _run(finding_id, "respond", call, "Response submitted.")


@bp.post("/<int:finding_id>/accept")
@requires(Permission.VERIFY_FINDING)
def accept(finding_id: int):
    """Accept the submitted response."""
    return _run(finding_id, "accept",
                lambda f, form: fs.accept_response(f, actor=current_user, now=utcnow()),
                "Response accepted: actions are in progress.")


@bp.post("/<int:finding_id>/reject")
@requires(Permission.VERIFY_FINDING)
def reject(finding_id: int):
    """Reject the submitted response with a reason."""
    return _run(finding_id, "reject",
                lambda f, form: fs.reject_response(f, form.reason.data, actor=current_user,
                                                   now=utcnow()),
                "Response rejected: the owner answers again.")


@bp.post("/<int:finding_id>/decide")
@requires(Permission.RESPOND_FINDING)
def decide(finding_id: int):
    """Accept or decline an OFI / observation."""
    return _run(finding_id, "decide",
                lambda f, form: fs.decide_finding(
                    f, accept=form.decision.data == "accept", rationale=form.rationale.data,
                    action_description=form.action_description.data,
                    action_due_on=form.action_due_on.data, actor=current_user, now=utcnow()),
                "Decision recorded.")


@bp.post("/<int:finding_id>/actions")
@requires(Permission.RESPOND_FINDING)
def add_action(finding_id: int):
    """Plan a further action."""
    return _run(finding_id, "add_action",
                lambda f, form: fs.add_action(
                    f, kind=ActionKind(form.kind.data), description=form.description.data,
                    due_on=form.due_on.data, actor=current_user, now=utcnow()),
                "Action planned.")


@bp.post("/<int:finding_id>/actions/<int:action_id>/complete")
@requires(Permission.VIEW_ORGANISATION)
def complete_action(finding_id: int, action_id: int):
    """Mark one action implemented (its owner or the finding's owner)."""
    def action_of(f):
        return next((a for a in f.actions if a.id == action_id), None) or abort(404)

    def call(f, form):
        fs.complete_action(action_of(f), form.evidence.data, actor=current_user, now=utcnow())
    return _run(finding_id, "complete_action", call, "Action completed.",
                check=lambda f: refuse_unless_allowed(fs.ACTION, action_of(f), "complete_action"))


@bp.post("/<int:finding_id>/verify")
@requires(Permission.VERIFY_FINDING)
def verify(finding_id: int):
    """Effectiveness review: effective closes, not effective returns to action."""
    return _run(finding_id, "verify",
                lambda f, form: fs.verify_effectiveness(
                    f, effective=form.effective.data == "yes", note=form.note.data,
                    actor=current_user, now=utcnow()),
                "Verification recorded.")


@bp.post("/<int:finding_id>/close")
@requires(Permission.VERIFY_FINDING)
def close(finding_id: int):
    """Close a minor / OFI / observation where the rules allow it."""
    return _run(finding_id, "close",
                lambda f, form: fs.close_finding(f, note=form.note.data, actor=current_user,
                                                 now=utcnow()),
                "Finding closed.")


@bp.post("/<int:finding_id>/reopen")
@requires(Permission.VERIFY_FINDING)
def reopen(finding_id: int):
    """Raise a new finding linked to this closed one."""
    finding = _load(finding_id)
    refuse_unless_allowed(fs.FINDING, finding, "reopen")
    form = _form("reopen", finding, formdata=request.form)
    if form.validate_on_submit():
        with saving(form) as saved:
            new = fs.reopen_finding(finding, form.reason.data, actor=current_user, now=utcnow())
        if not saved.ok:
            return _render_detail(_load(finding_id), {"reopen": form}, 400)
        flash(f"Raised {new.reference} as a repeat of {finding.reference}.", "success")
        return redirect(url_for(".detail", finding_id=new.id))
    return _render_detail(finding, {"reopen": form}, 400)


@bp.post("/<int:finding_id>/extensions")
@requires(Permission.VIEW_ORGANISATION)
def request_extension(finding_id: int):
    """The owner asks for more time (object-level check in the service)."""
    return _run(finding_id, "request_extension",
                lambda f, form: fs.request_extension(
                    f, deadline=form.deadline.data, new_due_on=form.new_due_on.data,
                    reason=form.reason.data, actor=current_user, now=utcnow()),
                "Extension requested.")


@bp.post("/<int:finding_id>/extensions/decide")
@requires(Permission.MANAGE_PROGRAMME)
def decide_extension(finding_id: int):
    """A coordinator decides the pending extension request."""
    def call(f, form):
        ext = next(e for e in f.extensions if e.status is ExtensionStatus.PENDING)  # the workflow checked
        fs.decide_extension(ext, approve=form.approve.data == "yes", note=form.note.data,
                            actor=current_user, now=utcnow())
    return _run(finding_id, "decide_extension", call, "Extension decided.")


@bp.post("/<int:finding_id>/costs")
@requires(Permission.VIEW_ORGANISATION)
def add_cost(finding_id: int):
    """Record a cost of poor quality on a nonconformity."""
    return _run(finding_id, "add_cost",
                lambda f, form: fs.add_cost(
                    f, category=CostCategory(form.category.data), amount=form.amount.data,
                    currency=form.currency.data, incurred_on=form.incurred_on.data,
                    note=form.note.data, actor=current_user, now=utcnow()),
                "Cost recorded.")


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.VERIFY_FINDING)
def new():
    """Record a finding by hand (e.g. from a certification body's report)."""
    form = forms.NewFindingForm()
    audits = queries.recordable_audits(current_user)
    form.audit_id.choices = [(a.id, f"{a.reference} — {a.title}") for a in audits]
    if request.method == "GET" and request.args.get("audit_id", type=int):
        form.audit_id.data = request.args.get("audit_id", type=int)
    if form.validate_on_submit():
        with saving(form) as saved:
            audit = db.session.get(Audit, form.audit_id.data)
            if audit is None:
                raise DomainError("Choose the audit.", field="audit_id")
            finding = fs.record_manual_finding(
                audit, grade=Grade(form.grade.data), statement=form.statement.data,
                evidence=form.evidence.data, clause_numbers=form.clauses.data,
                external_reference=form.external_reference.data, actor=current_user,
                now=utcnow())
        if saved.ok:
            flash(f"Draft {finding.reference} recorded: issue it when ready.", "success")
            return redirect(url_for(".detail", finding_id=finding.id))
    status = 400 if request.method == "POST" else 200
    return render_template("findings/new.html", form=form), status


# --- deadline policy -------------------------------------------------------------------------

@bp.route("/policy", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def policy():
    """Edit the response / closure deadlines per audit kind and grade."""
    form = forms.PolicyForm()
    form.kind.choices = [(k.value, k.label) for k in AuditKind]
    if form.validate_on_submit():
        with saving(form) as saved:
            fs.set_deadline_policy(AuditKind(form.kind.data), Grade(form.grade.data),
                                   response_days=form.response_days.data,
                                   closure_days=form.closure_days.data,
                                   label=form.label.data, is_enabled=form.is_enabled.data,
                                   actor=current_user, now=utcnow())
        if saved.ok:
            flash("Deadline policy saved.", "success")
            return redirect(url_for(".policy"))
    status = 400 if request.method == "POST" else 200
    return render_template("findings/policy.html", form=form, rows=fs.policy_rows()), status


# --- third-party findings from CSV ------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
@requires(Permission.VERIFY_FINDING)
def import_cb():
    """Enter a certification body's findings from a CSV file."""
    form = forms.ImportForm()
    form.audit_id.choices = [(a.id, f"{a.reference} — {a.title}") for a in db.session.scalars(
        select(Audit).where(Audit.kind == AuditKind.THIRD_PARTY).order_by(Audit.reference))]
    if form.validate_on_submit():
        text = form.text.data or ""
        if form.file.data:
            try:
                text = form.file.data.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
        with saving(form) as saved:
            if text is None:
                raise DomainError("The file is not UTF-8 text (save it as CSV UTF-8).",
                                  field="file")
            refuse_control_characters(text)  # an uploaded file passes the request edge unread
            audit = db.session.get(Audit, form.audit_id.data)
            if audit is None:
                raise DomainError("Choose the audit.", field="audit_id")
            created = fs.import_cb_findings(audit, text, actor=current_user, now=utcnow())
        if saved.ok:
            flash(f"{len(created)} findings entered and issued.", "success")
            return redirect(url_for(".index", status="open"))
    status = 400 if request.method == "POST" else 200
    return render_template("findings/import.html", form=form,
                           columns=fs.CSV_COLUMNS), status


def grade_pill(grade: Grade) -> str:
    return {"major": "bad", "minor": "warn", "observation": "", "ofi": "",
            "good_practice": "ok"}[grade.value]


@bp.app_template_filter("grade_class")
def _grade_class(grade: Grade) -> str:
    return grade_pill(grade)
