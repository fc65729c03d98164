"""Management review meetings (ISO 9001 9.3): plan, hold, record outputs, sign off, remind.

One state machine: planned → held → signed off. The chair (top management) or a quality
manager holds the meeting and records its outputs; each output (9.3.3) is an action with an
owner and a due date, tracked to closure by its owner and shown in item (a) of the next pack.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import active_owner, get_or_fail, save_with_trail
from audit.extensions import db
from audit.management import review_notices
from audit.management.local import action_day, person_day, review_day
from audit.models import ManagementReview, OutputKind, ReviewAction, ReviewStatus, Role, User, UserRole
from audit.notifications.services import notify
from audit.trail.services import apply_changes, record, snapshot

#: DEFAULT months between reviews (config ``MANAGEMENT_REVIEW_MONTHS``).
REVIEW_INTERVAL_MONTHS = 12
#: Days before a planned review when the chair and quality managers are reminded.
REVIEW_REMINDER_DAYS = (14, 1)
#: Days before an output's due date when its owner is reminded.
ACTION_REMINDER_DAYS = 7

#: Notification kinds of this feature (registered by ``audit.management.init_app``).
KINDS = {
    "review_upcoming": "A management review is coming up",
    "review_action_assigned": "A management review gave you an action",
    "review_action_due": "A management review action you own is due",
    "review_overdue": "A management review's meeting day passed and no meeting is recorded",
    **review_notices.KINDS,
}


def review_interval_months() -> int:
    """Months between management reviews (config ``MANAGEMENT_REVIEW_MONTHS``, default 12)."""
    if has_app_context():
        return int(current_app.config.get("MANAGEMENT_REVIEW_MONTHS", REVIEW_INTERVAL_MONTHS))
    return REVIEW_INTERVAL_MONTHS


def can_run(review: ManagementReview, user) -> bool:
    """The chair (top management) or a quality manager runs the meeting."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or review.chair_id == user.id)


def allowed_actions(review: ManagementReview, user) -> dict[str, bool]:
    """What ``user`` may do to ``review`` now; views and templates ask this, services enforce it."""
    runs = can_run(review, user)
    return {
        "edit": runs and review.status is ReviewStatus.PLANNED,
        "hold": runs and review.status is ReviewStatus.PLANNED,
        "add_output": runs and review.status is ReviewStatus.HELD,
        "cancel": runs and review.status is ReviewStatus.PLANNED,
        "sign_off": review.status is ReviewStatus.HELD and user is not None
        and (review.chair_id == user.id or Role.ADMIN in user.roles),
    }


def records_meeting(review: ManagementReview, user) -> bool:
    """Whose turn it is to record a planned meeting once its day comes: the chair and the
    quality managers (coordinators), the people reminded of it; others may run it (``can_run``)
    but are not chased."""
    return (user is not None and user.is_active and allowed_actions(review, user)["hold"]
            and (review.chair_id == user.id or Role.COORDINATOR in user.roles))


def signs_off(review: ManagementReview, user) -> bool:
    """Whose turn the sign-off of a held review is: the chair's, or, when the chair can no
    longer log in, an administrator's (the only others ``allowed_actions`` lets sign)."""
    if user is None or not user.is_active or not allowed_actions(review, user)["sign_off"]:
        return False
    chair = review.chair
    return review.chair_id == user.id or chair is None or not chair.is_active


def _require(review: ManagementReview, user, action: str, message: str) -> None:
    if not allowed_actions(review, user)[action]:
        if not can_run(review, user):
            raise NotAllowed("Only the review's chair or a quality manager may do that.")
        raise DomainError(message)


def _review_values(data: dict) -> dict:
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Name the review (e.g. Management review 2026).", field="title")
    start, end, planned = data.get("period_start"), data.get("period_end"), data.get("planned_on")
    if not all(isinstance(d, dt.date) for d in (start, end, planned)):
        raise DomainError("Give the period reviewed and the meeting day.", field="period_start")
    if end < start:
        raise DomainError("The period ends before it starts.", field="period_end")
    if (end - start).days > 3 * 366:
        raise DomainError("Review a period of at most three years.", field="period_start")
    if planned < end:
        raise DomainError("The meeting is held after the period it reviews ends.", field="planned_on")
    chair = get_or_fail(User, data.get("chair_id"), field="chair_id", what="chair")
    review_notices.check_invitees([chair], field="chair_id", instead="choose a chair who can")
    ids = {int(i) for i in (data.get("invitee_ids") or []) if str(i).isdigit()}
    invitees = list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name))) if ids else []
    if len(invitees) != len(ids):
        raise DomainError("One of the invited people does not exist (any more).", field="invitee_ids")
    review_notices.check_invitees(invitees)
    return {"title": title[:200], "period_start": start, "period_end": end, "planned_on": planned,
            "chair": chair, "attendees": (data.get("attendees") or "").strip() or None,
            "invitees": invitees}


