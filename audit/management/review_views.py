"""Management review pages: plan, read the pack (page, PDF, XLSX), hold, record outputs, sign off."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.forms import form_values, post_form, saving
from audit.extensions import db
from audit.management import forms, reviews
from audit.management import pack as packs
from audit.management.local import action_day, person_day, review_day
from audit.management.pack import NOTHING, build_review_pack
from audit.models import ManagementReview, ReviewAction, utcnow
from audit.reports.services import pack_pdf
from audit.trail.services import entries_for

bp = Blueprint("reviews", __name__, url_prefix="/management/reviews")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _load(review_id: int) -> ManagementReview:
    review = db.session.scalar(select(ManagementReview).where(ManagementReview.id == review_id).options(
        joinedload(ManagementReview.chair), joinedload(ManagementReview.signed_off_by),
        selectinload(ManagementReview.invitees),
        selectinload(ManagementReview.outputs).joinedload(ReviewAction.owner)))
    return review or abort(404)


@bp.get("/")
@requires(Permission.VIEW_REPORTS)
def review_list():
    """Every management review, latest period first."""
    rows = db.session.scalars(select(ManagementReview).options(
        joinedload(ManagementReview.chair), selectinload(ManagementReview.outputs))
        .order_by(ManagementReview.period_end.desc())).all()
    return render_template("management/review_list.html", reviews=rows)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_QUALITY)
def review_new():
    """Plan a management review for a period."""
    form = forms.ReviewForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            review = reviews.plan_review(form_values(form), actor=current_user, now=utcnow())
        if saved.ok:
            flash("Management review planned.", "success")
            return redirect(url_for(".review_detail", review_id=review.id))
    return render_template("management/review_form.html", form=form, review=None), \
        422 if form.is_submitted() else 200


@bp.route("/<int:review_id>/edit", methods=["GET", "POST"])
@requires(Permission.VIEW_REPORTS)
def review_edit(review_id: int):
    """Change a planned review (its chair or a quality manager)."""
    review = _load(review_id)
    if not reviews.allowed_actions(review, current_user)["edit"]:
        abort(403)
    form = forms.ReviewForm(data=None if request.method == "POST" else {
        "title": review.title, "period_start": review.period_start, "period_end": review.period_end,
        "planned_on": review.planned_on, "chair_id": review.chair_id or 0, "attendees": review.attendees,
        "invitee_ids": [u.id for u in review.invitees]})
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            reviews.update_review(review, form_values(form), actor=current_user, now=utcnow())
        if saved.ok:
            flash("Review saved.", "success")
            return redirect(url_for(".review_detail", review_id=review.id))
    return render_template("management/review_form.html", form=form, review=review), \
        422 if form.is_submitted() else 200


def _page(review, status=200, **forms_in):
    allowed = reviews.allowed_actions(review, current_user)
    reassigns = reviews.can_run(review, current_user) and any(o.completed_at is None for o in review.outputs)
    context = {
        "review": review, "allowed": allowed, "pack": build_review_pack(
            review.period_start, review.period_end, review=review, today=review_day(utcnow())),
        "nothing": NOTHING, "trail": entries_for(review),
        "hold_form": forms_in.get("hold_form") or forms.HoldForm(formdata=None, data={
            "held_on": review.held_on or person_day(current_user, utcnow()), "attendees": review.attendees}),
        "output_form": forms_in.get("output_form") or forms.OutputForm(formdata=None),
        "confirm_form": forms.ConfirmForm(formdata=None),
        "cancel_form": forms_in.get("cancel_form") or forms.CancelForm(formdata=None),
        # Built only when an open output can be handed over: its choices cost a query.
        "can_reassign": reassigns,
        "reassign_form": forms_in.get("reassign_form") or (forms.ReassignForm(formdata=None) if reassigns
                                                           else None),
        "failed": forms_in.get("failed"),
        # Each output is overdue by its owner's day (``local.action_day``).
        "overdue": {a.id for a in review.outputs if a.overdue_on(action_day(a, utcnow()))},
    }
    return render_template("management/review_detail.html", **context), status


@bp.get("/<int:review_id>")
@requires(Permission.VIEW_REPORTS)
def review_detail(review_id: int):
    """One review: its input pack (frozen at the period end), the meeting, its outputs."""
    return _page(_load(review_id))


def _refused(review_id: int, **forms_in):
    """The review page again (422) with a refused form's input; nothing of the attempt kept."""
    db.session.rollback()
    return _page(_load(review_id), 422, **forms_in)


@bp.post("/<int:review_id>/hold")
@requires(Permission.VIEW_REPORTS)
def review_hold(review_id: int):
    """Record that the meeting took place, with attendees and minutes."""
    review = _load(review_id)
    form = forms.HoldForm()
    return post_form(form, lambda: reviews.hold_review(review, form_values(form), actor=current_user, now=utcnow()),
                     message="Meeting recorded; the next review is planned.",
                     to=url_for(".review_detail", review_id=review_id),
                     refused=lambda: _refused(review_id, hold_form=form))


