"""This feature's share of "waiting for me" (``audit.core.todo``): open management review
outputs and open risk actions the person owns, quality objectives they own that are at risk or
missed (until a held management review has covered the missed one's due date), done risk actions whose effectiveness the risk's
owner reviews, a review meeting whose day has come to be recorded (chair and coordinators) and a
held review's minutes to sign off (the chair), and, for coordinators, what nobody active can
move: actions, outputs and open objectives whose owner can no longer log in ("Name an owner"),
reviews of risks without an active owner, risks whose own effectiveness review is due (they
record it, ``risk_reviews``), customer complaints to handle (not recorded as a nonconformity)
or to close (their nonconformity is closed), and a cancelled management review with nothing
planned in its place.

A constant number of queries whatever the number of items (related rows are joined in).
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from audit.core.todo import ToDo
from audit.extensions import db
from audit.management import objectives, reviews, risk_actions, risk_reviews
from audit.management.local import action_day, person_day, review_day, risk_day
from audit.models import (
    Complaint,
    ComplaintStatus,
    Effectiveness,
    Finding,
    FindingStatus,
    ManagementReview,
    ReviewAction,
    ReviewStatus,
    Risk,
    RiskAction,
    RiskActionStatus,
    Role,
    Unit,
    User,
)


def _with_site():
    return joinedload(RiskAction.risk).joinedload(Risk.unit).joinedload(Unit.site)


def _to_review(user, coordinator: bool) -> list[RiskAction]:
    """Done, unreviewed risk actions ``user`` reviews: on risks they own, and (coordinators)
    on risks whose owner is missing or can no longer log in."""
    owner = aliased(User)
    whose = Risk.owner_id == user.id
    if coordinator:
        whose = or_(whose, Risk.owner_id.is_(None), owner.is_active.is_(False))
    return list(db.session.scalars(
        select(RiskAction).join(Risk, RiskAction.risk_id == Risk.id).outerjoin(owner, Risk.owner_id == owner.id)
        .where(RiskAction.status == RiskActionStatus.DONE,
               RiskAction.effectiveness == Effectiveness.NOT_REVIEWED, whose)
        .options(_with_site()).order_by(RiskAction.completed_at, RiskAction.id)))


def _stranded_risk_actions() -> list[RiskAction]:
    return list(db.session.scalars(
        select(RiskAction).join(User, RiskAction.owner_id == User.id)
        .where(RiskAction.status == RiskActionStatus.OPEN, User.is_active.is_(False))
        .options(_with_site(), joinedload(RiskAction.owner)).order_by(RiskAction.due_on, RiskAction.id)))


def _stranded_outputs() -> list[ReviewAction]:
    return list(db.session.scalars(
        select(ReviewAction).join(User, ReviewAction.owner_id == User.id)
        .where(ReviewAction.completed_at.is_(None), User.is_active.is_(False))
        .options(joinedload(ReviewAction.review), joinedload(ReviewAction.owner))
        .order_by(ReviewAction.due_on, ReviewAction.id)))


def _reviews_to_move(user, coordinator: bool, today: dt.date) -> list[ManagementReview]:
    """Planned reviews whose meeting day has come, for their chair and the coordinators, and
    held reviews awaiting sign-off, for their chair (or an administrator when the chair cannot
    log in); ``reviews.records_meeting`` and ``reviews.signs_off`` decide, this only narrows."""
    chair = aliased(User)
    record_it = true() if coordinator else ManagementReview.chair_id == user.id
    sign_it = ManagementReview.chair_id == user.id
    if Role.ADMIN in user.roles:
        sign_it = or_(sign_it, ManagementReview.chair_id.is_(None), chair.is_active.is_(False))
    candidates = db.session.scalars(
        select(ManagementReview).outerjoin(chair, ManagementReview.chair_id == chair.id)
        .where(or_(and_(ManagementReview.status == ReviewStatus.PLANNED, ManagementReview.planned_on <= today,
                        record_it),
                   and_(ManagementReview.status == ReviewStatus.HELD, sign_it)))
        .options(joinedload(ManagementReview.chair)).order_by(ManagementReview.planned_on, ManagementReview.id))
    return [r for r in candidates if reviews.records_meeting(r, user) or reviews.signs_off(r, user)]


def _review_step(review: ManagementReview, today: dt.date) -> ToDo:
    url = url_for("reviews.review_detail", review_id=review.id)
    if review.status is ReviewStatus.HELD:
        return ToDo("management", "sign_off_review", "Minutes to sign off", review.title,
                    f"Held on {review.held_on:%d %b %Y}: read the minutes and outputs, then sign them off.",
                    url)
    # The meeting day is the deadline: on it the meeting is due, after it overdue.
    return ToDo("management", "hold_review", "Meeting to record", review.title,
                f"Planned for {review.planned_on:%d %b %Y}: record the meeting, or move or cancel it.",
                url, review.planned_on, "Meeting", review.planned_on < today)


def _complaints_to_move() -> list[Complaint]:
    """Complaints not closed whose next step is the coordinators' (one query): handling one not
    recorded as a nonconformity, or closing one whose nonconformity is closed. One recorded as an
    open nonconformity waits in that finding's own workflow."""
    return list(db.session.scalars(
        select(Complaint).outerjoin(Finding, Complaint.finding_id == Finding.id)
        .where(Complaint.status != ComplaintStatus.CLOSED,
               or_(Complaint.finding_id.is_(None), Finding.status == FindingStatus.CLOSED))
        .options(joinedload(Complaint.finding)).order_by(Complaint.received_on, Complaint.id)))