def plan_review(data: dict, *, actor, now: dt.datetime) -> ManagementReview:
    """Plan a management review for a period; the pack will be computed as of its end."""
    values = _review_values(data)
    values["updated_at"] = now
    review = save_with_trail(ManagementReview(created_at=now), values, actor=actor, now=now,
                             label=f"management review {values['title']}")
    review_notices.announce_planned(review, actor=actor, now=now)
    return review


def update_review(review: ManagementReview, data: dict, *, actor, now: dt.datetime) -> ManagementReview:
    """Change a planned review (period, day, chair, attendees)."""
    _require(review, actor, "edit", "A review that was held keeps its period; record a new one.")
    values = _review_values(data)
    before = review_notices.snapshot_people(review)
    review.updated_at = now  # the calendar event's LAST-MODIFIED (version_id moves its SEQUENCE)
    review = save_with_trail(review, values, actor=actor, now=now,
                             label=f"management review {review.title}")
    review_notices.announce_changes(review, before, actor=actor, now=now)
    return review


def cancel_review(review: ManagementReview, reason: str, *, actor, now: dt.datetime) -> ManagementReview:
    """Call a planned meeting off (the reason is kept); calendars show it cancelled."""
    _require(review, actor, "cancel", "Only a planned review can be cancelled.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the review is cancelled.", field="reason")
    changes = apply_changes(review, {"status": ReviewStatus.CANCELLED, "updated_at": now})
    db.session.flush()
    record(review, "cancelled", actor=actor, now=now, summary=f"Cancelled {review.title}: {reason[:200]}",
           changes={**changes, "reason": reason})
    review_notices.announce_cancelled(review, reason, actor=actor, now=now)
    return review


def hold_review(review: ManagementReview, data: dict, *, actor, now: dt.datetime) -> ManagementReview:
    """Record that the meeting took place (day, attendees, minutes); plans the next one."""
    _require(review, actor, "hold", "This review was already held.")
    held = data.get("held_on")
    if not isinstance(held, dt.date):
        raise DomainError("Give the day the meeting took place.", field="held_on")
    if held < review.period_end:
        raise DomainError("The meeting cannot take place before the period it reviews ends.", field="held_on")
    # The recorder's own day: a meeting held this morning east of UTC is not "in the future".
    if held > person_day(actor, now):
        raise DomainError("A meeting in the future has not been held yet.", field="held_on")
    attendees = (data.get("attendees") or "").strip()
    if not attendees:
        raise DomainError("List who attended (top management at least).", field="attendees")
    changes = apply_changes(review, {"held_on": held, "attendees": attendees,
                                     "minutes": (data.get("minutes") or "").strip() or None,
                                     "status": ReviewStatus.HELD, "updated_at": now})
    db.session.flush()
    record(review, "held", actor=actor, now=now, summary=f"Held {review.title}", changes=changes)
    review_notices.announce_held(review, actor=actor, now=now)
    _plan_next(review, actor=actor, now=now)
    return review


def _plan_next(review: ManagementReview, *, actor, now: dt.datetime) -> ManagementReview | None:
    """Plan the following review at the configured interval, unless one already follows (a
    cancelled one does not: it leaves the next period unreviewed).

    Its chair is this review's, while they can still open reviews; otherwise the person who
    recorded the meeting, since a departed chair must not stop the meeting being recorded
    (they may hand the chair on when they edit the new review)."""
    later = db.session.scalar(select(ManagementReview.id).where(
        ManagementReview.period_start > review.period_end,
        ManagementReview.status != ReviewStatus.CANCELLED).limit(1))
    if later is not None:
        return None
    months = review_interval_months()
    start = review.period_end + dt.timedelta(days=1)
    end = start + relativedelta(months=months) - dt.timedelta(days=1)
    planned = review.planned_on + relativedelta(months=months)
    return plan_review({"title": f"Management review {end:%Y}" if months >= 12 else
                        f"Management review {end:%b %Y}", "period_start": start, "period_end": end,
                        "planned_on": max(planned, end + dt.timedelta(days=1)),
                        "chair_id": review.chair_id if review_notices.may_take_part(review.chair)
                        else actor.id, "attendees": review.attendees,
                        # Only those who may still open the page: roles change within a year.
                        "invitee_ids": [u.id for u in review.invitees if review_notices.may_take_part(u)]},
                       actor=actor, now=now)


