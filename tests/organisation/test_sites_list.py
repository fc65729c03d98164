"""The sites list: a unit count per site without loading units, one page at a time (issue 16)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Mapper

from audit.extensions import db
from audit.models import Role, Site, Unit
from audit.organisation.views import SITES


def _rows(html: str) -> dict[str, str]:
    """Site name → the Units cell, read off the list table."""
    found = {}
    for name, cells in re.findall(r'<a href="/organisation/sites/\d+">([^<]+)</a></td>(.*?)</tr>', html, re.S):
        values = re.findall(r"<td>([^<]*)</td>", cells)
        found[name] = values[2]  # Code, Time zone, Units, Active
    return found


def _build(make, sites: int, units_each: int, *, first: int = 0) -> list[Site]:
    made = []
    for i in range(first, first + sites):
        site = make.site(name=f"Plant {i:03d}")
        for _ in range(units_each + i % 3):
            make.unit(site=site)
        made.append(site)
    return made


def test_each_site_shows_its_unit_count(app, make, login):
    coordinator = make.user(roles=(Role.COORDINATOR,))
    _build(make, 4, 2)
    make.site(name="Empty plant")
    html = login(coordinator).get("/organisation/sites/").get_data(as_text=True)
    rows = _rows(html)
    assert rows["Plant 000"] == "2" and rows["Plant 001"] == "3" and rows["Plant 002"] == "4"
    assert rows["Empty plant"] == "0"


def test_the_list_loads_no_unit_and_a_constant_number_of_statements(app, make, login, count_queries):
    """Ten times more sites and units: the same statements, and no Unit object loaded."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    client = login(coordinator)
    _build(make, 3, 2)
    db.session.commit()
    client.get("/organisation/sites/")  # warm: after a commit the first request reloads the user
    with count_queries() as small:
        assert client.get("/organisation/sites/").status_code == 200
    _build(make, 30, 5, first=3)
    db.session.commit()
    client.get("/organisation/sites/")  # as above: the committed session reloads the user once
    loaded: list[str] = []

    def _on_load(target, context):
        loaded.append(type(target).__name__)

    event.listen(Mapper, "load", _on_load)
    try:
        with count_queries() as large:
            assert client.get("/organisation/sites/").status_code == 200
    finally:
        event.remove(Mapper, "load", _on_load)
    assert large.count == small.count, large.statements
    assert "Unit" not in loaded
    assert loaded.count("Site") <= SITES.page_size


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(SITES, "page_size", 4)


def test_the_list_is_paged_in_name_order(app, make, login, small_pages):
    coordinator = make.user(roles=(Role.COORDINATOR,))
    _build(make, 10, 1)
    client = login(coordinator)
    seen = []
    for page in (1, 2, 3):
        html = client.get(f"/organisation/sites/?page={page}").get_data(as_text=True)
        names = list(_rows(html))
        assert len(names) == (4 if page < 3 else 2)
        assert f"Page {page} of 3 (10 sites)" in html
        seen += names
    assert seen == [f"Plant {i:03d}" for i in range(10)]
    # Out of range pages show the nearest page instead of an error or an empty table.
    assert list(_rows(client.get("/organisation/sites/?page=99").get_data(as_text=True))) == seen[8:]
    assert list(_rows(client.get("/organisation/sites/?page=-5").get_data(as_text=True))) == seen[:4]


def test_unit_count_is_not_loaded_elsewhere(app, make):
    """Outside the list a Site carries no count (query_expression): nothing extra is selected."""
    site = make.unit().site
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Site, site.id).unit_count is None
    assert db.session.query(Unit).count() == 1
