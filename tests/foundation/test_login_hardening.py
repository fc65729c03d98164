"""Login that reveals nothing, redirects only home, and a NIST SP 800-63B password policy."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time

import pytest
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.security import generate_password_hash

from audit.auth.passwords import MIN_PASSWORD_LENGTH, check_new_password
from audit.core.errors import DomainError
from audit.core.routing import local_path
from audit.demo import DEMO_PASSWORD
from audit.extensions import db
from audit.models import Role, User, utcnow
from audit.people.services import create_user, update_user

# --- the same answer for unknown, wrong, locked and inactive ---------------------------------


@pytest.fixture
def four_accounts(app, make):
    """E-mail and password for each kind of refusal; real (scrypt) hashes, as in production."""
    app.config["LOGIN_MAX_FAILURES"] = 10_000  # "wrong" must stay wrong, not become "locked"
    real_hash = generate_password_hash(make.PASSWORD)
    wrong = make.user(password_hash=real_hash)
    locked = make.user(password_hash=real_hash, locked_until=utcnow() + dt.timedelta(days=1))
    inactive = make.user(password_hash=real_hash, is_active=False)
    db.session.commit()
    return {
        "unknown": ("nobody-here@example.com", "some-guess-or-other"),
        "wrong": (wrong.email, "some-guess-or-other"),
        "locked": (locked.email, make.PASSWORD),  # even the right password
        "inactive": (inactive.email, make.PASSWORD),
    }


def _attempt(client, email: str, password: str):
    g.pop("_login_user", None)
    return client.post("/login", data={"email": email, "password": password})


def _normalised(body: bytes, email: str) -> bytes:
    """The page without the echoed e-mail, which is the only thing allowed to differ (besides
    the CSRF token, masked afresh in every response: core.compression)."""
    body = re.sub(rb'name="csrf-token" content="[^"]*"', b'name="csrf-token" content=""', body)
    return re.sub(rb'value="[^"]*"', b'value=""', body.replace(email.encode(), b"EMAIL"))


def test_every_refusal_has_the_same_status_message_and_page(client, four_accounts):
    """Unknown, wrong, locked and inactive accounts get byte-identical 401 pages."""
    pages = {}
    for kind, (email, password) in four_accounts.items():
        response = _attempt(client, email, password)
        assert response.status_code == 401, kind
        assert b"Unknown e-mail or wrong password." in response.data
        assert b"Too many" not in response.data and b"locked" not in response.data.lower()
        pages[kind] = _normalised(response.data, email)
    assert len(set(pages.values())) == 1, "the pages differ between kinds of refusal"


def test_every_refusal_takes_the_same_time(client, four_accounts):
    """Medians of 20 interleaved tries per kind are equal within noise (the hash dominates)."""
    timings: dict[str, list[float]] = {kind: [] for kind in four_accounts}
    for _ in range(20):
        for kind, (email, password) in four_accounts.items():
            start = time.perf_counter()
            response = _attempt(client, email, password)
            timings[kind].append(time.perf_counter() - start)
            assert response.status_code == 401
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    # Before the fix, locked and inactive accounts answered 20x faster than the others.
    assert slowest / fastest < 1.25, {k: f"{v * 1000:.1f} ms" for k, v in medians.items()}


def test_a_locked_account_still_locks_and_unlocks(client, make, app):
    """The lock still refuses the right password, and the account opens once it has run out."""
    user = make.user()
    db.session.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(client, user.email, "some-guess-or-other")
    db.session.refresh(user)
    assert user.locked_until is not None
    assert _attempt(client, user.email, make.PASSWORD).status_code == 401
    user.locked_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert _attempt(client, user.email, make.PASSWORD).status_code == 302


# --- next: only a local path -------------------------------------------------------------

HOSTILE_TARGETS = [
    "https://evil.example/",
    "http:evil.example",
    "//evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "%5C%5Cevil.example",
    " //evil.example",
    "/ /evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "\x00//evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
    "/" + "a" * 2001,
    "/\u2215\u2215evil.example",
]

LOCAL_TARGETS = ["/", "/audits/", "/audits/?site=1&page=2", "/findings/7#history",
                 "/library/%C3%A9t%C3%A9", "/x?next=//evil.example"]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_redirect_targets_are_refused(target):
    """Schemes, hosts, backslashes, encoded and whitespace variants never pass as local."""
    assert local_path(target) is None


@pytest.mark.parametrize("target", LOCAL_TARGETS)
def test_local_paths_are_kept_as_given(target):
    """A plain path on this site, with its query and fragment, is followed unchanged."""
    assert local_path(target) == target


@pytest.mark.parametrize("target", HOSTILE_TARGETS[:20])
def test_login_never_redirects_off_site(client, make, target):
    """After login a hostile ``next`` sends the person home instead."""
    user = make.user()
    db.session.commit()
    response = client.post("/login", query_string={"next": target},
                           data={"email": user.email, "password": make.PASSWORD})
    assert response.status_code == 302 and response.location == "/"


def test_login_follows_a_local_next(client, make):
    """The page a person was sent away from is where the login brings them back."""
    user = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    response = client.post("/login", query_string={"next": "/audits/?site=1"},
                           data={"email": user.email, "password": make.PASSWORD})
    assert response.location == "/audits/?site=1"


# --- password policy ---------------------------------------------------------------------

WEAK_PASSWORDS = [
    "aaaaaaaaaaaa",
    "password1234",
    "Password1234!",
    "qwertyuiop12",
    "123456789012",
    "iloveyou2024",
    "abcdefghijkl",
    "letmein12345",
]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_common_passwords_are_refused(password):
    """Long enough yet common or patterned passwords are refused with a clear message."""
    with pytest.raises(DomainError, match="too common or too easy to guess") as exc:
        check_new_password(password)
    assert exc.value.field == "password"


@pytest.mark.parametrize("password", ["password12", "short-one", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_short_passwords_are_refused(password):
    """Fewer than 12 characters is refused, whatever they are."""
    with pytest.raises(DomainError, match=f"at least {MIN_PASSWORD_LENGTH} characters"):
        check_new_password(password)


def test_the_persons_own_name_and_email_do_not_make_a_password():
    """A password built from the account's e-mail is refused for that account only."""
    password = "gwendolyn.mcallister.example"
    check_new_password(password)
    with pytest.raises(DomainError, match="must not contain your name or e-mail"):
        check_new_password(password, user_inputs=("gwendolyn.mcallister@example.com",
                                                  "Gwendolyn McAllister"))
    with pytest.raises(DomainError):
        check_new_password("Gwendolyn-McAllister-7", user_inputs=("gm@example.com",
                                                                  "Gwendolyn McAllister"))


