"""Programme pages: programmes, their calendar, coverage matrix, workload and planner."""

from __future__ import annotations

import datetime as dt
import time

from dateutil.relativedelta import relativedelta
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from audit.audits.queries import read_filters
from audit.audits.team import load_candidates
from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.extensions import db
from audit.models import AuditStatus, PlannerRun, Programme, ProgrammeStatus, utcnow
from audit.programme import calendar_grid, forms, queries, services
from audit.programme.coverage import coverage_matrix
from audit.programme.coverage import workload as compute_workload
from audit.programme.cycle import restoration_deadline, restoration_status
from audit.programme.deadlines import cycle_status, cycle_warnings
from audit.programme.generation import add_rule, generate_programme
from audit.programme.planner import accept_planner_run, plan_programme, propose_plan
from audit.programme.triggers import record_trigger, trigger_audit_days
from audit.trail.services import entries_for

bp = Blueprint("programme", __name__, url_prefix="/programme")

#: Audits per page of the programme page, and rules listed before "and N more".
PAGE_SIZE = 50
RULES_SHOWN = 12


@bp.get("/planner/preview")
@requires(Permission.MANAGE_PROGRAMME)
def planner_preview():
    """What the planner would propose for a programme (default: the current active one), without
    storing anything: a read-only dry run, also what benchmarks time."""
    programme_id = request.args.get("programme", type=int)
    if programme_id:
        programme = db.session.get(Programme, programme_id) or abort(404)
    else:
        programme = queries.current_programme() or abort(404)
    started = time.perf_counter()
    proposals, unplaced = propose_plan(programme, now=utcnow())
    return render_template("programme/planner_preview.html", programme=programme, proposals=proposals,
                           unplaced=unplaced, seconds=time.perf_counter() - started)


