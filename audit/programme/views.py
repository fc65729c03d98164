"""Programme pages: programmes, their calendar, coverage matrix, workload and planner."""

from __future__ import annotations

import datetime as dt
import time

from dateutil.relativedelta import relativedelta
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from audit.audits.queries import read_filters
from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.core.templating import localtime, viewer_today
from audit.core.workflow import refuse_unless_allowed
from audit.extensions import db
from audit.models import AuditStatus, PlannerRun, Programme, ProgrammeRule, ProgrammeStatus, utcnow
from audit.models.audit import audit_zone
from audit.programme import calendar_grid, forms, queries, services
from audit.programme.coverage import coverage_matrix
from audit.programme.coverage import workload as compute_workload
from audit.programme.cycle import restoration_deadline
from audit.programme.deadlines import certificate_state, cycle_status, cycle_warnings
from audit.programme.export import export_pdf, export_xlsx, programme_export
from audit.programme.generation import generate_programme
from audit.programme.planner import plan_programme, propose_plan
from audit.programme.planner_accept import AcceptRefused, accept_planner_run
from audit.programme.rules import add_rule, delete_rule, explain_rules, set_rule_active, update_rule
from audit.programme.stage2 import stage2_findings, stage2_state
from audit.programme.triggers import record_trigger, trigger_audit_days
from audit.programme.workflow import PROGRAMME
from audit.trail.services import entries_for

bp = Blueprint("programme", __name__, url_prefix="/programme")

#: Audits per page of the programme page, and rules listed before "and N more".
PAGE_SIZE = 50
RULES_SHOWN = 12


