""""Waiting for me" across features: one to-do list per person, gathered from every source.

Each feature registers a source (``registry.add_waiting_source``) that derives its items from its
own workflow — findings and SCARs (``findings.waiting``), reports to write, sign or acknowledge,
management-review and risk actions — each with the deadline its sweep uses. The navigation badge,
the home panel and the "Waiting for me" page all read ``waiting_items``, computed once per request.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from flask import Flask, current_app, has_request_context, request, session

from audit.core.registry import registry
from audit.models.types import utcnow


@dataclass(frozen=True)
class ToDo:
    """One thing waiting for one person, as the list shows it."""

    source: str  #: the registering source ("findings", "reports", ...)
    step: str  #: the workflow action expected (e.g. ``respond``, ``sign_report``)
    label: str  #: what is expected, in words ("Response to write")
    key: str  #: what it is about, as people name it (a finding or audit reference)
    title: str  #: a short description of the subject
    url: str  #: the page where the person acts
    due_on: dt.date | None = None
    due_label: str = ""  #: which deadline ("Response", "Action", "Report")
    overdue: bool = False
    #: an optional ``(css class, text)`` pill, e.g. the finding's grade
    pill: tuple[str, str] | None = None


def waiting_for(user, now: dt.datetime) -> list[ToDo]:
    """Everything waiting for ``user`` from every registered source, soonest deadline first
    (no deadline last), then by source registration order and key."""
    if user is None or not getattr(user, "is_authenticated", True):
        return []
    sources = registry().waiting_sources
    order = {name: i for i, name in enumerate(sources)}
    items = [item for source in sources.values() for item in source(user, now)]
    items.sort(key=lambda i: (i.due_on or dt.date.max, order.get(i.source, 0), i.key, i.step))
    return items


def waiting_items(user) -> list[ToDo]:
    """What waits for ``user`` now, computed once per request (the navigation badge, the home
    panel and the "Waiting for me" page share it)."""
    if not has_request_context():
        return waiting_for(user, utcnow())
    # Kept in the request's environ: ``g`` belongs to the application context, which can
    # outlive one request (tests, CLI), and a stale list must never be shown.
    cache = request.environ.setdefault("audit.waiting", {})
    if user.id not in cache:
        cache[user.id] = waiting_for(user, utcnow())
        _remember_count(user, len(cache[user.id]))
    return cache[user.id]


#: Session key of the badge's count: ``[user id, count, when (epoch seconds)]``.
BADGE_KEY = "waiting_badge"


def _remember_count(user, count: int) -> None:
    if has_request_context() and current_app.config.get("WAITING_BADGE_MAX_AGE", 0) > 0:
        session[BADGE_KEY] = [user.id, count, int(time.time())]


def waiting_count(user) -> int:
    """How many items wait for ``user``: the navigation badge on every page.

    Working the list out costs tens of queries' worth of rules for a coordinator, on every
    page (issue 16). The count is kept in the person's session for ``WAITING_BADGE_MAX_AGE``
    seconds; any change the person makes drops it (:func:`forget_count_on_change`), a page that
    shows the list refreshes it, so the badge agrees with what the person did and trails
    others' changes by at most that age. The session travels with the person across workers.
    """
    kept = session.get(BADGE_KEY) if has_request_context() else None
    max_age = current_app.config.get("WAITING_BADGE_MAX_AGE", 0) if has_request_context() else 0
    if (kept and "audit.waiting" not in request.environ and kept[0] == user.id
            and 0 <= time.time() - kept[2] < max_age):
        return kept[1]
    return len(waiting_items(user))


def forget_count_on_change() -> None:
    """Before a request that may change something (any method but GET/HEAD/OPTIONS): the
    person's own action may add or settle items, so the next page counts again."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and BADGE_KEY in session:
        session.pop(BADGE_KEY)


def init_app(app: Flask) -> None:
    """Drop the kept badge count on every change the person makes."""
    app.before_request(forget_count_on_change)
