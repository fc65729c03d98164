"""This feature's share of "waiting for me" (``audit.core.todo``): open management review
outputs and open risk actions the person owns, each with its due date and the page to act on.

Two queries whatever the number of items (the review and the risk are joined in).
"""

from __future__ import annotations

import datetime as dt

from flask import url_for

from audit.core.todo import ToDo
from audit.management import reviews, risk_actions


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Review actions (9.3.3) and risk actions (6.1.2) ``user`` owns and has not closed."""
    today = now.date()
    items = []
    for action in reviews.open_actions_for(user):
        items.append(ToDo("management", "review_action", "Management review action to complete",
                          action.review.title, action.decision[:160], url_for("reviews.my_actions"),
                          action.due_on, "Action", action.due_on < today, ("", action.kind.label)))
    for action in risk_actions.open_actions_for(user):
        items.append(ToDo("management", "risk_action", "Action on a risk or opportunity to complete",
                          action.risk.title[:80], action.description[:160],
                          url_for("management.my_risk_actions"), action.due_on, "Action",
                          action.due_on < today, ("", action.risk.kind.label)))
    return items
