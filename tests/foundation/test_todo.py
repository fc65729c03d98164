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