def add_output(review: ManagementReview, data: dict, *, actor, now: dt.datetime) -> ReviewAction:
    """Record a decision (9.3.3) as an action with an owner and a due date; the owner is told."""
    _require(review, actor, "add_output", "Outputs are recorded once the meeting was held and "
             "until its minutes are signed off.")
    try:
        kind = OutputKind(data.get("kind"))
    except ValueError:
        raise DomainError("Choose what kind of output it is.", field="kind") from None
    decision = (data.get("decision") or "").strip()
    if not decision:
        raise DomainError("Write down the decision or action.", field="decision")
    owner = active_owner(data.get("owner_id"))
    due = data.get("due_on")
    if not isinstance(due, dt.date):
        raise DomainError("Give the due date.", field="due_on")
    if due < (review.held_on or review_day(now)):
        raise DomainError("The due date is before the meeting.", field="due_on")
    action = ReviewAction(review=review, kind=kind, decision=decision, owner=owner, due_on=due,
                          created_at=now)
    db.session.add(action)
    db.session.flush()
    record(action, "create", actor=actor, now=now, summary=f"{review.title}: {kind.label} for {owner.name}",
           changes=snapshot({"kind": kind, "decision": decision, "owner_id": owner.id, "due_on": due}))
    notify(owner, kind="review_action_assigned", now=now, dedupe_key=f"review-action:{action.id}:assigned",
           title=f"{review.title}: an action for you, due {due:%d %b %Y}", body=decision,
           link="/management/reviews/actions")
    return action


def complete_output(action: ReviewAction, note: str, *, actor, now: dt.datetime) -> ReviewAction:
    """The owner (or a quality manager) reports an action done, saying what was done."""
    if actor is None or not (action.owner_id == actor.id or actor.can(Permission.MANAGE_QUALITY)):
        raise NotAllowed("Only the action's owner or a quality manager closes it.")
    if action.completed_at is not None:
        raise DomainError("This action is already done.")
    note = (note or "").strip()
    if not note:
        raise DomainError("Say what was done.", field="note")
    action.completed_at, action.completion_note = now, note
    db.session.flush()
    record(action, "done", actor=actor, now=now, summary=f"Done: {action.decision[:80]}",
           changes={"completion_note": note})
    review_notices.announce_done(action, actor=actor, now=now)
    return action


def reassign_output(action: ReviewAction, owner_id, *, actor, now: dt.datetime) -> ReviewAction:
    """Give an open output to another active owner (the chair or a quality manager does it);
    the new and the previous owner are told."""
    if not can_run(action.review, actor):
        raise NotAllowed("Only the review's chair or a quality manager hands an action over.")
    if action.completed_at is not None:
        raise DomainError("This action is already done.")
    owner = active_owner(owner_id, current=action.owner)
    previous = action.owner
    action.owner = owner
    db.session.flush()
    record(action, "reassign", actor=actor, now=now, summary=f"Handed from {previous.name} to {owner.name}",
           changes={"owner_id": [previous.id, owner.id]})
    stamp = now.strftime("%Y%m%d%H%M%S")
    notify(owner, kind="review_action_assigned", now=now,
           dedupe_key=f"review-action:{action.id}:assigned:{owner.id}:{stamp}",
           title=f"{action.review.title}: an action for you, due {action.due_on:%d %b %Y}",
           body=f"{actor.name} handed this action to you (it was {previous.name}'s).\n\n{action.decision}",
           link="/management/reviews/actions")
    notify(previous, kind="review_action_reassigned", now=now,
           dedupe_key=f"review-action:{action.id}:reassigned:{previous.id}:{stamp}",
           title=f"Your action from {action.review.title} now belongs to {owner.name}",
           body=action.decision, link=review_notices.link_for(action.review, previous))
    return action


def sign_off(review: ManagementReview, *, actor, now: dt.datetime) -> ManagementReview:
    """Top management (the chair) signs the minutes off; the record is then frozen."""
    if not allowed_actions(review, actor)["sign_off"]:
        if review.status is not ReviewStatus.HELD:
            raise DomainError("Only a held review's minutes can be signed off.")
        raise NotAllowed("The chair signs the minutes off.")
    changes = apply_changes(review, {"status": ReviewStatus.SIGNED_OFF, "signed_off_by_id": actor.id,
                                     "signed_off_at": now, "updated_at": now})
    db.session.flush()
    record(review, "signed_off", actor=actor, now=now, summary=f"Signed off {review.title}", changes=changes)
    review_notices.announce_signed_off(review, actor=actor, now=now)
    return review


