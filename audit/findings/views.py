"""Findings pages: each finding's page and its workflow (the register, dashboard, policy and
imports are in ``register_views``).

Views are thin: parse the form, call one service, commit, redirect. Which forms a finding's
page offers is decided here from the services' own permission predicates, so the page never
shows a button the service would refuse.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.forms import saving
from audit.core.workflow import refuse_unless_allowed
from audit.extensions import db
from audit.findings import forms
from audit.findings import services as fs
from audit.findings.extension_requests import extendable_deadlines
from audit.models import (
    EIGHT_D_DISCIPLINES,
    ActionKind,
    CorrectiveAction,
    CostCategory,
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    RootCauseMethod,
    Unit,
    User,
    utcnow,
)
from audit.trail.services import entries_for

bp = Blueprint("findings", __name__, url_prefix="/findings")



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


def _people(finding: Finding) -> list[User]:
    """Active people of the organisation, with roles (one query, cached for the request)."""
    cache = request.environ.setdefault("audit.findings_people", {})
    if finding.id not in cache:
        cache[finding.id] = db.session.scalars(
            select(User).where(User.is_active.is_(True), User.supplier_id.is_(None))
            .options(selectinload(User.role_links)).order_by(User.name)).all()
    return cache[finding.id]


def _owner_choices(finding: Finding) -> list[tuple[int, str]]:
    """Who may own the finding: only people who can answer it (nobody is given a dead end)."""
    return [(u.id, u.name) for u in _people(finding) if fs.could_own(finding, u)]


def _action_owner_choices(finding: Finding, blank: str | None) -> list[tuple[int, str]]:
    """Who may carry an action: anyone active in the organisation."""
    head = [(0, blank)] if blank else []
    return head + [(u.id, u.name) for u in _people(finding)]


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
    "reassign_action": (forms.ActionOwnerForm, "reassign"),
    "remove_action": (forms.ReasonForm, "remove"),
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
    if name == "request_extension":
        form.deadline.choices = [(d, d.capitalize()) for d in extendable_deadlines(finding)]
    for f in form:
        if f.short_name.startswith("action") and f.short_name.endswith("owner_id"):
            f.choices = _action_owner_choices(finding, "The finding's owner" if name != "reassign_action" else None)
    return form


def available_forms(finding: Finding, user) -> dict:
    """The forms of the actions ``user`` may take on ``finding`` now, as its workflow decides."""
    allowed = fs.FINDING.allowed(finding, user)
    for step in ACTION_STEPS:
        if action_grants(finding, user, step):
            allowed.add(step)
    return {name: _form(name, finding) for name in ACTION_FORMS if name in allowed}


#: The steps of the ``ACTION`` workflow a finding's page offers per action row.
ACTION_STEPS = ("complete_action", "reassign_action", "remove_action")


def action_grants(finding: Finding, user, step: str) -> set[int]:
    """Ids of the finding's actions on which ``user`` may take ``step`` now."""
    return {a.id for a in finding.actions if fs.ACTION.decide(a, user, step)}


def completable_actions(finding: Finding, user) -> set[int]:
    """Ids of the finding's actions ``user`` may mark implemented now."""
    return action_grants(finding, user, "complete_action")


def _render_detail(finding: Finding, failed: dict | None = None, status: int = 200):
    from audit.programme.stage2 import stage2_state

    available = available_forms(finding, current_user)
    if failed:
        available.update(failed)
    # "Overdue" and the stage-2 clock count days at the audited site, as the sweep does.
    today = fs.local_date(finding, utcnow())
    return render_template(
        "findings/detail.html", finding=finding, forms=available, today=today,
        completable=completable_actions(finding, current_user),
        reassignable=action_grants(finding, current_user, "reassign_action"),
        removable=action_grants(finding, current_user, "remove_action"),
        grade_name=fs.grade_label(finding.audit.kind, finding.grade),
        trail=entries_for(finding), scar_due=fs.scar_stage_due(finding),
        ishikawa_categories=forms.ISHIKAWA_CATEGORIES, eight_d_disciplines=EIGHT_D_DISCIPLINES,
        stage2=stage2_state(finding, today),
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
        owner_id = getattr(form, f"action{i}_owner_id", None)
        owner = db.session.get(User, owner_id.data) if owner_id is not None and owner_id.data else None
        rows.append({"kind": ActionKind(getattr(form, f"action{i}_kind").data),
                     "description": description, "due_on": due, "owner": owner})
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
            **forms.analysis_from(form), root_cause=form.root_cause.data, actions=_actions_from(form),
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
                    due_on=form.due_on.data, actor=current_user, now=utcnow(),
                    owner=db.session.get(User, form.action_owner_id.data) if form.action_owner_id.data else None),
                "Action planned.")


def _action_of(finding: Finding, action_id: int) -> CorrectiveAction:
    return next((a for a in finding.actions if a.id == action_id), None) or abort(404)


@bp.post("/<int:finding_id>/actions/<int:action_id>/reassign")
@requires(Permission.VIEW_ORGANISATION)
def reassign_action(finding_id: int, action_id: int):
    """Give one action to another owner (audit side or the finding's owner)."""
    def call(f, form):
        fs.reassign_action(_action_of(f, action_id), db.session.get(User, form.action_owner_id.data),
                           actor=current_user, now=utcnow())
    return _run(finding_id, "reassign_action", call, "Action reassigned.",
                check=lambda f: refuse_unless_allowed(fs.ACTION, _action_of(f, action_id), "reassign_action"))


@bp.post("/<int:finding_id>/actions/<int:action_id>/remove")
@requires(Permission.VIEW_ORGANISATION)
def remove_action(finding_id: int, action_id: int):
    """Withdraw one open action, with a reason (kept as cancelled)."""
    def call(f, form):
        fs.remove_action(_action_of(f, action_id), form.reason.data, actor=current_user, now=utcnow())
    return _run(finding_id, "remove_action", call, "Action withdrawn.",
                check=lambda f: refuse_unless_allowed(fs.ACTION, _action_of(f, action_id), "remove_action"))


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