@bp.get("/")
@requires(Permission.VIEW_ORGANISATION)
def index():
    """All programmes with their audit counts by status."""
    programmes, counts = queries.programmes_with_counts()
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
        with saving(form) as saved:
            programme = services.create_programme(form.data, actor=current_user, now=utcnow())
        if saved.ok:
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
        with saving(form) as saved:
            services.update_programme(programme, form.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Programme saved.", "success")
            return redirect(url_for("programme.detail", programme_id=programme_id))
    return render_template("programme/form.html", form=form, programme=programme)


@bp.get("/<int:programme_id>")
@requires(Permission.VIEW_ORGANISATION)
def detail(programme_id: int):
    """A programme: objectives, rules, status counts and one page of its audits in date order.

    Without ``page`` the page holding today's date opens, so a long programme shows what is
    coming up rather than January. Every part is a fixed number of queries.
    """
    programme = queries.load_programme(programme_id) or abort(404)
    today = utcnow().date()
    by_status = queries.status_counts(programme_id)
    status_counts = [(s, by_status[s]) for s in AuditStatus if by_status.get(s)]
    total = sum(by_status.values())
    pages = queries.pages_for(total, PAGE_SIZE)
    page = request.args.get("page", type=int)
    if page is None:
        page = min(queries.audits_before(programme_id, today) // PAGE_SIZE + 1, pages)
    page = min(max(page, 1), pages)
    audits = queries.programme_audits(programme_id, page=page, page_size=PAGE_SIZE)
    rules, rule_count = queries.first_rules(programme_id, RULES_SHOWN)
    status_form = forms.ProgrammeStatusForm(formdata=None)
    status_form.status.choices = [(s.value, s.value.capitalize())
                                  for s in services.PROGRAMME_TRANSITIONS[programme.status]]
    return render_template("programme/detail.html", programme=programme, audits=audits,
                           total=total, page=page, pages=pages, status_counts=status_counts,
                           rules=rules, rule_count=rule_count,
                           status_form=status_form, trail=entries_for(programme, limit=30), today=today)


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
    first, last = calendar_grid.window(year, month if view == "month" else None)
    audits = queries.calendar_audits(filters, first, last)
    args = {k: v for k, v in request.args.items() if k not in ("year", "month", "view")}
    if view == "month":
        prev = dt.date(year, month, 1) - dt.timedelta(days=1)
        nxt = dt.date(year, month, 28) + dt.timedelta(days=5)
        return render_template("programme/calendar_month.html", weeks=calendar_grid.month_grid(year, month, audits),
                               month=dt.date(year, month, 1), prev=prev, nxt=nxt, form=form, args=args,
                               today=today, statuses=list(AuditStatus))
    return render_template("programme/calendar_year.html", months=calendar_grid.year_grid(year, audits), year=year,
                           form=form, args=args, today=today, statuses=list(AuditStatus))


# --- rules ------------------------------------------------------------------------------------

@bp.route("/<int:programme_id>/rules", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def rules(programme_id: int):
    """The programme's generating rules; add one; generate now."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    form = forms.RuleForm()
    form.fill_choices()
    if form.validate_on_submit():
        with saving(form) as saved:
            add_rule(programme, form.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Rule added. Generate to create its audits.", "success")
            return redirect(url_for("programme.rules", programme_id=programme_id))
    return render_template("programme/rules.html", programme=programme, form=form,
                           rules=queries.programme_rules(programme_id))


@bp.post("/<int:programme_id>/generate")
@requires(Permission.MANAGE_PROGRAMME)
def generate(programme_id: int):
    """Run the programme's rules now (the scheduler also does this daily)."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    try:
        created = generate_programme(programme, actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"{created} audit{'' if created == 1 else 's'} generated.", "success")
    return redirect(url_for("programme.detail", programme_id=programme_id))


# --- planner ----------------------------------------------------------------------------------

@bp.get("/<int:programme_id>/planner")
@requires(Permission.MANAGE_PROGRAMME)
def planner(programme_id: int):
    """The latest planner run: proposals to accept or edit, and unplaceable audits with reasons."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    run = queries.latest_planner_run(programme_id)
    people = queries.proposal_people(run)
    leads = load_candidates()
    return render_template("programme/planner.html", programme=programme, run=run, people=people, leads=leads)


@bp.post("/<int:programme_id>/planner/run")
@requires(Permission.MANAGE_PROGRAMME)
def planner_run(programme_id: int):
    """Let the planner propose dates and teams."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    run = plan_programme(programme, now=utcnow(), actor=current_user)
    db.session.commit()
    flash(f"Planner proposed {len(run.proposals)} audits in {run.duration:.2f} s"
          + (f"; {len(run.unplaced)} could not be placed." if run.unplaced else "."), "info")
    return redirect(url_for("programme.planner", programme_id=programme_id))


@bp.post("/<int:programme_id>/planner/<int:run_id>/accept")
@requires(Permission.MANAGE_PROGRAMME)
def planner_accept(programme_id: int, run_id: int):
    """Accept the proposals, with the coordinator's edits (date, lead) and exclusions."""
    run = db.session.get(PlannerRun, run_id)
    if run is None or run.programme_id != programme_id:
        abort(404)
    edits, skip = {}, set()
    for p in run.proposals:
        aid = p["audit_id"]
        if request.form.get(f"take-{aid}") != "on":
            skip.add(aid)
            continue
        edit = {}
        if request.form.get(f"day-{aid}"):
            try:
                edit["day"] = dt.date.fromisoformat(request.form[f"day-{aid}"])
            except ValueError:
                flash(f"{p['reference']}: give the date as YYYY-MM-DD.", "error")
                return redirect(url_for("programme.planner", programme_id=programme_id))
        if request.form.get(f"lead-{aid}", type=int):
            edit["lead_id"] = request.form.get(f"lead-{aid}", type=int)
        edits[aid] = edit
    try:
        applied = accept_planner_run(run, actor=current_user, now=utcnow(), edits=edits, skip=skip)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(f"Nothing was applied. {exc.message}", "error")
        return redirect(url_for("programme.planner", programme_id=programme_id))
    flash(f"{applied} audits scheduled.", "success")
    return redirect(url_for("programme.detail", programme_id=programme_id))


# --- coverage, workload, cycles --------------------------------------------------------------

@bp.get("/coverage")
@requires(Permission.VIEW_ORGANISATION)
def coverage():
    """Clauses × units: last audited, result, and gaps before they happen."""
    matrix = coverage_matrix(today=utcnow().date(), standard_id=request.args.get("standard", type=int),
                             site_id=request.args.get("site", type=int))
    sites = queries.sites_by_name()
    return render_template("programme/coverage.html", m=matrix, sites=sites,
                           site_id=request.args.get("site", type=int))


@bp.get("/workload")
@requires(Permission.VIEW_ORGANISATION)
def workload():
    """Audit-days per auditor and month for the next 12 months."""
    today = utcnow().date()
    first = today.replace(day=1) - relativedelta(months=2)
    data = compute_workload(first=first, last=first + relativedelta(months=14) - dt.timedelta(days=1))
    return render_template("programme/workload.html", w=data,
                           limit=current_app.config["WORKLOAD_DAYS_PER_MONTH"])


@bp.get("/cycles")
@requires(Permission.VIEW_ORGANISATION)
def cycles():
    """Our certificates' 3-year cycles: needed audits, the real audits covering them, warnings."""
    today = utcnow().date()
    certs, audits = queries.own_certificates_with_audits()
    rows = []
    for cert in certs:
        mine = [a for a in audits if a.certificate_id == cert.id]
        rows.append({"cert": cert, "needed": cycle_status(cert, mine),
                     "warnings": cycle_warnings(cert, mine, today=today),
                     "status": restoration_status(cert.expiry_date, today),
                     "restore_until": restoration_deadline(cert.expiry_date)})
    return render_template("programme/cycles.html", rows=rows, today=today)


# --- triggers ---------------------------------------------------------------------------------

@bp.get("/triggers")
@requires(Permission.VIEW_ORGANISATION)
def triggers():
    """Complaints, incidents and significant changes, newest first, with the audit answering each."""
    total = queries.trigger_count()
    pages = queries.pages_for(total, PAGE_SIZE)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    rows = queries.triggers_page(page=page, page_size=PAGE_SIZE)
    return render_template("programme/triggers.html", triggers=rows, page=page, total=total, pages=pages)


@bp.route("/triggers/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def trigger_new():
    """Record a trigger; an audit of its unit or supplier is planned (or joined) by its deadline."""
    form = forms.TriggerForm()
    form.fill_choices()
    if request.method == "GET":
        form.unit_id.data = request.args.get("unit", 0, type=int)
        form.supplier_id.data = request.args.get("supplier", 0, type=int)
    if form.validate_on_submit():
        with saving(form) as saved:
            trigger, joined = record_trigger(form.data, actor=current_user, now=utcnow())
        if saved.ok:
            audit = trigger.audit
            flash(f"{trigger.kind.label} recorded. {'It joins' if joined else 'New'} audit {audit.reference}"
                  + (f", which must happen by {audit.due_by:%d %b %Y}." if audit.due_by else
                     ": its deadline had already passed, so plan it as soon as possible."), "success")
            return redirect(url_for("audits.detail", audit_id=audit.id))
    return render_template("programme/trigger_form.html", form=form, days=trigger_audit_days())
