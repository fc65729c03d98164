"""Actions taken on risks and opportunities (ISO 9001 6.1.2), tracked like corrective actions.

Each action has a description, an owner, a due date and a status (open → done or withdrawn,
with a note); once done, the risk's owner or a quality manager reviews its effectiveness.
Owners are told when given one, see it in "waiting for me", and are reminded by the sweep
before and after it falls due. Services flush, never commit; every write leaves a trail entry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.models import Effectiveness, Risk, RiskAction, RiskActionStatus, User
from audit.notifications.services import notify
from audit.trail.services import record, snapshot

#: Days before a risk action's due date when its owner is reminded.
REMINDER_DAYS = 7

#: Notification kinds of risk actions (registered by ``audit.management.init_app``).
KINDS = {
    "risk_action_assigned": "You were given an action on a risk or opportunity",
    "risk_action_due": "An action on a risk or opportunity you own is due",
}

MY_ACTIONS_LINK = "/management/risk-actions"


def can_plan(risk: Risk, user) -> bool:
    """The risk's owner or a quality manager plans actions on it and reviews their effectiveness."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or risk.owner_id == user.id)


def can_close(action: RiskAction, user) -> bool:
    """The action's owner or a quality manager reports it done or withdraws it."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or action.owner_id == user.id)


def add_action(risk: Risk, data: dict, *, actor, now: dt.datetime) -> RiskAction:
    """Plan an action on ``risk`` with an owner and a due date; the owner is told."""
    if not can_plan(risk, actor):
        raise NotAllowed("Only the risk's owner or a quality manager plans its actions.")
    description = (data.get("description") or "").strip()
    if not description:
        raise DomainError("Describe the action.", field="description")
    owner = get_or_fail(User, data.get("owner_id"), field="owner_id", what="owner")
    if not owner.is_active:
        raise DomainError(f"{owner.name} can no longer log in: choose an active owner.", field="owner_id")
    due = data.get("due_on")
    if not isinstance(due, dt.date):
        raise DomainError("Give the due date.", field="due_on")
    if due < now.date():
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
    if day > now.date():
        raise DomainError("A review cannot take place after today.", field="reviewed_on")
    if day < action.completed_at.date():
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
        .options(joinedload(RiskAction.risk)).order_by(RiskAction.due_on, RiskAction.id)))


def send_risk_action_reminders(*, now: dt.datetime) -> int:
    """Remind owners of open risk actions a week before and after their due date (the dedupe
    key names the stage and the date, so a second run sends nothing and a moved date re-arms)."""
    today = now.date()
    actions = db.session.scalars(select(RiskAction).where(
        RiskAction.status == RiskActionStatus.OPEN,
        RiskAction.due_on <= today + dt.timedelta(days=REMINDER_DAYS))
        .options(joinedload(RiskAction.owner), joinedload(RiskAction.risk))).all()
    made = 0
    for action in actions:
        if not action.owner.is_active:
            continue
        stage = "overdue" if action.due_on < today else "due"
        if notify(action.owner, kind="risk_action_due", now=now,
                  dedupe_key=f"risk-action:{action.id}:{stage}:{action.due_on}",
                  title=f"Risk action {stage} {action.due_on:%d %b %Y}: {action.risk.title[:80]}",
                  body=action.description, link=MY_ACTIONS_LINK):
            made += 1
    return made
