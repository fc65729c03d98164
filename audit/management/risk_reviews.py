"""A risk's own effectiveness review (ISO 9001 6.1.2 b, 10.3): the register's "Effectiveness
review due" date is somebody's turn when it comes.

The review is recorded on the risk (its effectiveness, the day reviewed, a note, and the next
review date) by a quality manager, so it waits for the coordinators from ``REVIEW_NOTICE``
before the date until a review is recorded on or after it, or the date is moved later. They and
the risk's owner are told once when it falls due soon and once when it is overdue.
Days are the risk's own (``management.local``); one query whatever the number of risks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from audit.extensions import db
from audit.management.local import risk_day
from audit.models import Risk, Unit
from audit.models.types import latest_site_date
from audit.notifications.services import notify
from audit.people.services import coordinators, with_staff

#: How long before its review date a risk's review is asked for.
REVIEW_NOTICE = dt.timedelta(days=14)

KINDS = {
    "risk_review_due": "A risk's effectiveness review is due soon or overdue (coordinators, the risk's owner)",
}


def reviews_due(now: dt.datetime) -> list[tuple[Risk, bool]]:
    """``(risk, overdue)`` for every risk whose effectiveness review is due within
    ``REVIEW_NOTICE`` or overdue, on the risk's own date, and not recorded: no review dated on
    or after the due date (recording one with the next review date ends the turn)."""
    latest = latest_site_date(now) + REVIEW_NOTICE
    risks = db.session.scalars(
        select(Risk).where(Risk.review_due_on.is_not(None), Risk.review_due_on <= latest,
                           or_(Risk.reviewed_on.is_(None), Risk.reviewed_on < Risk.review_due_on))
        .options(joinedload(Risk.unit).joinedload(Unit.site), joinedload(Risk.owner))
        .order_by(Risk.review_due_on, Risk.id))
    due = []
    for risk in risks:
        today = risk_day(risk, now)
        if risk.review_due_on <= today + REVIEW_NOTICE:
            due.append((risk, risk.review_due_on < today))
    return due


def send_risk_review_notices(*, now: dt.datetime) -> int:
    """Tell the coordinators and the risk's owner, once each, that its effectiveness review falls
    due within ``REVIEW_NOTICE``, and once that it is overdue. Returns notifications made."""
    made = 0
    due = reviews_due(now)
    staff = coordinators() if due else []
    for risk, overdue in due:
        stage = "overdue" if overdue else "due"
        for person in with_staff(risk.owner, staff):
            expected = ("Review whether the actions taken on it were effective, with its owner, and "
                        "record the outcome and the next review date on the risk."
                        if person in staff else
                        "Give the coordinators your view of whether the actions taken worked; they "
                        "record the review.")
            body = (f"What happened: the effectiveness review of {risk.title} is {stage} "
                    f"({risk.review_due_on:%d %b %Y}).\nWhat is expected of you: {expected}")
            if notify(person, kind="risk_review_due", now=now, link=f"/management/risks/{risk.id}",
                      title=f"Risk review {stage} {risk.review_due_on:%d %b %Y}: {risk.title[:80]}",
                      body=body, dedupe_key=f"risk:{risk.id}:review:{stage}:{risk.review_due_on}:{person.id}"):
                made += 1
    return made
