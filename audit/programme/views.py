"""Programme pages: programmes, their calendar, coverage matrix, workload and planner."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.queries import audit_list_query, read_filters
from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import attach_error
from audit.extensions import db
from audit.models import Audit, Programme, ProgrammeStatus, utcnow
from audit.programme import calendar as cal
from audit.programme import (
    forms,
    panels,  # noqa: F401  (registers the home panels)
    services,
)
from audit.trail.services import entries_for

bp = Blueprint("programme", __name__, url_prefix="/programme")


@bp.app_context_processor
def _endpoints():
    """Which optional programme pages exist (templates link only to those)."""
    from flask import current_app

    return {"url_rules": current_app.view_functions.keys()}


@bp.get("/")
@requires(Permission.VIEW_ORGANISATION)
def index():
    """All programmes with their audit counts by status."""
    programmes = db.session.scalars(select(Programme).order_by(Programme.period_start.desc())).all()
    counts: dict[int, dict[str, int]] = {}
    for programme_id, status, n in db.session.execute(
            select(Audit.programme_id, Audit.status, func.count(Audit.id))
            .where(Audit.programme_id.is_not(None)).group_by(Audit.programme_id, Audit.status)):
        counts.setdefault(programme_id, {})[status.value] = n
    return render_template("programme/index.html", programmes=programmes, counts=counts)


def _programme_form(programme: Programme | None) -> forms.ProgrammeForm:
    if programme is None or request.method == "POST":
        form = forms.ProgrammeForm()
    else:
        form = forms.ProgrammeForm(data={
            "name": programme.name, "period_start": programme.period_start,
            "period_end": programme.period_end, "audit_client": programme.audit_client,
            "manager_id": programme.manager_id or 0, "objectives": programme.objectives,
            "scope": programme.scope, "risks": programme.risks})
    form.fill_choices()
    return form


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def new():
    """Create a draft programme."""
    form = _programme_form(None)
    if form.validate_on_submit():
        try:
            programme = services.create_programme(form.data, actor=current_user, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            flash("Programme created.", "success")
            return redirect(url_for("programme.detail", programme_id=programme.id))
    return render_template("programme/form.html", form=form, programme=None)


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def edit(programme_id: int):
    """Edit a programme."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    form = _programme_form(programme)
    if form.validate_on_submit():
        try:
            services.update_programme(programme, form.data, actor=current_user, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            flash("Programme saved.", "success")
            return redirect(url_for("programme.detail", programme_id=programme_id))
    return render_template("programme/form.html", form=form, programme=programme)


@bp.get("/<int:programme_id>")
@requires(Permission.VIEW_ORGANISATION)
def detail(programme_id: int):
    """A programme: objectives, rules, its audits in date order."""
    programme = db.session.scalars(
        select(Programme).where(Programme.id == programme_id)
        .options(joinedload(Programme.manager), joinedload(Programme.approved_by),
                 selectinload(Programme.rules))
    ).unique().one_or_none() or abort(404)
    audits = db.session.scalars(
        audit_list_query({"programme": programme_id})
        .order_by(func.coalesce(Audit.planned_date, func.date(Audit.starts_at)), Audit.starts_at, Audit.id)
    ).unique().all()
    audits.sort(key=lambda a: (cal.audit_span(a) or (dt.date.max,))[0])
    status_form = forms.ProgrammeStatusForm(formdata=None)
    status_form.status.choices = [(s.value, s.value.capitalize())
                                  for s in services.PROGRAMME_TRANSITIONS[programme.status]]
    return render_template("programme/detail.html", programme=programme, audits=audits,
                           status_form=status_form, trail=entries_for(programme, limit=30),
                           today=utcnow().date())


@bp.post("/<int:programme_id>/status")
@requires(Permission.MANAGE_PROGRAMME)
def status(programme_id: int):
    """Approve, activate or close the programme."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    form = forms.ProgrammeStatusForm()
    try:
        services.change_programme_status(programme, ProgrammeStatus(form.status.data),
                                         actor=current_user, now=utcnow())
        db.session.commit()
    except (DomainError, ValueError) as exc:
        db.session.rollback()
        flash(getattr(exc, "message", "Choose a valid status."), "error")
    else:
        flash(f"Programme is now {programme.status.value}.", "success")
    return redirect(url_for("programme.detail", programme_id=programme_id))


def calendar_audits(filters: dict, first: dt.date, last: dt.date) -> list[Audit]:
    """Audits touching [first, last] (dated ones by their UTC times with a day's margin for
    zones, undated ones by their planned date), with what the calendar shows loaded."""
    lo = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
    stmt = audit_list_query(filters).where(or_(
        and_(Audit.starts_at.is_not(None), Audit.starts_at < hi, Audit.ends_at > lo),
        and_(Audit.starts_at.is_(None), Audit.planned_date >= first - dt.timedelta(days=31),
             Audit.planned_date <= last),
    )).order_by(Audit.starts_at, Audit.planned_date, Audit.id)
    return db.session.scalars(stmt).unique().all()


@bp.get("/calendar")
@requires(Permission.VIEW_ORGANISATION)
def calendar():
    """Month or year calendar of audits, filterable by site, auditor, kind, status and programme."""
    form, filters = read_filters(request.args)
    today = utcnow().date()
    view = "year" if request.args.get("view") == "year" else "month"
    year = request.args.get("year", today.year, type=int)
    month = request.args.get("month", today.month, type=int)
    if not (1 <= month <= 12 and 1900 < year < 2200):
        abort(404)
    first, last = cal.window(year, month if view == "month" else None)
    audits = calendar_audits(filters, first, last)
    args = {k: v for k, v in request.args.items() if k not in ("year", "month", "view")}
    if view == "month":
        prev = dt.date(year, month, 1) - dt.timedelta(days=1)
        nxt = dt.date(year, month, 28) + dt.timedelta(days=5)
        return render_template("programme/calendar_month.html", weeks=cal.month_grid(year, month, audits),
                               month=dt.date(year, month, 1), prev=prev, nxt=nxt, form=form, args=args,
                               today=today, status_class=cal.STATUS_CLASS)
    return render_template("programme/calendar_year.html", months=cal.year_grid(year, audits), year=year,
                           form=form, args=args, today=today, status_class=cal.STATUS_CLASS)
