"""Findings pages, continued: the register — list with filters, export, "waiting for me",
dashboard — and recording by hand, the deadline policy and the CB import. Routes on the findings
blueprint (installed by ``audit.findings.init_app``); each finding's own workflow is in ``views``."""

from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import or_, select

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.core.todo import waiting_items
from audit.extensions import db
from audit.findings import charts, forms, queries
from audit.findings import services as fs
from audit.findings.views import bp
from audit.models import (
    Audit,
    AuditKind,
    Finding,
    Grade,
    Site,
    Supplier,
    Unit,
    User,
    utcnow,
)
from audit.models.types import latest_site_date

#: Findings per page of the register.
PAGE_SIZE = 100


def _register_page(filters: queries.Filters, now: dt.datetime, *, limit: int,
                   offset: int = 0) -> tuple[list[Finding], set[int], bool]:
    """The register's findings of one page, the ids of those overdue, and whether more follow.

    "Overdue" is judged on each finding's own date at its site (``deadlines.local_date``), as
    the sweep and "Waiting for me" judge it. One SQL date cannot say that for every site, so the
    overdue filter keeps in SQL whatever may be overdue at a site a day ahead of UTC, and the
    rows it kept that are not yet overdue where they are are dropped (a page may then hold a few
    rows fewer; none is skipped, as the pages are cut from the same SQL list).
    """
    rows = queries.list_findings(filters, latest_site_date(now), limit=limit + 1, offset=offset)
    has_more = len(rows) > limit
    rows = rows[:limit]
    overdue = {f.id for f in rows if queries.is_overdue_at(f, now)}
    if filters.overdue:
        rows = [f for f in rows if f.id in overdue]
    return rows, overdue, has_more


def _facet(model, finding_column, blank: str, selected: int, order) -> list[tuple[int, str]]:
    """Choices of one filter: only what findings refer to (plus the current selection), so the
    filter stays short and fast however many units, sites or suppliers the organisation has."""
    used = model.id.in_(select(finding_column).where(finding_column.is_not(None)).distinct())
    wanted = or_(used, model.id == selected) if selected else used
    # Id and name only: a select needs no mapped objects (four facets on every list page).
    rows = db.session.execute(select(model.id, model.name).where(wanted).order_by(order))
    return [(0, blank), *((key, name) for key, name in rows)]


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
    rows, overdue, has_more = _register_page(filters, utcnow(), limit=PAGE_SIZE,
                                             offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("findings/list.html", form=form, rows=rows, overdue=overdue, page=page,
                           has_more=has_more, args=args)


#: The register export's row cap (the page shows 100 at a time; an export takes the lot).
EXPORT_LIMIT = 20000


@bp.get("/export.<fmt>")
@requires(Permission.VIEW_ORGANISATION)
def export(fmt: str):
    """The filtered findings register as CSV or XLSX."""
    from audit.findings import export as register

    if fmt not in ("csv", "xlsx"):
        abort(404)
    filters = queries.Filters.from_form(_filter_form(), reader=current_user)  # read rules apply
    now = utcnow()
    findings, overdue, _ = _register_page(filters, now, limit=EXPORT_LIMIT)
    if fmt == "csv":
        body, mimetype = register.register_csv(findings, overdue), "text/csv; charset=utf-8"
    else:
        body = register.register_xlsx(findings, overdue)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="findings-{now.date()}.{fmt}"'})


@bp.get("/waiting")
@requires(Permission.OWN_ACCOUNT)
def waiting():
    """Everything any workflow waits for from me (findings, SCARs, reports, review and risk
    actions), soonest deadline first."""
    return render_template("findings/waiting.html", items=waiting_items(current_user))


@bp.get("/dashboard")
@requires(Permission.VIEW_ORGANISATION)
def dashboard():
    """Ageing, days to close, clause heat map and trend, as server-rendered SVG."""
    form = _filter_form()
    filters = queries.Filters.from_form(form, reader=current_user)
    now = utcnow()
    data = queries.dashboard(filters, now)
    svgs = {
        "ageing": Markup(charts.bar_chart(data["ageing"], title="Open findings by age")),
        "trend": Markup(charts.trend_chart(data["trend"], title="Findings raised and closed "
                                                                "per month")),
        "heat": Markup(charts.heat_map(data["heat"], title="Nonconformities by clause")),
    }
    return render_template("findings/dashboard.html", form=form, data=data, svgs=svgs)


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


@bp.app_template_filter("grade_class")
def _grade_class(grade: Grade) -> str:
    return grade.css
