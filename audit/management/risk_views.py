"""Pages of risk actions: plan one on a risk's page, close it, review its effectiveness, and the
owner's own list. Reading the register needs VIEW_ORGANISATION; each write asks
``risk_actions`` (the risk's owner or a quality manager plans and reviews, the action's owner
closes) and every form carries its CSRF token."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission, requires
from audit.core.forms import form_values, post_form
from audit.extensions import db
from audit.management import forms, risk_actions
from audit.management.local import risk_day
from audit.management.views import RISKS, _detail, bp
from audit.models import Risk, RiskAction, RiskActionStatus, utcnow

# The routes join the registers' blueprint ("management."): the risk page they re-render is a
# ``core.crud`` detail page, whose links are relative to that blueprint.


def risk_context(risk: Risk, user, **forms_in) -> dict:
    """The risk page's action table and forms (``RISKS.detail_context``)."""
    actions = list(db.session.scalars(select(RiskAction).where(RiskAction.risk_id == risk.id)
                                      .options(joinedload(RiskAction.owner)).order_by(RiskAction.id)))
    today = risk_day(risk, utcnow())  # the risk's site's date (``management.local``)
    reassigns = risk_actions.can_reassign(risk, user) and any(
        a.status is RiskActionStatus.OPEN for a in actions)
    return {"actions": actions, "today": today, "can_plan": risk_actions.can_plan(risk, user),
            "closable": {a.id for a in actions if risk_actions.can_close(a, user)},
            "can_reassign": reassigns,
            # Built only for those who may hand over: its choices cost a query.
            "reassign_form": forms_in.get("reassign_form") or (forms.ReassignForm(formdata=None) if reassigns
                                                               else None),
            "action_form": forms_in.get("action_form") or forms.RiskActionForm(formdata=None),
            "close_form": forms_in.get("close_form") or forms.RiskCloseForm(formdata=None),
            "review_form": forms_in.get("review_form") or forms.RiskReviewForm(
                formdata=None, data={"reviewed_on": today}),
            "failed": forms_in.get("failed")}


def _risk_page(risk_id: int, status: int, **forms_in):
    db.session.rollback()
    risk = db.session.get(Risk, risk_id) or abort(404)
    return _detail(RISKS, risk, status, **risk_context(risk, current_user, **forms_in))


def _submit(risk_id: int, form, form_name: str, change, message: str, failed: int | None = None):
    """Post one risk-page form (``core.forms.post_form``): back to the risk with ``message``, or
    the risk page again (422) with the refused form's input."""
    return post_form(form, change, message=message, to=url_for("management.risk_detail", obj_id=risk_id),
                     refused=lambda: _risk_page(risk_id, 422, failed=failed, **{form_name: form}))


@bp.post("/risks/<int:risk_id>/actions")
@requires(Permission.OWN_ACCOUNT)
def add_risk_action(risk_id: int):
    """Plan an action on a risk with an owner and a due date."""
    risk = db.session.get(Risk, risk_id) or abort(404)
    if not risk_actions.can_plan(risk, current_user):
        abort(403)
    form = forms.RiskActionForm()
    return _submit(risk_id, form, "action_form", lambda: risk_actions.add_action(
        risk, form_values(form), actor=current_user, now=utcnow()), "Action planned; its owner was told.")


def _action(action_id: int) -> RiskAction:
    return db.session.get(RiskAction, action_id) or abort(404)


@bp.post("/risk-actions/<int:action_id>/close")
@requires(Permission.OWN_ACCOUNT)
def close_risk_action(action_id: int):
    """The owner reports the action done, or withdraws it, with a note."""
    action = _action(action_id)
    if not risk_actions.can_close(action, current_user):
        abort(403)
    form = forms.RiskCloseForm()
    return _submit(action.risk_id, form, "close_form", lambda: risk_actions.close_action(
        action, form.outcome.data, form.note.data, actor=current_user, now=utcnow()),
        "Action closed.", action_id)


@bp.post("/risk-actions/<int:action_id>/effectiveness")
@requires(Permission.OWN_ACCOUNT)
def review_risk_action(action_id: int):
    """The risk's owner or a quality manager records whether a done action worked."""
    action = _action(action_id)
    if not risk_actions.can_plan(action.risk, current_user):
        abort(403)
    form = forms.RiskReviewForm()
    return _submit(action.risk_id, form, "review_form", lambda: risk_actions.review_effectiveness(
        action, form_values(form), actor=current_user, now=utcnow()), "Effectiveness recorded.", action_id)


@bp.post("/risk-actions/<int:action_id>/owner")
@requires(Permission.OWN_ACCOUNT)
def reassign_risk_action(action_id: int):
    """A coordinator or the risk's owner hands an open action to another active owner."""
    action = _action(action_id)
    if not risk_actions.can_reassign(action.risk, current_user):
        abort(403)
    form = forms.ReassignForm()
    return _submit(action.risk_id, form, "reassign_form", lambda: risk_actions.reassign_action(
        action, form.owner_id.data, actor=current_user, now=utcnow()),
        "Action handed over; the new and the previous owner were told.", action_id)


@bp.get("/risk-actions")
@requires(Permission.OWN_ACCOUNT)
def my_risk_actions():
    """The open risk actions the logged-in person owns, by due date."""
    actions = risk_actions.open_actions_for(current_user)
    now = utcnow()
    # Overdue as each risk's site counts days (``management.local``).
    return render_template("management/risk_actions.html", actions=actions,
                           overdue={a.id for a in actions if a.due_on < risk_day(a.risk, now)},
                           close_form=forms.RiskCloseForm(formdata=None))
