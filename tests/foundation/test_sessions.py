"""Sessions that end: logout, password change, deactivation and role removal revoke cookies.

The test app keeps one application context open for the whole test, and Flask-Login caches
the current user in that context's ``g``; in production every request has its own. So each
request here first forgets that cache, or one browser's login would leak into the next
browser's request and a revoked cookie would seem to work.
"""

from __future__ import annotations

import pytest
from flask import g

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.models import Role, TrailEntry, User
from audit.people.services import update_user

API_PATH = "/api/audits/1/answers"


def _call(client, method: str, path: str, **kwargs):
    """One request of ``client`` that loads its user from its own cookie, as in production."""
    g.pop("_login_user", None)
    return client.open(path, method=method, **kwargs)


def _logged_in_client(app, user, password):
    """A second browser: its own cookie jar, logged in through the real form."""
    db.session.commit()
    other = app.test_client()
    response = _call(other, "POST", "/login", data={"email": user.email, "password": password})
    assert response.status_code == 302 and response.location == "/"
    assert _is_logged_in(other)
    return other


def _is_logged_in(client, **kwargs) -> bool:
    response = _call(client, "GET", "/", **kwargs)
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.location.startswith("/login")
    return False


def _replay(app, cookie_value: str):
    """A fresh client carrying nothing but a captured session cookie."""
    replay = app.test_client()
    replay.set_cookie("session", cookie_value)
    return replay


def _user_form(user: User, **changes) -> dict:
    data = {"name": user.name, "email": user.email, "job_title": user.job_title,
            "roles": sorted(r.value for r in user.roles), "supplier_id": None,
            "timezone": user.timezone, "is_active": user.is_active, "password": ""}
    data.update(changes)
    return data


def test_cookie_replayed_after_logout_gets_the_login_page(app, client, make, login):
    """A session cookie captured before logout opens nothing afterwards, on pages or the API."""
    user = make.user(roles=(Role.COORDINATOR,))
    login(user)
    captured = client.get_cookie("session").value
    assert _is_logged_in(_replay(app, captured))  # the copy works while the session lives

    assert _call(client, "POST", "/logout").status_code == 302
    replay = _replay(app, captured)
    page = _call(replay, "GET", "/")
    assert page.status_code == 302 and page.location.startswith("/login")
    assert _call(replay, "GET", "/login").status_code == 200  # the login form, not a redirect home
    api = _call(replay, "GET", API_PATH)
    assert api.status_code == 401
    assert api.mimetype == "application/problem+json"
    assert api.get_json()["code"] == "unauthorized" and api.get_json()["status"] == 401


def test_logout_ends_the_users_sessions_everywhere(app, client, make, login):
    """Logging out in one browser ends the same user's session in another, and is trailed."""
    user = make.user()
    login(user)
    tablet = _logged_in_client(app, user, make.PASSWORD)
    _call(client, "POST", "/logout")
    assert not _is_logged_in(tablet)
    assert db.session.query(TrailEntry).filter_by(action="end_sessions",
                                                  object_id=user.id).count() == 1


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, make, login):
    """After changing one's password the current browser stays in and the others are out."""
    user = make.user()
    login(user)
    tablet = _logged_in_client(app, user, make.PASSWORD)
    response = _call(client, "POST", "/account", data={
        "pw-current_password": make.PASSWORD, "pw-password": "quiet-lantern-harbour",
        "pw-confirm": "quiet-lantern-harbour"})
    assert response.status_code == 302
    assert _is_logged_in(client)
    assert not _is_logged_in(tablet)


@pytest.mark.parametrize("change", [
    {"is_active": False},
    {"roles": ["auditor"]},
    {"password": "quiet-lantern-harbour"},
], ids=["deactivated", "role-removed", "password-reset"])
def test_admin_changes_that_take_something_away_end_sessions(app, make, now, change):
    """Deactivation, a removed role or a password reset by an administrator ends every session."""
    admin = make.user(roles=(Role.ADMIN,))
    user = make.user(roles=(Role.AUDITOR, Role.AUDITEE))
    db.session.commit()
    browser = _logged_in_client(app, user, make.PASSWORD)
    update_user(user, _user_form(user, **change), actor=admin, now=now)
    db.session.commit()
    assert not _is_logged_in(browser)
    entry = db.session.query(TrailEntry).filter_by(action="end_sessions", object_id=user.id).one()
    assert entry.actor_id == admin.id


def test_moving_a_supplier_contact_to_another_company_ends_sessions(app, make, now):
    """A supplier contact moved to another company must not keep seeing the first one."""
    admin = make.user(roles=(Role.ADMIN,))
    first, second = make.supplier(), make.supplier()
    contact = make.user(roles=(Role.SUPPLIER,), supplier=first)
    db.session.commit()
    browser = _logged_in_client(app, contact, make.PASSWORD)
    data = _user_form(contact, supplier_id=second.id)
    update_user(contact, data, actor=admin, now=now)
    db.session.commit()
    assert contact.supplier_id == second.id
    assert not _is_logged_in(browser)


def test_admin_edit_that_takes_nothing_away_keeps_sessions(app, make, now):
    """A new job title or an added role leaves the person logged in."""
    admin = make.user(roles=(Role.ADMIN,))
    user = make.user(roles=(Role.AUDITOR,))
    db.session.commit()
    browser = _logged_in_client(app, user, make.PASSWORD)
    update_user(user, _user_form(user, job_title="Lead auditor", roles=["auditor", "auditee"]),
                actor=admin, now=now)
    db.session.commit()
    assert _is_logged_in(browser)


