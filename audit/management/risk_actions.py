"""Actions taken on risks and opportunities (ISO 9001 6.1.2), tracked like corrective actions.

Each action has a description, an owner, a due date and a status (open → done or withdrawn,
with a note); once done, the risk's owner or a quality manager reviews its effectiveness.
Owners are told when given one, see it in "waiting for me", and are reminded by the sweep
before and after it falls due. Once done, the risk's owner is told and has "Review
effectiveness" waiting. An action whose owner can no longer log in is handed to someone else by
a coordinator or the risk's owner. Services flush, never commit; every write leaves a trail entry.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import active_owner
from audit.extensions import db
from audit.management.local import risk_day
from audit.models import Effectiveness, Risk, RiskAction, RiskActionStatus, Role, Unit, User
from audit.models.types import latest_site_date
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.trail.services import record, snapshot

#: Days before a risk action's due date when its owner is reminded.
REMINDER_DAYS = 7

#: Notification kinds of risk actions (registered by ``audit.management.init_app``).
KINDS = {
    "risk_action_assigned": "You were given an action on a risk or opportunity",
    "risk_action_due": "An action on a risk or opportunity you own is due",
    "risk_action_done": "An action on a risk you own is done: review its effectiveness",
    "risk_action_reassigned": "A risk action you owned was given to someone else",
}

#: DEFAULT days after an action is done by which its effectiveness is reviewed (config
#: ``RISK_EFFECTIVENESS_REVIEW_DAYS``). A risk action has no effectiveness-review date of its
#: own (the risk's ``review_due_on`` is the risk's), so the review falls due this many days after
#: the action's completion date.
EFFECTIVENESS_REVIEW_DAYS = 30

MY_ACTIONS_LINK = "/management/risk-actions"


def can_plan(risk: Risk, user) -> bool:
    """The risk's owner or a quality manager plans actions on it and reviews their effectiveness."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or risk.owner_id == user.id)


