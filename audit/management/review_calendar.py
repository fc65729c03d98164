"""Management review meetings as calendar events (the personal feeds of audit/calendar/feeds.py).

Who sees a meeting: its chair, the people invited and the coordinators (those reminded of it),
while its day is in the feed window; a cancelled one stays for the grace period, like audits.
The event is all-day on the meeting's day (held, else planned), so it falls on the same date in
every zone; UID ``review-<id>``, SEQUENCE from the row's version (every change bumps it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import exists, func, or_, select

from audit.calendar import ical
from audit.extensions import db
from audit.models import ManagementReview, ReviewStatus, Role, User
from audit.models.review import review_invitees


def review_criteria(user: User, day: dt.date) -> tuple:
    """WHERE criteria of the reviews in ``user``'s personal feed rendered on ``day``; the feed's
    fingerprint uses the very same, so a 304 never hides a change."""
    from audit.calendar.criteria import bound, personal_values

    return bound_review_criteria(Role.COORDINATOR in user.roles, bound(personal_values(user, day)))


def bound_review_criteria(coordinator: bool, bind) -> tuple:
    """The criteria with their values given by ``bind(name)``: ``user_id``, ``window_start``,
    ``window_end`` and ``cancelled_since`` (``calendar.criteria.personal_values``). The feed binds
    the values; the fingerprint builds one statement and executes it with them."""
    user_id = bind("user_id")
    involved = [ManagementReview.chair_id == user_id,
                exists().where(review_invitees.c.review_id == ManagementReview.id,
                               review_invitees.c.user_id == user_id)]
    if coordinator:
        involved.append(ManagementReview.id.is_not(None))
    meeting = func.coalesce(ManagementReview.held_on, ManagementReview.planned_on)
    return (or_(*involved), meeting.between(bind("window_start"), bind("window_end")),
            or_(ManagementReview.status != ReviewStatus.CANCELLED,
                ManagementReview.updated_at >= bind("cancelled_since")))


def review_event(review, *, domain: str, url: str | None = None) -> ical.Event:
    """A management review meeting: all-day on its day (held, else planned), so it shows on the
    same date in every zone. SEQUENCE is the row's version (every change bumps it); a cancelled
    meeting keeps its UID with STATUS:CANCELLED."""
    status = getattr(review.status, "value", review.status)
    cancelled = status == "cancelled"
    day = review.held_on or review.planned_on
    return ical.Event(
        uid=f"review-{review.id}@{domain}",
        summary=("Cancelled: " if cancelled else "") + review.title,
        start=day,
        end=day + dt.timedelta(days=1),
        stamp=max(t for t in (review.updated_at, review.created_at) if t is not None),
        sequence=max(int(review.version_id or 1) - 1, 0),
        status=ical.CANCELLED if cancelled else (ical.TENTATIVE if status == "planned" else ical.CONFIRMED),
        url=url,
        categories=("Management review",),
        description="\n".join(p for p in (
            f"Management review of {review.period_start:%d %b %Y} – {review.period_end:%d %b %Y}", url) if p),
    )


def review_events(user: User, day: dt.date, *, domain: str,
                  url: Callable[[ManagementReview], str | None]) -> list[ical.Event]:
    """The meetings in ``user``'s personal feed on ``day`` (one query)."""
    reviews = db.session.scalars(select(ManagementReview).where(*review_criteria(user, day))
                                 .order_by(ManagementReview.id)).all()
    return [review_event(r, domain=domain, url=url(r)) for r in reviews]
