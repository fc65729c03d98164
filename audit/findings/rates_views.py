"""The exchange rates page: the dated rates costs are converted at (the administrator edits)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from audit.auth.permissions import Permission, requires
from audit.core.forms import saving
from audit.findings import costs, forms
from audit.findings.workflow import is_admin
from audit.models import ExchangeRate, utcnow

bp = Blueprint("rates", __name__, url_prefix="/findings/rates")


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.MANAGE_ORGANISATION)
def index():
    """The rates table (coordinators read it; the administrator adds and corrects rates)."""
    form = forms.RateForm()
    if request.method == "POST" and form.validate_on_submit():
        with saving(form) as saved:
            costs.set_rate(form.currency.data, form.valid_from.data, form.rate.data,
                           actor=current_user, now=utcnow())
        if saved.ok:
            flash("Rate saved.", "success")
            return redirect(url_for(".index"))
    rows = db_rows()
    status = 400 if request.method == "POST" else 200
    return render_template("findings/rates.html", form=form, rows=rows, base=costs.base_currency(),
                           can_edit=is_admin(current_user)), status


def db_rows() -> list[ExchangeRate]:
    from audit.extensions import db

    return db.session.scalars(select(ExchangeRate).order_by(ExchangeRate.currency,
                                                            ExchangeRate.valid_from.desc())).all()