@pytest.mark.parametrize("password", [
    "quiet-lantern-harbour", "correct horse battery", "zebra7 tulip canyon", "AAbb1122ccDD!",
])
def test_no_composition_rules(password):
    """Length and unguessability decide; no digit, capital or symbol is demanded."""
    check_new_password(password)


def test_long_passwords_are_scored_on_their_first_72_characters():
    """zxcvbn refuses inputs over 72 characters; a long passphrase is scored, not a crash."""
    check_new_password("quiet lantern harbour " * 9)  # 198 characters
    with pytest.raises(DomainError, match="too common"):
        check_new_password("a" * 150 + "quiet lantern harbour")
    with pytest.raises(DomainError, match="at most 200"):
        check_new_password("quiet lantern harbour " * 10)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(password=st.text(max_size=220), name=st.text(max_size=60))
def test_any_text_is_judged_never_crashes(password, name):
    """Whatever is typed, the policy accepts it or says why: it never raises anything else."""
    try:
        check_new_password(password, user_inputs=(name, f"{name}@example.com"))
    except DomainError as exc:
        assert exc.field == "password" and exc.message


def test_demo_and_test_passwords_pass_the_policy(make):
    """The README's demo password and the factories' password are valid new passwords."""
    check_new_password(DEMO_PASSWORD)
    check_new_password(make.PASSWORD)


def test_own_password_change_applies_the_policy(client, make, login):
    """A common new password is refused on the account page and the old one keeps working."""
    user = make.user()
    login(user)
    old_hash = user.password_hash
    response = client.post("/account", data={"pw-current_password": make.PASSWORD,
                                             "pw-password": "password1234",
                                             "pw-confirm": "password1234"})
    assert response.status_code == 400
    assert b"too common or too easy to guess" in response.data
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_admin_create_applies_the_policy(client, make, login):
    """An administrator cannot create an account with a common password; nothing is stored."""
    login(make.user(roles=(Role.ADMIN,)))
    before = db.session.query(User).count()
    response = client.post("/people/users/new", data={
        "name": "New Person", "email": "new.person@example.com", "roles": ["auditor"],
        "supplier_id": "0", "timezone": "UTC", "is_active": "y", "password": "aaaaaaaaaaaa"})
    assert response.status_code == 400
    assert b"too common or too easy to guess" in response.data
    assert db.session.query(User).count() == before


def test_admin_reset_applies_the_policy(app, make, now):
    """A password reset to a weak password is refused and the old hash stays."""
    admin = make.user(roles=(Role.ADMIN,))
    user = make.user()
    old_hash, old_version = user.password_hash, user.session_version
    data = {"name": user.name, "email": user.email, "roles": ["auditor"], "timezone": "UTC",
            "is_active": True, "password": "letmein12345"}
    with pytest.raises(DomainError):
        update_user(user, data, actor=admin, now=now)
    db.session.rollback()
    assert user.password_hash == old_hash and user.session_version == old_version


def test_create_user_service_applies_the_policy(app, now):
    """The service itself (used by the CLI too) refuses a short password."""
    with pytest.raises(DomainError, match="at least 12 characters"):
        create_user({"email": "a@example.com", "name": "A", "roles": ["auditor"],
                     "password": "short-pw-1", "timezone": "UTC"}, actor=None, now=now)
