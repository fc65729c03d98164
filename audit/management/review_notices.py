"""Who hears about a management review, and who may be invited to one.

The chair and the invitees are told when a review is planned (or they are added to it), when
it moves to another day and when it is cancelled; after a cancellation with nothing else
planned, the coordinators are asked to plan the next one (it also waits in their "waiting for
me"). Once the meeting is recorded, the chair is asked to sign the minutes off (it waits in their
list too). Invitees must be able to open the review page, which needs ``VIEW_REPORTS``: the form
offers only them and the service refuses anyone else. The person who acted is never told about
their own step. An output reported done is told to the chair (and to its owner when someone else
closed it); signed-off minutes to the invitees and the coordinators. Dedupe keys name the
review, the step, the day and the person, so a retried request sends nothing twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.auth.permissions import ROLE_PERMISSIONS, Permission
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import ManagementReview, ReviewStatus, Role, User, UserRole
from audit.notifications.services import notify
from audit.people.services import coordinators

#: What the review page requires (``review_views.review_detail``).
READ_PERMISSION = Permission.VIEW_REPORTS

#: Notification kinds (registered with the feature's other kinds).
KINDS = {
    "review_invited": "You are invited to a management review",
    "review_moved": "A management review you are invited to moved to another day",
    "review_cancelled": "A management review you are invited to was cancelled",
    "review_replan": "A management review was cancelled: plan the next one",
    "review_action_reassigned": "A management review action you owned was given to someone else",
    "review_sign_off": "A management review you chair was held: sign its minutes off",
    "review_action_done": "An action of a management review you chair or owned was reported done",
    "review_signed_off": "The minutes of a management review you took part in were signed off",
}


def reading_roles() -> list[Role]:
    """Roles that may open the review page."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if READ_PERMISSION in perms]


def invitable_people():
    """Active internal people who may open the review page, by name (a select statement)."""
    return (select(User).join(UserRole).where(UserRole.role.in_(reading_roles()), User.is_active.is_(True),
                                              User.supplier_id.is_(None)).order_by(User.name).distinct())


def check_invitees(invitees: list[User], *, field: str = "invitee_ids",
                   instead: str = "invite someone who can") -> None:
    """Refuse invitees -- or the chair (``field="chair_id"``) -- who could not open the review
    page: its steps would wait for someone their link refuses (403)."""
    blocked = [u.name for u in invitees if not may_take_part(u)]
    if blocked:
        roles = ", ".join(r.value for r in reading_roles() if r is not Role.ADMIN)
        raise DomainError(f"{', '.join(blocked)} cannot open management reviews (that needs one of the "
                          f"roles {roles}): {instead}, or change their roles first.", field=field)


def may_take_part(user: User | None) -> bool:
    """Whether ``user`` can chair or be invited to a review: active, and able to open its page."""
    return user is not None and user.is_active and user.can(READ_PERMISSION)


def link_for(review: ManagementReview, user: User) -> str:
    """The review's page for someone who may open it, else their own review actions: an action
    owner need not hold ``VIEW_REPORTS``, and a link that answers 403 helps nobody."""
    return _link(review) if user.can(READ_PERMISSION) else "/management/reviews/actions"


def _people(review: ManagementReview, actor, only=None) -> list[User]:
    everyone = {u.id: u for u in [review.chair, *review.invitees] if u is not None}
    return [u for uid, u in everyone.items() if (only is None or uid in only) and (actor is None or uid != actor.id)]


def _link(review: ManagementReview) -> str:
    return f"/management/reviews/{review.id}"


def announce_planned(review: ManagementReview, *, actor, now: dt.datetime, only=None) -> None:
    """Invite the chair and invitees (or only the ids in ``only``: people just added)."""
    for person in _people(review, actor, only):
        notify(person, kind="review_invited", now=now, link=_link(review),
               dedupe_key=f"review:{review.id}:invited:{review.planned_on}:{person.id}",
               title=f"{review.title} on {review.planned_on:%d %b %Y}: you are invited",
               body=f"Period reviewed {review.period_start:%d %b %Y} – {review.period_end:%d %b %Y}. "
                    "The input pack is on the review's page and the meeting is in your calendar feed.")


