""""Waiting for me" gathers every registered source into one list, badge and page."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.core.registry import RegistrationError, Registry, registry
from audit.core.todo import ToDo, waiting_for
from audit.models import Role


def test_every_source_lands_in_one_sorted_list(app, make, now):
    """Items of all sources are merged, soonest deadline first, items without a deadline last."""
    user = make.user(roles=[Role.AUDITOR])
    today = now.date()
    reg = registry(app)
    saved = dict(reg.waiting_sources)
    try:
        reg.waiting_sources["late"] = lambda u, n: [ToDo("late", "sign", "Report to sign", "A-2", "Report",
                                                         "/a/2", today + dt.timedelta(days=9), "Report")]
        reg.waiting_sources["early"] = lambda u, n: [
            ToDo("early", "act", "Action to implement", "R-1", "Risk action", "/r/1", None),
            ToDo("early", "act", "Action to implement", "R-2", "Risk action", "/r/2",
                 today - dt.timedelta(days=1), "Action", True)]
        with app.test_request_context():
            keys = [item.key for item in waiting_for(user, now)]
    finally:
        reg.waiting_sources.clear()
        reg.waiting_sources.update(saved)
    assert keys == ["R-2", "A-2", "R-1"]


def test_other_sources_show_on_the_page_badge_and_home(app, make, login, client):
    """A source registered by another feature appears on the "Waiting for me" page with its link,
    in the navigation badge and in the home panel."""
    user = make.user(roles=[Role.VIEWER])
    reg = registry(app)
    reg.waiting_sources["probe"] = lambda u, n: [
        ToDo("probe", "decide", "Review output to act on", "MR-2027-1", "Hire two auditors",
             "/management/", None)] if u.id == user.id else []
    try:
        login(user)
        page = client.get("/findings/waiting").text
        home = client.get("/").text
    finally:
        del reg.waiting_sources["probe"]
    assert 'data-step="decide" data-key="MR-2027-1" data-source="probe"' in page
    assert 'href="/management/"' in page and "Hire two auditors" in page
    assert "Waiting for me (1)" in home


def test_a_source_registers_once():
    reg = Registry()
    reg.add_waiting_source("findings", lambda user, now: [])
    with pytest.raises(RegistrationError):
        reg.add_waiting_source("findings", lambda user, now: [])


def _badge(page: str) -> int:
    import re

    match = re.search(r'aria-label="(\d+) waiting"', page)
    return int(match.group(1)) if match else 0


def test_the_badge_count_is_kept_briefly_and_dropped_by_the_persons_own_change(app, make, login, client,
                                                                               monkeypatch):
    """The navigation badge is not worked out on every page (issue 16): the count is kept in the
    person's session for WAITING_BADGE_MAX_AGE seconds. Another person's change shows once that
    age has passed; the person's own change (any POST) and a page that lists the items (home)
    count again at once, so the badge never disagrees with what the person just did or sees."""
    import audit.core.todo as todo

    user = make.user(roles=[Role.VIEWER])
    items: list[ToDo] = []
    computed = []

    def probe(u, n):
        if u.id != user.id:
            return []
        computed.append(1)
        return list(items)

    def item(key):
        return ToDo("probe", "decide", "Review output to act on", key, "Hire two auditors", "/management/")

    clock = [1_000_000.0]
    monkeypatch.setattr(todo.time, "time", lambda: clock[0])
    monkeypatch.setitem(app.config, "WAITING_BADGE_MAX_AGE", 60)  # the default (tests use 0)
    reg = registry(app)
    reg.waiting_sources["probe"] = probe
    try:
        login(user)
        items.append(item("MR-1"))
        assert _badge(client.get("/calendar/").text) == 1
        items.append(item("MR-2"))  # someone else's change
        clock[0] += 30
        computed.clear()
        assert _badge(client.get("/calendar/").text) == 1 and not computed  # kept, not worked out
        clock[0] += 31  # older than the 60 s the count is kept
        assert _badge(client.get("/calendar/").text) == 2 and computed
        items.append(item("MR-3"))
        client.post("/calendar/tokens/0/revoke")  # any change of the person's (even a refused one)
        assert _badge(client.get("/calendar/").text) == 3
        items.append(item("MR-4"))
        home = client.get("/").text  # the home panel lists the items: the badge agrees with it
        assert "Waiting for me (4)" in home and _badge(home) == 4
        assert _badge(client.get("/calendar/").text) == 4
        app.config["WAITING_BADGE_MAX_AGE"] = 0  # 0: every page works the list out
        items.append(item("MR-5"))
        assert _badge(client.get("/calendar/").text) == 5
    finally:
        del reg.waiting_sources["probe"]