def can_close(action: RiskAction, user) -> bool:
    """The action's owner or a quality manager reports it done or withdraws it."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or action.owner_id == user.id)


def effectiveness_review_days() -> int:
    """Days after completion when the effectiveness review falls due (config, default 30)."""
    if has_app_context():
        return int(current_app.config.get("RISK_EFFECTIVENESS_REVIEW_DAYS", EFFECTIVENESS_REVIEW_DAYS))
    return EFFECTIVENESS_REVIEW_DAYS


def review_due_on(action: RiskAction) -> dt.date | None:
    """When the effectiveness of a done action should be reviewed (its local completion date
    plus ``effectiveness_review_days``); None while it is not done."""
    if action.status is not RiskActionStatus.DONE or action.completed_at is None:
        return None
    return risk_day(action.risk, action.completed_at) + dt.timedelta(days=effectiveness_review_days())


def reviewers(risk: Risk) -> list[User]:
    """Who reviews the effectiveness of ``risk``'s actions: its owner while active, else the
    coordinators (so a done action never waits for nobody)."""
    if risk.owner is not None and risk.owner.is_active:
        return [risk.owner]
    return coordinators()


def add_action(risk: Risk, data: dict, *, actor, now: dt.datetime) -> RiskAction:
    """Plan an action on ``risk`` with an owner and a due date; the owner is told."""
    if not can_plan(risk, actor):
        raise NotAllowed("Only the risk's owner or a quality manager plans its actions.")
    description = (data.get("description") or "").strip()
    if not description:
        raise DomainError("Describe the action.", field="description")
    owner = active_owner(data.get("owner_id"))
    due = data.get("due_on")
    if not isinstance(due, dt.date):
        raise DomainError("Give the due date.", field="due_on")
    if due < risk_day(risk, now):
        raise DomainError("The due date has already passed.", field="due_on")
    action = RiskAction(risk=risk, description=description[:4000], owner=owner, due_on=due,
                        status=RiskActionStatus.OPEN, effectiveness=Effectiveness.NOT_REVIEWED,
                        created_at=now)
    db.session.add(action)
    db.session.flush()
    record(action, "create", actor=actor, now=now, summary=f"Action on {risk.title[:80]} for {owner.name}",
           changes=snapshot({"description": description, "owner_id": owner.id, "due_on": due}))
    record(risk, "action", actor=actor, now=now, summary=f"Action planned: {description[:80]}",
           changes=snapshot({"action_id": action.id, "owner_id": owner.id, "due_on": due}))
    notify(owner, kind="risk_action_assigned", now=now, dedupe_key=f"risk-action:{action.id}:assigned",
           title=f"Action on “{risk.title[:80]}”, due {due:%d %b %Y}", body=description,
           link=MY_ACTIONS_LINK)
    return action


def close_action(action: RiskAction, outcome: str, note: str, *, actor, now: dt.datetime) -> RiskAction:
    """Report an open action done, or withdraw it, saying what was done or why."""
    if not can_close(action, actor):
        raise NotAllowed("Only the action's owner or a quality manager closes it.")
    if action.status is not RiskActionStatus.OPEN:
        raise DomainError(f"This action is already {action.status.label.lower()}.")
    try:
        status = RiskActionStatus(outcome)
    except ValueError:
        raise DomainError("Choose done or withdrawn.", field="outcome") from None
    if status is RiskActionStatus.OPEN:
        raise DomainError("Choose done or withdrawn.", field="outcome")
    note = (note or "").strip()
    if not note:
        raise DomainError("Say what was done." if status is RiskActionStatus.DONE
                          else "Say why it is withdrawn.", field="note")
    action.status, action.completed_at, action.completion_note = status, now, note[:4000]
    db.session.flush()
    record(action, status.value, actor=actor, now=now, summary=f"{status.label}: {action.description[:80]}",
           changes=snapshot({"status": [RiskActionStatus.OPEN.value, status.value], "completion_note": note}))
    if status is RiskActionStatus.DONE:
        due = review_due_on(action)
        for person in reviewers(action.risk):
            if person.id == actor.id:
                continue  # nobody is told about their own step; it waits in their list anyway
            notify(person, kind="risk_action_done", now=now,
                   dedupe_key=f"risk-action:{action.id}:done:{person.id}",
                   title=f"Action done on “{action.risk.title[:80]}”: review its effectiveness by {due:%d %b %Y}",
                   body=f"{action.description}\n\n{actor.name}: {note}",
                   link=f"/management/risks/{action.risk_id}#risk-actions")
    return action


def can_reassign(risk: Risk, user) -> bool:
    """A coordinator (or an administrator) or the risk's owner hands its actions over."""
    return user is not None and (Role.COORDINATOR in user.roles or Role.ADMIN in user.roles
                                 or risk.owner_id == user.id)


def reassign_action(action: RiskAction, owner_id, *, actor, now: dt.datetime) -> RiskAction:
    """Give an open action to another active owner (the previous one left, or cannot do it);
    a coordinator or the risk's owner does it; the new and the previous owner are told."""
    if not can_reassign(action.risk, actor):
        raise NotAllowed("Only a coordinator or the risk's owner hands an action over.")
    if action.status is not RiskActionStatus.OPEN:
        raise DomainError(f"This action is already {action.status.label.lower()}.")
    owner = active_owner(owner_id, current=action.owner)
    previous = action.owner
    action.owner = owner
    db.session.flush()
    record(action, "reassign", actor=actor, now=now,
           summary=f"Handed from {previous.name} to {owner.name}: {action.description[:80]}",
           changes={"owner_id": [previous.id, owner.id]})
    stamp = now.strftime("%Y%m%d%H%M%S")
    notify(owner, kind="risk_action_assigned", now=now, dedupe_key=f"risk-action:{action.id}:assigned:{owner.id}:{stamp}",
           title=f"Action on “{action.risk.title[:80]}”, due {action.due_on:%d %b %Y}",
           body=f"{actor.name} handed this action to you (it was {previous.name}'s).\n\n{action.description}",
           link=MY_ACTIONS_LINK)
    notify(previous, kind="risk_action_reassigned", now=now,
           dedupe_key=f"risk-action:{action.id}:reassigned:{previous.id}:{stamp}",
           title=f"Your action on “{action.risk.title[:80]}” now belongs to {owner.name}",
           body=action.description, link=f"/management/risks/{action.risk_id}")
    return action