def _complaint_step(complaint: Complaint) -> ToDo:
    url = url_for("management.complaint_detail", obj_id=complaint.id)
    pill = ("", complaint.severity.label)
    if complaint.finding is not None:
        return ToDo("management", "close_complaint", "Complaint to close", complaint.reference,
                    f"{complaint.customer}: its nonconformity {complaint.finding.reference} is closed; "
                    "tell the customer and close the complaint.", url, pill=pill)
    return ToDo("management", "handle_complaint", "Complaint to handle", complaint.reference,
                f"{complaint.customer}, received {complaint.received_on:%d %b %Y}: investigate, "
                "record it as a nonconformity or close it.", url, pill=pill)


def replan_needed() -> ManagementReview | None:
    """The latest review when it was cancelled and no other review is planned (one query)."""
    rows = db.session.execute(select(ManagementReview.id, ManagementReview.status)
                              .order_by(ManagementReview.planned_on.desc(), ManagementReview.id.desc())).all()
    if not rows or any(status is ReviewStatus.PLANNED for _id, status in rows):
        return None
    return db.session.get(ManagementReview, rows[0][0]) if rows[0][1] is ReviewStatus.CANCELLED else None


def _objective_step(objective, status: str, latest, today: dt.date) -> ToDo:
    """An objective at risk (act on its plan by its due date) or missed (evaluate it)."""
    label, _expected = objectives.OWNER_TURNS[status]
    latest_text = objectives.latest_text(objective, latest)
    return ToDo("management", "objective_" + status.replace(" ", "_"), label, objective.title[:80],
                f"{latest_text[:1].upper()}{latest_text[1:]}; target {objectives.target_text(objective)}.",
                url_for("management.objective_detail", obj_id=objective.id), objective.due_on, "Objective",
                objective.due_on < today, ("", status.capitalize()))


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Review actions (9.3.3) and risk actions (6.1.2) ``user`` owns and has not closed, their
    objectives (6.2) at risk or missed, review meetings to record or sign off, risk actions to
    review, and the coordinators' share of what nobody active owns."""
    today = review_day(now)
    coordinator = Role.COORDINATOR in user.roles
    items = []
    own_day = person_day(user, now)  # the owner's day: their outputs' days (``action_day``)
    for action in reviews.open_actions_for(user):
        items.append(ToDo("management", "review_action", "Management review action to complete",
                          action.review.title, action.decision[:160], url_for("reviews.my_actions"),
                          action.due_on, "Action", action.overdue_on(own_day), ("", action.kind.label)))
    for review in _reviews_to_move(user, coordinator, today):
        items.append(_review_step(review, today))
    for objective, status, latest in objectives.owner_turns(user, today):
        items.append(_objective_step(objective, status, latest, today))
    for action in risk_actions.open_actions_for(user):
        items.append(ToDo("management", "risk_action", "Action on a risk or opportunity to complete",
                          action.risk.title[:80], action.description[:160],
                          url_for("management.my_risk_actions"), action.due_on, "Action",
                          action.due_on < risk_day(action.risk, now), ("", action.risk.kind.label)))
    for action in _to_review(user, coordinator):
        due = risk_actions.review_due_on(action)
        items.append(ToDo("management", "review_risk_action", "Review effectiveness",
                          action.risk.title[:80], action.description[:160],
                          url_for("management.risk_detail", obj_id=action.risk_id) + "#risk-actions",
                          due, "Review", due < risk_day(action.risk, now), ("", action.risk.kind.label)))
    if not coordinator:
        return items
    for action in _stranded_risk_actions():
        items.append(ToDo("management", "assign_risk_action", "Name an owner", action.risk.title[:80],
                          f"{action.owner.name} can no longer log in: {action.description[:120]}",
                          url_for("management.risk_detail", obj_id=action.risk_id) + "#risk-actions",
                          action.due_on, "Action", action.due_on < risk_day(action.risk, now),
                          ("", action.risk.kind.label)))
    for output in _stranded_outputs():
        items.append(ToDo("management", "assign_review_action", "Name an owner", output.review.title,
                          f"{output.owner.name} can no longer log in: {output.decision[:120]}",
                          url_for("reviews.review_detail", review_id=output.review_id) + "#outputs",
                          output.due_on, "Action", output.overdue_on(action_day(output, now)),
                          ("", output.kind.label)))
    for objective, status, latest in objectives.unowned(today):
        gone = (f"{objective.owner.name} can no longer log in" if objective.owner is not None
                else "No owner")
        items.append(ToDo("management", "assign_objective", "Name an owner", objective.title[:80],
                          f"{gone}: {status}, {objectives.latest_text(objective, latest)}; "
                          f"target {objectives.target_text(objective)}.",
                          url_for("management.objective_edit", obj_id=objective.id), objective.due_on,
                          "Objective", objective.due_on < today, ("", status.capitalize())))
    for risk, overdue in risk_reviews.reviews_due(now):
        items.append(ToDo("management", "review_risk", "Risk to review", risk.title[:80],
                          "Review whether its actions worked; record the outcome and the next review date.",
                          url_for("management.risk_edit", obj_id=risk.id), risk.review_due_on, "Review",
                          overdue, ("", risk.kind.label)))
    items.extend(_complaint_step(complaint) for complaint in _complaints_to_move())
    cancelled = replan_needed()
    if cancelled is not None:
        items.append(ToDo("management", "plan_review", "Plan the next management review", cancelled.title,
                          f"{cancelled.title} was cancelled and no other review is planned.",
                          url_for("reviews.review_new")))
    return items