@bp.get("/planner/preview")
@requires(Permission.MANAGE_PROGRAMME)
def planner_preview():
    """What the planner would propose for a programme (default: the active one): a dry run."""
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
    today = viewer_today(utcnow())
    by_status = queries.status_counts(programme_id)
    status_counts = [(s, by_status[s]) for s in AuditStatus if by_status.get(s)]
    total = sum(by_status.values())
    pages = queries.pages_for(total, PAGE_SIZE)
    page = request.args.get("page", type=int)
    if page is None:
        page = min(queries.audits_before(programme_id, today) // PAGE_SIZE + 1, pages)
    page = min(max(page, 1), pages)
    audits = [_audit_row(r) for r in queries.programme_audits(programme_id, page=page, page_size=PAGE_SIZE)]
    rules, rule_count = queries.first_rules(programme_id, RULES_SHOWN)
    status_form = forms.ProgrammeStatusForm(formdata=None)
    decisions = {d.action: d for d in PROGRAMME.allowed_actions(programme, current_user)}
    # approval has its own button; the status form offers the coordinator's moves
    status_form.status.choices = [(d.action, d.label) for d in decisions.values()
                                  if d.allowed and d.action != "approve"]
    return render_template("programme/detail.html", programme=programme, audits=audits,
                           total=total, page=page, pages=pages, status_counts=status_counts,
                           rules=rules, rule_count=rule_count,
                           status_form=status_form, trail=entries_for(programme, limit=30), today=today,
                           approval=decisions["approve"])


def _audit_row(row) -> tuple:
    """A row of the programme's audit table, its cells worked out once here: (id, reference,
    title, status, local start date or None, planned date, where, lead)."""
    zone = audit_zone(row.site_id is not None, row.site_zone, row.supplier_id is not None, row.supplier_zone)
    when = localtime(row.starts_at, zone, "%d %b %Y") if row.starts_at else None
    where = row.site_name if row.site_id is not None else row.supplier_name or "—"
    return row.id, row.reference, row.title, row.status, when, row.planned_date, where, row.lead or "—"


@bp.get("/<int:programme_id>/export.<any(pdf, xlsx):fmt>")
@requires(Permission.VIEW_ORGANISATION)
def export(programme_id: int, fmt: str):
    """The programme as PDF or XLSX: audits, dates, teams, status, coverage."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    data = programme_export(programme)
    if fmt == "xlsx":
        body, mime = export_xlsx(data), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, mime = export_pdf(render_template("programme/export.html", **data)), "application/pdf"
    name = "".join(c if c.isalnum() else "-" for c in programme.name).strip("-") or "programme"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@bp.post("/<int:programme_id>/status")
@requires(Permission.MANAGE_PROGRAMME)
def status(programme_id: int):
    """Activate, close or send the programme back to draft (approval: ``approve``)."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    form = forms.ProgrammeStatusForm()
    if form.status.data in PROGRAMME.steps:  # refused moves answer 403/409 with the reason
        refuse_unless_allowed(PROGRAMME, programme, form.status.data)
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


@bp.post("/<int:programme_id>/approve")
@requires(Permission.APPROVE_PROGRAMME)
def approve(programme_id: int):
    """Top management approves the programme as it stands (again after a change)."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    refuse_unless_allowed(PROGRAMME, programme, "approve")
    try:
        services.approve_programme(programme, actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Programme approved (version {programme.approved_version}).", "success")
    return redirect(url_for("programme.detail", programme_id=programme_id))


@bp.get("/calendar")
@requires(Permission.VIEW_ORGANISATION)
def calendar():
    """Month or year calendar of audits, filterable by site, auditor, kind, status and programme."""
    form, filters = read_filters(request.args)
    today = viewer_today(utcnow())
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
    rule_rows = queries.programme_rules(programme_id)
    return render_template("programme/rules.html", programme=programme, form=form, rules=rule_rows,
                           reasons=explain_rules(rule_rows, now=utcnow()))


def _rule(programme_id: int, rule_id: int) -> ProgrammeRule:
    rule = db.session.get(ProgrammeRule, rule_id)
    if rule is None or rule.programme_id != programme_id:
        abort(404)
    return rule


@bp.route("/<int:programme_id>/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def rule_edit(programme_id: int, rule_id: int):
    """Edit a rule (trailed; the programme needs approval again)."""
    rule = _rule(programme_id, rule_id)
    form = forms.RuleForm() if request.method == "POST" else forms.RuleForm(obj=rule, kind=rule.kind.value)
    form.fill_choices()
    if form.validate_on_submit():
        with saving(form) as saved:
            update_rule(rule, form.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Rule saved. Generate to apply it.", "success")
            return redirect(url_for("programme.rules", programme_id=programme_id))
    return render_template("programme/rule_form.html", programme=rule.programme, rule=rule, form=form)


@bp.post("/<int:programme_id>/rules/<int:rule_id>/<any(disable, enable, delete):action>")
@requires(Permission.MANAGE_PROGRAMME)
def rule_action(programme_id: int, rule_id: int, action: str):
    """Disable, enable or delete a rule (trailed)."""
    rule = _rule(programme_id, rule_id)
    if action == "delete":
        cancelled = delete_rule(rule, actor=current_user, now=utcnow())
        message = f"Rule deleted; {cancelled} untouched audit{'s' if cancelled != 1 else ''} cancelled."
    else:
        set_rule_active(rule, action == "enable", actor=current_user, now=utcnow())
        message = f"Rule {action}d."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("programme.rules", programme_id=programme_id))


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
def planner(programme_id: int, form_values: dict | None = None, failed: dict | None = None):
    """The latest planner run: proposals to accept or edit, and unplaceable audits with reasons.

    After a refused accept the page is shown again with the coordinator's own values
    (``form_values``) and the reason beside every row that failed (``failed``)."""
    programme = db.session.get(Programme, programme_id) or abort(404)
    run = queries.latest_planner_run(programme_id)
    people = queries.proposal_people(run)
    return render_template("programme/planner.html", programme=programme, run=run, people=people,
                           values=form_values, failed=failed or {}), 422 if failed else 200


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
    """Accept the proposals, with the coordinator's edits (date, lead) and exclusions. When a
    rule refuses a row nothing is applied, and the page comes back with her edits kept."""
    run = db.session.get(PlannerRun, run_id)
    if run is None or run.programme_id != programme_id:
        abort(404)
    edits, skip, failed = {}, set(), {}
    values = {p["audit_id"]: {"take": request.form.get(f"take-{p['audit_id']}") == "on",
                              "day": request.form.get(f"day-{p['audit_id']}") or p["day"],
                              "lead": request.form.get(f"lead-{p['audit_id']}", p["lead_id"], type=int)}
              for p in run.proposals}
    for p in run.proposals:
        aid = p["audit_id"]
        if not values[aid]["take"]:
            skip.add(aid)
            continue
        edit = {}
        try:
            edit["day"] = dt.date.fromisoformat(values[aid]["day"])
        except ValueError:
            failed[aid] = "Give the date as YYYY-MM-DD."
        if values[aid]["lead"]:
            edit["lead_id"] = values[aid]["lead"]
        edits[aid] = edit
    if not failed:
        try:
            applied = accept_planner_run(run, actor=current_user, now=utcnow(), edits=edits, skip=skip)
            db.session.commit()
        except AcceptRefused as exc:
            db.session.rollback()
            failed = exc.rows
        except DomainError as exc:
            db.session.rollback()
            flash(f"Nothing was applied. {exc.message}", "error")
            return redirect(url_for("programme.planner", programme_id=programme_id))
        else:
            flash(f"{applied} audits scheduled.", "success")
            return redirect(url_for("programme.detail", programme_id=programme_id))
    flash(f"Nothing was applied: {len(failed)} row{'s' if len(failed) != 1 else ''} broke a rule "
          "(marked below). Your changes are kept: correct them and accept again.", "error")
    return planner(programme_id, form_values=values, failed=failed)


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
    today = viewer_today(utcnow())
    year = request.args.get("year", type=int)
    if year and 1900 < year < 2200:
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    else:
        # Two months back through the end of next year: next year's programme is always in view.
        year = None
        first, last = today.replace(day=1) - relativedelta(months=2), dt.date(today.year + 1, 12, 31)
    data = compute_workload(first=first, last=last)
    return render_template("programme/workload.html", w=data, year=year, this_year=today.year)


@bp.get("/cycles")
@requires(Permission.VIEW_ORGANISATION)
def cycles():
    """Our certificates' 3-year cycles: needed audits, the real audits covering them, warnings."""
    today = utcnow().date()  # the certification sweep's date: the page warns as the sweep does
    certs, audits = queries.own_certificates_with_audits()
    rows = []
    for cert in certs:
        mine = [a for a in audits if a.certificate_id == cert.id]
        rows.append({"cert": cert, "needed": cycle_status(cert, mine),
                     "warnings": cycle_warnings(cert, mine, today=today),
                     "status": certificate_state(cert, today),
                     "restore_until": restoration_deadline(cert.expiry_date)})

    stage2 = [s for f in stage2_findings() if (s := stage2_state(f, today))]
    return render_template("programme/cycles.html", rows=rows, today=today, stage2=stage2)


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