def review_effectiveness(action: RiskAction, data: dict, *, actor, now: dt.datetime) -> RiskAction:
    """Record whether a done action worked (6.1.2 b 2): outcome, day, note."""
    if not can_plan(action.risk, actor):
        raise NotAllowed("Only the risk's owner or a quality manager reviews its actions.")
    if action.status is not RiskActionStatus.DONE:
        raise DomainError("Review the effectiveness of an action once it is done.")
    try:
        outcome = Effectiveness(data.get("effectiveness"))
    except ValueError:
        raise DomainError("Choose effective or not effective.", field="effectiveness") from None
    if outcome is Effectiveness.NOT_REVIEWED:
        raise DomainError("Choose effective or not effective.", field="effectiveness")
    day = data.get("reviewed_on")
    if not isinstance(day, dt.date):
        raise DomainError("Give the day of the review.", field="reviewed_on")
    # Days as the risk's site counts them (``management.local``): near midnight UTC and the
    # site's date differ, and the person typed the site's date.
    if day > risk_day(action.risk, now):
        raise DomainError("A review cannot take place after today.", field="reviewed_on")
    if day < risk_day(action.risk, action.completed_at):
        raise DomainError("The review comes after the action was done.", field="reviewed_on")
    old = action.effectiveness
    action.effectiveness, action.reviewed_on = outcome, day
    action.review_note = (data.get("review_note") or "").strip()[:4000] or None
    db.session.flush()
    record(action, "effectiveness", actor=actor, now=now, summary=f"{outcome.label}: {action.description[:80]}",
           changes=snapshot({"effectiveness": [old.value, outcome.value], "reviewed_on": day}))
    return action


def open_actions_for(user) -> list[RiskAction]:
    """The user's open risk actions, by due date (one query)."""
    return list(db.session.scalars(
        select(RiskAction).where(RiskAction.owner_id == user.id, RiskAction.status == RiskActionStatus.OPEN)
        .options(joinedload(RiskAction.risk).joinedload(Risk.unit).joinedload(Unit.site))
        .order_by(RiskAction.due_on, RiskAction.id)))


def send_risk_action_reminders(*, now: dt.datetime) -> int:
    """Remind owners of open risk actions a week before and after their due date (the dedupe
    key names the stage and the date, so a second run sends nothing and a moved date re-arms).
    Days are the risk's own site's, as on the risk page and in "Waiting for me"."""
    window = dt.timedelta(days=REMINDER_DAYS)
    actions = db.session.scalars(select(RiskAction).where(
        RiskAction.status == RiskActionStatus.OPEN, RiskAction.due_on <= latest_site_date(now) + window)
        .options(joinedload(RiskAction.owner),
                 joinedload(RiskAction.risk).joinedload(Risk.unit).joinedload(Unit.site))).all()
    made = 0
    for action in actions:
        today = risk_day(action.risk, now)
        if not action.owner.is_active or action.due_on > today + window:
            continue
        stage = "overdue" if action.due_on < today else "due"
        if notify(action.owner, kind="risk_action_due", now=now,
                  dedupe_key=f"risk-action:{action.id}:{stage}:{action.due_on}",
                  title=f"Risk action {stage} {action.due_on:%d %b %Y}: {action.risk.title[:80]}",
                  body=action.description, link=MY_ACTIONS_LINK):
            made += 1
    return made
