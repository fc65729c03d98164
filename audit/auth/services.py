"""Authentication rules: password hashing and login throttling."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import User
from audit.trail.services import record

MIN_PASSWORD_LENGTH = 10
# Checked against when the e-mail is unknown so that timing does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class LoginFailed(DomainError):
    """Wrong credentials, or the account is locked; the message never says which e-mail exists."""


def hash_password(password: str) -> str:
    """Hash with Werkzeug's default (scrypt), after checking the minimum length."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    return generate_password_hash(password)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(
    email: str, password: str, *, now: dt.datetime, max_failures: int, lock_seconds: int
) -> User:
    """Return the user for these credentials or raise ``LoginFailed``.

    After ``max_failures`` consecutive failures the account is locked for ``lock_seconds``;
    during the lock even the right password is refused, so guessing gains nothing.
    """
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise LoginFailed("Unknown e-mail or wrong password.")
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise LoginFailed(
            f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )
    if not user.is_active or not check_password_hash(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(seconds=lock_seconds)
            user.failed_logins = 0
            record(user, "lock", actor=None, now=now, summary=f"{user.email} locked after failures")
        raise LoginFailed("Unknown e-mail or wrong password.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def change_password(user: User, current: str, new: str, *, now: dt.datetime) -> None:
    """Change one's own password after proving the current one."""
    if not check_password_hash(user.password_hash, current):
        raise DomainError("The current password is wrong.", field="current_password")
    user.password_hash = hash_password(new)
    record(user, "change_password", actor=user, now=now, summary="Password changed")
