"""Reports: the management review input pack as page, PDF, CSV and XLSX."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.findings import charts
from audit.findings.costs import base_currency
from audit.models import utcnow
from audit.reports import forms, services

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/")
@requires(Permission.VIEW_REPORTS)
def index():
    """The reports on offer."""
    return render_template("reports/index.html")


class _BadPeriod(Exception):
    """The period asked for cannot be shown: the page answers again, saying which field."""

    def __init__(self, form):
        super().__init__()
        self.form = form


def _default_start(end: dt.date) -> dt.date:
    return end - relativedelta(months=12) + dt.timedelta(days=1)


def _cost_chart(pack):
    if not pack.costs_by_month:
        return None
    # The organisation's base currency, never "the first currency listed": rows from before
    # conversion existed keep their own currency and are listed in the table, not charted.
    currency = base_currency()
    rows = [(m, float(a)) for m, cur, a in pack.costs_by_month if cur == currency]
    trend = [(m, int(round(v))) for m, v in rows]
    return Markup(charts.bar_chart(trend, title=f"Cost of poor quality per month ({currency})",
                                   color="#b3261e"))


def _pack():
    form = forms.PeriodForm(request.args)
    valid = form.validate()
    now = utcnow()
    today = now.date()
    end = form.end.data or today
    start = form.start.data or _default_start(end)
    if not valid:
        raise _BadPeriod(form)
    try:
        pack = services.build_pack(start, end, today=today, now=now)
    except DomainError as exc:
        getattr(form, exc.field if exc.field in ("start", "end") else "start").errors.append(exc.message)
        raise _BadPeriod(form) from None
    form.start.data, form.end.data = start, end
    return form, pack, _cost_chart(pack)


@bp.errorhandler(_BadPeriod)
def _bad_period(exc: _BadPeriod):
    """A period that cannot be read or shown (not a date, ends before it starts, too long):
    the page again with the default period, the entered values kept and a message naming the
    field (422), for the page and its downloads alike, instead of the generic 400 page."""
    now = utcnow()
    today = now.date()
    pack = services.build_pack(_default_start(today), today, today=today, now=now)
    return render_template("reports/management_review.html", form=exc.form, pack=pack,
                           cost_chart=_cost_chart(pack), args={}), 422


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
