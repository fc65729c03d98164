"""Paged reference lists order by a unique key last, so rows that tie on the list's own order
(two units of the same name, two training records of one day) cannot move between pages."""

import re

import pytest

from audit.management import views as management_views
from audit.models import Role
from audit.organisation import views as organisation_views
from audit.people import views as people_views

RESOURCES = [(bp, res) for bp, group in (
    ("organisation", organisation_views.RESOURCES), ("people", (people_views.USERS, people_views.QUALIFICATIONS,
                                                               people_views.TRAINING)),
    ("management", management_views.RESOURCES)) for res in group]


@pytest.mark.parametrize(("blueprint", "res"), RESOURCES, ids=[r.name for _b, r in RESOURCES])
def test_every_paged_list_orders_by_its_primary_key_last(app, make, login, count_queries, blueprint, res):
    """The page query (the one with LIMIT) ends its ORDER BY with the table's primary key."""
    from flask import url_for

    client = login(make.user(roles=(Role.ADMIN, Role.COORDINATOR)))
    with app.test_request_context():
        url = url_for(f"{blueprint}.{res.name}_list")
    with count_queries() as q:
        response = client.get(url)
    assert response.status_code == 200
    table = res.model.__table__.name
    orders = [re.split(r"(?i) LIMIT ", re.split(r"(?i) ORDER BY ", s)[-1])[0].strip()
              for s in q.statements if " OFFSET " in s.upper() and re.search(rf"FROM {table}\b", s)]
    orders = [o for o in orders if o.lstrip("(").startswith(f"{table}.")]
    assert orders, q.statements
    order = orders[-1]
    assert re.search(rf"\b{table}\.id( DESC| ASC)?$", order), order
