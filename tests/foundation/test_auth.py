"""Login, logout, throttling, CSRF, redirects and security headers."""

import datetime as dt

import pytest

from audit.auth.services import LoginFailed, authenticate
from audit.extensions import db
from audit.models import Role, TrailEntry


def test_every_page_requires_login(client):
    """Anonymous visitors are sent to the login page, with where they were going."""
    response = client.get("/organisation/sites/")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_login_and_logout(client, make):
    """Right credentials log in; logout is a POST and ends the session."""
    user = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    response = client.post("/login", data={"email": user.email.upper(), "password": make.PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200
    assert client.get("/logout").status_code == 405  # a link cannot log you out
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_without_revealing_accounts(client, make):
    """Unknown e-mail and wrong password give the same message and status."""
    user = make.user()
    db.session.commit()
    wrong = client.post("/login", data={"email": user.email, "password": "nope-nope-nope"})
    unknown = client.post("/login", data={"email": "ghost@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert b"Unknown e-mail or wrong password." in wrong.data
    assert b"Unknown e-mail or wrong password." in unknown.data


def test_login_is_throttled_after_repeated_failures(app, make, now):
    """Five failures lock the account; even the right password waits until the lock ends."""
    user = make.user()
    for _ in range(5):
        with pytest.raises(LoginFailed):
            authenticate(user.email, "wrong-password", now=now, max_failures=5, lock_seconds=900)
    assert user.locked_until == now + dt.timedelta(seconds=900)
    with pytest.raises(LoginFailed, match="Unknown e-mail or wrong password"):
        authenticate(user.email, make.PASSWORD, now=now + dt.timedelta(minutes=5),
                     max_failures=5, lock_seconds=900)
    assert user.locked_until == now + dt.timedelta(seconds=900)  # guessing does not extend it
    later = now + dt.timedelta(minutes=16)
    assert authenticate(user.email, make.PASSWORD, now=later, max_failures=5,
                        lock_seconds=900) is user
    assert user.failed_logins == 0 and user.locked_until is None
    assert db.session.query(TrailEntry).filter_by(action="lock", object_id=user.id).count() == 1


def test_throttling_through_the_login_page(client, make):
    """A locked account refuses the right password with the message every failure gets."""
    user = make.user()
    db.session.commit()
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "wrong-password"})
    response = client.post("/login", data={"email": user.email, "password": make.PASSWORD})
    assert response.status_code == 401
    assert b"Unknown e-mail or wrong password." in response.data
    assert b"Too many failed attempts" not in response.data


def test_inactive_user_cannot_log_in(client, make):
    """A deactivated account is refused."""
    user = make.user(is_active=False)
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": make.PASSWORD})
    assert response.status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com/x", "/\\evil"])
def test_no_open_redirect_after_login(client, make, target):
    """Only same-site paths are followed after login."""
    user = make.user()
    db.session.commit()
    response = client.post(f"/login?next={target}",
                           data={"email": user.email, "password": make.PASSWORD})
    assert response.location == "/"


def test_csrf_is_enforced_on_forms(app, client, make, login):
    """With CSRF on (as in production), a POST without the token is refused and stores nothing."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    login(coordinator)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/organisation/sites/new",
                           data={"name": "Rogue", "code": "RG", "timezone": "UTC"})
    assert response.status_code == 400
    from audit.models import Site

    assert db.session.query(Site).count() == 0


def test_an_expired_form_shows_back_what_was_written(app, client, make, login):
    """A form refused for its expired CSRF token shows the text written in it (never a secret)
    and leads back to the page it came from, only when that page is ours."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    login(coordinator)
    app.config["WTF_CSRF_ENABLED"] = True
    data = {"csrf_token": "expired", "name": "North Foundry Works", "code": "NF",
            "timezone": "Europe/Berlin", "new_password": "correct horse battery staple",
            "pw-confirm": "battery staple horse correct"}  # a password field named otherwise
    response = client.post("/organisation/sites/new", data=data,
                           headers={"Referer": "http://localhost/organisation/sites/new"})
    assert response.status_code == 400 and "the form expired" in response.text
    assert "<dt>Name</dt><dd><pre>North Foundry Works</pre></dd>" in response.text
    assert "correct horse" not in response.text and "battery staple" not in response.text
    assert "<dt>Code</dt>" not in response.text
    assert 'href="http://localhost/organisation/sites/new">Back to the page</a>' in response.text
    elsewhere = client.post("/organisation/sites/new", data=data,
                            headers={"Referer": "https://evil.example/organisation/sites/new"})
    assert "Back to the page" not in elsewhere.text and "North Foundry Works" in elsewhere.text
    scripted = client.post("/organisation/sites/new", data=data, headers={"Referer": "javascript:alert(1)"})
    assert "Back to the page" not in scripted.text


def test_password_is_hashed(app, make, now):
    """Accounts created through the service never store the password itself."""
    from audit.people.services import create_user

    user = create_user({"email": "a@example.com", "name": "A", "roles": ["auditor"],
                        "password": "long-enough-pw", "timezone": "UTC"}, actor=None, now=now)
    assert "long-enough-pw" not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_security_headers(client):
    """Responses carry CSP, frame, sniffing and referrer headers."""
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_samesite(client, make):
    """The session cookie cannot be read by scripts nor sent cross-site on POSTs."""
    user = make.user()
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": make.PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_change_own_password(client, make, login):
    """Changing the password needs the current one; the new one works afterwards."""
    user = make.user()
    db.session.commit()
    login(user)
    bad = client.post("/account", data={"pw-current_password": "wrong", "pw-password": "new-password-1",
                                        "pw-confirm": "new-password-1"})
    assert bad.status_code == 400 and b"The current password is wrong." in bad.data
    good = client.post("/account", data={"pw-current_password": make.PASSWORD,
                                         "pw-password": "new-password-1", "pw-confirm": "new-password-1"})
    assert good.status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": "new-password-1"}).status_code == 302