def test_deactivation_through_the_people_page_ends_sessions(app, client, make, login):
    """The administrator's edit form deactivates and logs the person out at once."""
    admin = make.user(roles=(Role.ADMIN,))
    user = make.user(roles=(Role.AUDITOR,))
    db.session.commit()
    browser = _logged_in_client(app, user, make.PASSWORD)
    login(admin)
    form = _user_form(user, is_active="")  # an unticked checkbox is simply absent
    form = {k: v for k, v in form.items() if v not in ("", None, False)}
    form["supplier_id"] = "0"
    response = _call(client, "POST", f"/people/users/{user.id}/edit", data=form)
    assert response.status_code == 302, response.data[:300]
    assert not _is_logged_in(browser)


def test_log_out_other_sessions_keeps_the_current_one(app, client, make, login):
    """"Log out other sessions" on the account page ends the others and not this one."""
    user = make.user()
    login(user)
    tablet = _logged_in_client(app, user, make.PASSWORD)
    page = _call(client, "GET", "/account")
    assert b"Log out other sessions" in page.data
    response = _call(client, "POST", "/account/sessions")
    assert response.status_code == 302 and response.location == "/account"
    assert _is_logged_in(client)
    assert not _is_logged_in(tablet)


def test_log_out_other_sessions_needs_the_csrf_token(app, client, make, login):
    """Without the CSRF token the POST is refused and every session survives."""
    user = make.user()
    login(user)
    tablet = _logged_in_client(app, user, make.PASSWORD)
    app.config["WTF_CSRF_ENABLED"] = True
    assert _call(client, "POST", "/account/sessions").status_code == 400
    assert _is_logged_in(tablet)
    db.session.refresh(user)
    assert user.session_version == 1


def test_a_changed_client_address_keeps_the_session(client, make, login):
    """Sessions are not bound to the client's address (tablets roam between networks)."""
    user = make.user()
    login(user)
    assert _is_logged_in(client)
    assert _is_logged_in(client, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert _is_logged_in(client, environ_base={"REMOTE_ADDR": "198.51.100.4"},
                         headers={"User-Agent": "Tablet/2.0"})


def test_cookie_with_a_bare_user_id_is_refused(client, make):
    """A cookie from before session versions existed (a bare id) opens nothing."""
    user = make.user()
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    assert not _is_logged_in(client)


def test_the_session_users_roles_come_with_it_and_follow_changes(app, make, now, count_queries):
    """The session's user is read with its roles in one statement; ``roles`` then needs no
    query, and a change of roles made in the same request shows at once, before and after
    the commit (the snapshot read with the user never outlives ``role_links``)."""
    from audit.core.security import load_session_user

    user = make.user(roles=(Role.AUDITOR, Role.AUDITEE))
    db.session.commit()
    user_id, cookie_id = user.id, user.get_id()
    db.session.remove()  # a request of its own: the user is not in the session yet
    with count_queries() as q:
        loaded = load_session_user(cookie_id)
        assert loaded.roles == {Role.AUDITOR, Role.AUDITEE}
        assert loaded.can(Permission.CONDUCT_AUDIT) and not loaded.can(Permission.MANAGE_USERS)
    assert q.count == 1, q.statements
    update_user(loaded, _user_form(loaded, roles=["auditor", "coordinator"]), actor=None, now=now)
    assert loaded.roles == {Role.AUDITOR, Role.COORDINATOR}
    db.session.commit()  # expires the user: the snapshot goes with role_links
    assert loaded.roles == {Role.AUDITOR, Role.COORDINATOR}
    db.session.remove()
    fresh = load_session_user(f"{user_id}:{db.session.get(User, user_id).session_version}")
    db.session.expire(fresh, ["role_links"])
    assert "_roles_snapshot" not in fresh.__dict__
    assert fresh.roles == {Role.AUDITOR, Role.COORDINATOR}


def test_a_user_without_roles_has_none(app, make):
    """No role rows: the aggregate is NULL, and the user holds no role (not a failed parse)."""
    from audit.core.security import load_session_user

    user = make.user(roles=())
    db.session.commit()
    cookie_id = user.get_id()
    db.session.remove()
    assert load_session_user(cookie_id).roles == set()


def test_a_background_fetch_while_signed_out_leaves_the_session_cookie_alone(app, client):
    """A service worker's fetch of a page after the session ended gets a plain 401, no cookie.

    The login redirect would flash a message and so set a new session cookie, replacing the one
    a login form on the same tablet was rendered with: the next person's login then failed its
    CSRF check (400). A page the person opens still goes to the login page.
    """
    background = _call(client, "GET", "/audits/1/checklist", headers={"Sec-Fetch-Mode": "same-origin"})
    assert background.status_code == 401
    assert "Set-Cookie" not in background.headers
    assert client.get_cookie("session") is None

    opened = _call(client, "GET", "/audits/1/checklist", headers={"Sec-Fetch-Mode": "navigate"})
    assert opened.status_code == 302 and opened.location.startswith("/login")
    assert client.get_cookie("session") is not None  # the flashed "Please log in" message
