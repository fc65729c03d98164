"""Base UI: error pages never leak a traceback, the trail page, health check."""

import pytest
from flask import abort

from audit.extensions import db
from audit.models import Role


@pytest.fixture
def viewer(make, login):
    user = make.user(roles=(Role.VIEWER,))
    db.session.commit()
    login(user)
    return user


def test_404_page(client, viewer):
    """An unknown page renders the friendly 404."""
    response = client.get("/organisation/sites/999999")
    assert response.status_code == 404
    assert b"We could not find that page" in response.data


def test_403_page(client, viewer):
    """A forbidden write renders the friendly 403."""
    response = client.get("/organisation/sites/new")
    assert response.status_code == 403
    assert b"You do not have permission" in response.data


def test_500_page_hides_the_traceback(app, client, make, login):
    """An unexpected error shows a plain page, not the exception."""
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    app.view_functions["boom"].required_permissions = frozenset()
    login(make.user(roles=(Role.VIEWER,)))
    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert b"Something went wrong" in response.data
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_400_page(app, client, make, login):
    """A bad request renders the friendly 400."""
    @app.get("/bad-for-test")
    def bad():
        abort(400)

    app.view_functions["bad"].required_permissions = frozenset()
    login(make.user(roles=(Role.VIEWER,)))
    assert b"could not be understood" in client.get("/bad-for-test").data


def test_json_errors_for_api_paths(client):
    """API paths answer JSON errors, and 401 rather than a login redirect."""
    response = client.get("/api/nothing-here")
    assert response.status_code in (401, 404)
    assert response.is_json


def test_health_check_is_public(client):
    """/healthz answers without login."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_trail_page_lists_changes(client, make, login, now):
    """The trail page shows who changed what."""
    from audit.organisation.services import create_site

    coordinator = make.user(roles=(Role.COORDINATOR,), name="Maria Keller")
    create_site({"name": "Lyon", "code": "LY", "timezone": "Europe/Paris"}, actor=coordinator, now=now)
    db.session.commit()
    login(coordinator)
    page = client.get("/trail/")
    assert b"Created site Lyon" in page.data and b"Maria Keller" in page.data


def test_navigation_is_shown_by_role(client, make, login):
    """Top management sees no People-management buttons; coordinators get 'New site'."""
    viewer = make.user(roles=(Role.VIEWER,))
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    login(viewer)
    assert b"New site" not in client.get("/organisation/sites/").data
    login(coordinator)
    assert b"New site" in client.get("/organisation/sites/").data