@bp.post("/<int:review_id>/cancel")
@requires(Permission.VIEW_REPORTS)
def review_cancel(review_id: int):
    """Call a planned review off, saying why (calendars show it cancelled)."""
    review = _load(review_id)
    form = forms.CancelForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            reviews.cancel_review(review, form.reason.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Review cancelled.", "success")
            return redirect(url_for(".review_detail", review_id=review_id))
    elif not reviews.allowed_actions(review, current_user)["cancel"]:
        abort(403)
    db.session.rollback()
    return _page(_load(review_id), 422, cancel_form=form)


@bp.post("/actions/<int:action_id>/owner")
@requires(Permission.VIEW_REPORTS)
def reassign_output(action_id: int):
    """The chair or a quality manager hands an open output to another active owner."""
    action = db.session.get(ReviewAction, action_id) or abort(404)
    if not reviews.can_run(action.review, current_user):
        abort(403)
    review_id = action.review_id
    form = forms.ReassignForm()
    return post_form(form, lambda: reviews.reassign_output(action, form.owner_id.data, actor=current_user,
                                                           now=utcnow()),
                     message="Action handed over; the new and the previous owner were told.",
                     to=url_for(".review_detail", review_id=review_id) + "#outputs",
                     refused=lambda: _refused(review_id, reassign_form=form, failed=action_id))


@bp.post("/<int:review_id>/outputs")
@requires(Permission.VIEW_REPORTS)
def review_output(review_id: int):
    """Record a decision as an action with owner and due date (9.3.3)."""
    review = _load(review_id)
    form = forms.OutputForm()
    return post_form(form, lambda: reviews.add_output(review, form_values(form), actor=current_user, now=utcnow()),
                     message="Output recorded; its owner was notified.",
                     to=url_for(".review_detail", review_id=review_id),
                     refused=lambda: _refused(review_id, output_form=form))


@bp.post("/<int:review_id>/sign-off")
@requires(Permission.VIEW_REPORTS)
def review_sign_off(review_id: int):
    """Top management signs the minutes off."""
    review = _load(review_id)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            reviews.sign_off(review, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Minutes signed off.", "success")
            return redirect(url_for(".review_detail", review_id=review_id))
        flash(" ".join(form.form_errors) or "Not signed off.", "error")
    return redirect(url_for(".review_detail", review_id=review_id))


@bp.get("/actions")
@requires(Permission.OWN_ACCOUNT)
def my_actions():
    """The review actions the logged-in person owns, open first, with a form to close each."""
    actions = reviews.open_actions_for(current_user)
    return render_template("management/my_actions.html", actions=actions,
                           form=forms.CompleteForm(formdata=None), today=person_day(current_user, utcnow()))


@bp.post("/actions/<int:action_id>/done")
@requires(Permission.OWN_ACCOUNT)
def action_done(action_id: int):
    """The owner reports a review action done."""
    action = db.session.get(ReviewAction, action_id) or abort(404)
    form = forms.CompleteForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            reviews.complete_output(action, form.note.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Action closed.", "success")
            return redirect(url_for(".my_actions"))
    elif action.owner_id != current_user.id and not current_user.can(Permission.MANAGE_QUALITY):
        abort(403)
    db.session.rollback()
    return render_template("management/my_actions.html", actions=reviews.open_actions_for(current_user),
                           form=form, failed=action.id, today=person_day(current_user, utcnow())), 422


def _filename(review, ext: str) -> str:
    return f"management-review-{review.period_start}-{review.period_end}.{ext}"


@bp.get("/<int:review_id>/pack.pdf")
@requires(Permission.VIEW_REPORTS)
def review_pack_pdf(review_id: int):
    """The input pack (and, once held, the minutes and outputs) as a PDF."""
    review = _load(review_id)
    pack = build_review_pack(review.period_start, review.period_end, review=review,
                             today=review_day(utcnow()))
    html = render_template("management/review_print.html", review=review, pack=pack, nothing=NOTHING,
                           generated=utcnow())
    return Response(pack_pdf(html), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{_filename(review, "pdf")}"'})


@bp.get("/<int:review_id>/pack.xlsx")
@requires(Permission.VIEW_REPORTS)
def review_pack_xlsx(review_id: int):
    """The input pack as a workbook: one sheet per 9.3.2 item."""
    review = _load(review_id)
    pack = build_review_pack(review.period_start, review.period_end, review=review,
                             today=review_day(utcnow()))
    return Response(packs.review_pack_xlsx(pack, title=review.title), mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{_filename(review, "xlsx")}"'})
