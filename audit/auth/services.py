"""Authentication rules: password hashing, login throttling and ending sessions."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from audit.auth.passwords import check_new_password
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import User
from audit.trail.services import record


class LoginFailed(DomainError):
    """Wrong credentials, or the account is locked or inactive; the message never says which."""


@functools.cache
def _dummy_hash() -> str:
    """A hash made like real ones, checked when the e-mail is unknown (same work, same time)."""
    return generate_password_hash("not-a-real-password-but-hashed-the-same-way")


def hash_password(password: str, *, user_inputs: Iterable[str] = ()) -> str:
    """Hash a *new* password with Werkzeug's default (scrypt) after checking the policy."""
    check_new_password(password, user_inputs=user_inputs)
    return generate_password_hash(password)


def find_user_by_email(email: str) -> User | None:
    """The account with this e-mail, compared case-insensitively."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def login_failed_message(max_failures: int, lock_seconds: int) -> str:
    """The one message for every failed login: it names the lock rule, never the lock state."""
    minutes = max(1, lock_seconds // 60)
    return (
        "Unknown e-mail or wrong password. After "
        f"{max_failures} failed attempts in a row an account waits {minutes} "
        f"minute{'s' if minutes > 1 else ''}; a deactivated account cannot log in."
    )


def authenticate(
    email: str, password: str, *, now: dt.datetime, max_failures: int, lock_seconds: int
) -> User:
    """Return the user for these credentials or raise ``LoginFailed``.

    After ``max_failures`` consecutive failures the account is locked for ``lock_seconds``;
    during the lock even the right password is refused, so guessing gains nothing. Unknown,
    wrong, locked and inactive all do one password check and raise the same message, so
    neither the answer nor its timing tells which e-mails have accounts or which are locked.
    """
    user = find_user_by_email(email)
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    failed = LoginFailed(login_failed_message(max_failures, lock_seconds))
    if user is None:
        raise failed
    if user.locked_until is not None and user.locked_until > now:
        raise failed  # the lock runs its course unchanged: more guesses neither help nor extend it
    if not user.is_active or not password_ok:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(seconds=lock_seconds)
            user.failed_logins = 0
            record(user, "lock", actor=None, now=now, summary=f"{user.email} locked after failures")
        raise failed
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def end_sessions(user: User, *, actor, now: dt.datetime, reason: str) -> None:
    """End every session of ``user`` at once, wherever it was opened.

    Session cookies carry the user's ``session_version`` (``User.get_id``) and the user loader
    refuses a cookie whose version is no longer current, so raising it revokes them all. A
    caller that wants to keep its own session logs it in again with the new version.
    """
    user.session_version = (user.session_version or 1) + 1
    record(user, "end_sessions", actor=actor, now=now,
           summary=f"Sessions of {user.email} ended: {reason}")


def change_password(user: User, current: str, new: str, *, now: dt.datetime) -> None:
    """Change one's own password after proving the current one; other sessions end."""
    if not check_password_hash(user.password_hash, current):
        raise DomainError("The current password is wrong.", field="current_password")
    user.password_hash = hash_password(new, user_inputs=(user.email, user.name))
    record(user, "change_password", actor=user, now=now, summary="Password changed")
    end_sessions(user, actor=user, now=now, reason="password changed")
