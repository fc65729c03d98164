"""Reports: the management review input pack as page, PDF, CSV and XLSX."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from flask import Blueprint, Response, abort, render_template, request
from markupsafe import Markup

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.findings import charts
from audit.models import utcnow
from audit.reports import forms, services

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/")
@requires(Permission.VIEW_REPORTS)
def index():
    """The reports on offer."""
    return render_template("reports/index.html")


def _pack():
    form = forms.PeriodForm(request.args)
    form.validate()
    today = utcnow().date()
    end = form.end.data or today
    start = form.start.data or (end - relativedelta(months=12) + dt.timedelta(days=1))
    try:
        pack = services.build_pack(start, end, today=today)
    except DomainError as exc:
        abort(400, exc.message)
    form.start.data, form.end.data = start, end
    trend = [(m, 0, 0, 0) for m in []]
    cost_chart = None
    if pack.costs_by_month:
        currency = pack.cost_totals[0][0]
        rows = [(m, float(a)) for m, cur, a in pack.costs_by_month if cur == currency]
        trend = [(m, int(round(v))) for m, v in rows]
        cost_chart = Markup(charts.bar_chart(trend, title=f"Cost of poor quality per month "
                                                          f"({currency})", color="#b3261e"))
    return form, pack, cost_chart


def _filename(pack, ext: str) -> str:
    return f"management-review-{pack.start}-{pack.end}.{ext}"


@bp.get("/management-review")
@requires(Permission.VIEW_REPORTS)
def management_review():
    """The management review input pack for a period (default: the last 12 months)."""
    form, pack, cost_chart = _pack()
    return render_template("reports/management_review.html", form=form, pack=pack,
                           cost_chart=cost_chart, args=request.args.to_dict())


@bp.get("/management-review.pdf")
@requires(Permission.VIEW_REPORTS)
def management_review_pdf():
    """The pack as a PDF for the review meeting."""
    form, pack, cost_chart = _pack()
    html = render_template("reports/management_review_print.html", pack=pack,
                           cost_chart=cost_chart, generated=utcnow())
    return Response(services.pack_pdf(html), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{_filename(pack, "pdf")}"'})


@bp.get("/management-review.csv")
@requires(Permission.VIEW_REPORTS)
def management_review_csv():
    """The pack's figures as CSV."""
    _form, pack, _chart = _pack()
    return Response(services.pack_csv(pack), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_filename(pack, "csv")}"'})


@bp.get("/management-review.xlsx")
@requires(Permission.VIEW_REPORTS)
def management_review_xlsx():
    """The pack as a workbook, one sheet per section."""
    _form, pack, _chart = _pack()
    return Response(
        services.pack_xlsx(pack),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(pack, "xlsx")}"'})