def open_actions_for(user) -> list[ReviewAction]:
    """The user's open review actions, by due date (one query)."""
    return list(db.session.scalars(
        select(ReviewAction).where(ReviewAction.owner_id == user.id, ReviewAction.completed_at.is_(None))
        .options(joinedload(ReviewAction.review)).order_by(ReviewAction.due_on, ReviewAction.id)))


def _quality_managers() -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == Role.COORDINATOR, User.is_active.is_(True)).order_by(User.id)).unique())


def send_review_reminders(*, now: dt.datetime) -> int:
    """Remind the chair and coordinators before a planned review and once its day has passed
    unrecorded, and owners of review actions before and after their due date. Dedupe keys make
    a second run send nothing."""
    return _remind_upcoming(now) + _remind_unrecorded(now) + _remind_actions(now)


def _remind_upcoming(now: dt.datetime) -> int:
    today = review_day(now)
    made = 0
    horizon = today + dt.timedelta(days=max(REVIEW_REMINDER_DAYS))
    reviews = db.session.scalars(select(ManagementReview).where(
        ManagementReview.status == ReviewStatus.PLANNED, ManagementReview.planned_on >= today,
        ManagementReview.planned_on <= horizon).options(joinedload(ManagementReview.chair))).all()
    managers = _quality_managers() if reviews else []
    for review in reviews:
        lead = (review.planned_on - today).days
        stage = min(d for d in REVIEW_REMINDER_DAYS if d >= lead)
        for person in {p.id: p for p in [review.chair, *review.invitees, *managers] if p is not None}.values():
            if notify(person, kind="review_upcoming", now=now,
                      dedupe_key=f"review:{review.id}:{review.planned_on}:{stage}:{person.id}",
                      title=f"{review.title} on {review.planned_on:%d %b %Y}",
                      body="The input pack is ready to read.", link=f"/management/reviews/{review.id}"):
                made += 1
    return made


def _remind_unrecorded(now: dt.datetime) -> int:
    """Once per person and meeting day: a planned review whose day has passed is still theirs to
    record (or move, or cancel); without this the last reminder was the day before."""
    today = review_day(now)
    made = 0
    reviews = db.session.scalars(select(ManagementReview).where(
        ManagementReview.status == ReviewStatus.PLANNED, ManagementReview.planned_on < today)
        .options(joinedload(ManagementReview.chair))).all()
    managers = _quality_managers() if reviews else []
    for review in reviews:
        people = {p.id: p for p in [review.chair, *managers] if p is not None}.values()
        for person in [p for p in people if records_meeting(review, p)]:
            # The meeting day is in the key: a review moved to a later day that passes too is chased again.
            if notify(person, kind="review_overdue", now=now,
                      dedupe_key=f"review:{review.id}:{review.planned_on}:overdue:{person.id}",
                      title=f"{review.title} was planned for {review.planned_on:%d %b %Y}: "
                            "record the meeting",
                      body=f"What happened: {review.title} was planned for {review.planned_on:%d %b %Y} "
                           "and no meeting is recorded.\n"
                           "What is expected of you: Record the meeting on the review's page (day, "
                           "attendees, minutes), or move it to a new day or cancel it.\n"
                           f"By: {review.planned_on:%d %b %Y} (meeting day)",
                      link=f"/management/reviews/{review.id}"):
                made += 1
    return made


def _remind_actions(now: dt.datetime) -> int:
    # A day of margin in SQL: owners east of UTC are a day ahead; each owner's day decides.
    latest = review_day(now) + dt.timedelta(days=ACTION_REMINDER_DAYS + 1)
    made = 0
    actions = db.session.scalars(select(ReviewAction).where(
        ReviewAction.completed_at.is_(None), ReviewAction.due_on <= latest)
        .options(joinedload(ReviewAction.owner), joinedload(ReviewAction.review))).all()
    for action in actions:
        today = action_day(action, now)
        if action.due_on > today + dt.timedelta(days=ACTION_REMINDER_DAYS):
            continue
        stage = "overdue" if action.overdue_on(today) else "due"
        # The owner is in the key: an action handed over is reminded to its new owner too.
        if notify(action.owner, kind="review_action_due", now=now,
                  dedupe_key=f"review-action:{action.id}:{stage}:{action.due_on}:{action.owner_id}",
                  title=f"Review action {stage} {action.due_on:%d %b %Y}", body=action.decision,
                  link="/management/reviews/actions"):
            made += 1
    return made
