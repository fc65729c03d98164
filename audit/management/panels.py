"""Home panels of this feature: top management's overview and "my review actions"."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.extensions import db
from audit.findings import charts
from audit.management import reviews
from audit.management.local import action_day, person_day
from audit.management.objectives import status_as_of
from audit.models import (
    Audit,
    AuditStatus,
    ManagementReview,
    PoorQualityCost,
    QualityObjective,
    ReviewAction,
    ReviewStatus,
    Role,
    utcnow,
)


def is_top_management(user) -> bool:
    """Viewers are top management (Role.VIEWER: "Viewer / top management"); admins see it too."""
    return bool({Role.VIEWER, Role.ADMIN} & set(user.roles))


def management_overview(now: dt.datetime) -> dict:
    """Objectives by status, open review actions, this year's audits done, 6-month cost trend."""
    today = now.date()
    objectives = db.session.scalars(select(QualityObjective).where(QualityObjective.due_on >= today.replace(month=1, day=1))
                                    .options(selectinload(QualityObjective.measurements))).all()
    counts: dict[str, int] = {}
    for o in objectives:
        status = status_as_of(o, today)[0]
        counts[status] = counts.get(status, 0) + 1
    # Each open output is overdue by its owner's day (``action_day``): one statement, counted here.
    outputs = db.session.scalars(select(ReviewAction).where(ReviewAction.completed_at.is_(None))
                                 .options(joinedload(ReviewAction.owner))).all()
    open_actions = len(outputs)
    overdue_actions = sum(1 for a in outputs if a.overdue_on(action_day(a, now)))
    year_start = today.replace(month=1, day=1)
    audits = db.session.execute(select(Audit.status, func.count(Audit.id)).where(
        Audit.planned_date >= year_start, Audit.planned_date <= today.replace(month=12, day=31))
        .group_by(Audit.status)).all()
    planned = sum(n for s, n in audits if s is not AuditStatus.CANCELLED)
    done = sum(n for s, n in audits if s in AuditStatus.reported())
    first = (today.replace(day=1) - relativedelta(months=5))
    costs = db.session.execute(select(PoorQualityCost.incurred_on, PoorQualityCost.amount, PoorQualityCost.currency)
                               .where(PoorQualityCost.incurred_on >= first)).all()
    months = [(first + relativedelta(months=i)).strftime("%Y-%m") for i in range(6)]
    currency = costs[0][2] if costs else "EUR"
    trend = {m: 0.0 for m in months}
    for day, amount, cur in costs:
        if cur == currency and f"{day:%Y-%m}" in trend:
            trend[f"{day:%Y-%m}"] += float(amount)
    next_review = db.session.scalar(select(ManagementReview).where(
        ManagementReview.status == ReviewStatus.PLANNED).order_by(ManagementReview.planned_on).limit(1))
    return {"objectives": counts, "objective_total": len(objectives), "open_actions": open_actions,
            "overdue_actions": overdue_actions, "audits_planned": planned, "audits_done": done,
            "cost_trend": [(m, round(v)) for m, v in trend.items()], "currency": currency,
            "next_review": next_review}


def management_panel(user) -> dict | None:
    """Top management's panel: read-only figures with links to the registers and reviews."""
    if not is_top_management(user):
        return None
    from markupsafe import Markup


    overview = management_overview(utcnow())
    chart = Markup(charts.bar_chart(overview["cost_trend"], title=f"Cost of poor quality, last 6 months "
                                    f"({overview['currency']})", color="#b3261e", width=420))
    return {"title": "Management system at a glance", "template": "management/panel_overview.html",
            "context": {"o": overview, "chart": chart}}


def my_review_actions_panel(user) -> dict | None:
    """Waiting for me: review actions the person owns, with their due dates."""
    actions = reviews.open_actions_for(user)
    if not actions:
        return None
    return {"title": "My management review actions", "template": "management/panel_actions.html",
            "context": {"actions": actions, "today": person_day(user, utcnow())}}