def announce_changes(review: ManagementReview, before: dict, *, actor, now: dt.datetime) -> None:
    """After an edit: newly invited people are invited; if the day moved, the others are told."""
    previous = before["people"]
    current = {u.id for u in [review.chair, *review.invitees] if u is not None}
    added = current - previous
    announce_planned(review, actor=actor, now=now, only=added)
    if before["planned_on"] != review.planned_on:
        for person in _people(review, actor, current - added):
            notify(person, kind="review_moved", now=now, link=_link(review),
                   dedupe_key=f"review:{review.id}:moved:{review.planned_on}:{person.id}",
                   title=f"{review.title} moved to {review.planned_on:%d %b %Y}",
                   body=f"It was planned for {before['planned_on']:%d %b %Y}.")


def snapshot_people(review: ManagementReview) -> dict:
    """What ``announce_changes`` compares with, taken before an edit."""
    return {"people": {u.id for u in [review.chair, *review.invitees] if u is not None},
            "planned_on": review.planned_on}


def announce_cancelled(review: ManagementReview, reason: str, *, actor, now: dt.datetime) -> None:
    """Tell the chair and invitees; ask coordinators to re-plan when nothing else is planned."""
    for person in _people(review, actor):
        notify(person, kind="review_cancelled", now=now, link=_link(review),
               dedupe_key=f"review:{review.id}:cancelled:{person.id}",
               title=f"{review.title} on {review.planned_on:%d %b %Y} is cancelled", body=reason)
    planned = db.session.scalar(select(ManagementReview.id).where(
        ManagementReview.status == ReviewStatus.PLANNED, ManagementReview.id != review.id).limit(1))
    if planned is not None:
        return
    for person in coordinators():
        if person.id == actor.id:
            continue  # it waits in their own list
        notify(person, kind="review_replan", now=now, link="/management/reviews/new",
               dedupe_key=f"review:{review.id}:replan:{person.id}",
               title=f"{review.title} was cancelled: plan the next management review",
               body=f"No other management review is planned. Reason given: {reason}")


def announce_held(review: ManagementReview, *, actor, now: dt.datetime) -> None:
    """Ask the chair to sign off the minutes of the meeting just recorded (the sign-off is
    theirs: ``reviews.allowed_actions``); a chair who recorded it sees it in their own list."""
    actor_name = getattr(actor, "name", None) or "The system"
    for person in _people(review, actor, only={review.chair_id}):
        notify(person, kind="review_sign_off", now=now, link=_link(review),
               dedupe_key=f"review:{review.id}:sign-off:{person.id}",
               title=f"{review.title}: the minutes wait for your sign-off",
               body=f"What happened: {actor_name} recorded the meeting held on {review.held_on:%d %b %Y}.\n"
                    "What is expected of you: Read the minutes and outputs on the review's page and "
                    "sign them off; signing off freezes the record.")


def _others(people: list[User | None], actor) -> list[User]:
    """``people`` who can still be told, once each, without the person who acted."""
    found = {u.id: u for u in people if u is not None and u.is_active and (actor is None or u.id != actor.id)}
    return list(found.values())


def announce_done(action, *, actor, now: dt.datetime) -> None:
    """An output reported done: the chair hears it (its minutes record the outputs), and so does
    the owner when a quality manager closed it for them."""
    review = action.review
    closer = getattr(actor, "name", None) or "The system"
    for person in _others([review.chair, action.owner], actor):
        notify(person, kind="review_action_done", now=now, link=link_for(review, person),
               dedupe_key=f"review-action:{action.id}:done:{person.id}",
               title=f"{review.title}: “{action.decision[:60]}” is done",
               body=f"What happened: {closer} reported this output done.\n"
                    f"What was done: {action.completion_note}")


def announce_signed_off(review: ManagementReview, *, actor, now: dt.datetime) -> None:
    """Signed-off minutes are final: the chair (unless they signed), the invitees and the
    coordinators hear it."""
    for person in _others([review.chair, *review.invitees, *coordinators()], actor):
        notify(person, kind="review_signed_off", now=now, link=link_for(review, person),
               dedupe_key=f"review:{review.id}:signed-off:{person.id}",
               title=f"{review.title}: the minutes are signed off",
               body=f"{getattr(actor, 'name', None) or 'Top management'} signed off the minutes of "
                    f"the meeting held on {review.held_on:%d %b %Y}; the record is now final.")
