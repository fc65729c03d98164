"""The password policy for new passwords, after NIST SP 800-63B §5.1.1.2.

Length is what makes a password strong, so the only rules are a minimum length and a check
against what attackers try first: zxcvbn's bundled frequency lists (common passwords from
breaches, English words, names, keyboard patterns, dates, repeats and sequences), plus the
person's own e-mail and name. No composition rules ("one digit, one symbol"), which the guideline
advises against because they push people to predictable substitutions.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from audit.core.errors import DomainError

#: Shortest new password accepted (existing shorter passwords keep working until changed).
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted: long enough for any passphrase, short enough to hash cheaply.
MAX_PASSWORD_LENGTH = 200
#: zxcvbn scores 0-4; 3 means "safely unguessable: moderate protection from offline attacks"
#: (about 10^8 guesses or more), the lowest score that no common password reaches.
MIN_SCORE = 3
# zxcvbn's matching grows faster than linearly with length, and zxcvbn 4.5 raises ValueError
# beyond 72 characters (its default max_length): the first 72 characters are what is scored.
_SCORED_PREFIX = 72

POLICY_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters; a few unrelated words make a good password. "
    "Common or easily guessed passwords are refused."
)


def check_new_password(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Raise ``DomainError`` (field ``password``) if ``password`` may not become a password.

    ``user_inputs`` are words tied to the account (e-mail, name) that must not carry it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(
            f"Passwords can have at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )
    inputs = [value for value in user_inputs if value]
    squeezed = _alnum(password)
    for value in inputs:
        # The whole user name or e-mail name in the password is the first thing a guesser tries
        # (NIST's "context-specific words"); zxcvbn alone lets it pass when the rest is long.
        for token in (_alnum(value.split("@")[0]), _alnum(value)):
            if len(token) >= 4 and token in squeezed:
                raise DomainError("A password must not contain your name or e-mail address.",
                                  field="password")
    words = []
    for value in inputs:
        words.append(value)
        words.extend(part for part in value.replace("@", " ").replace(".", " ").split() if part)
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=words)
    if result["score"] < MIN_SCORE:
        reason = (result.get("feedback") or {}).get("warning") or ""
        raise DomainError(
            "This password is too common or too easy to guess"
            + (f" ({reason.rstrip('.')})" if reason else "")
            + ". Choose a longer phrase of unrelated words.",
            field="password",
        )


def _alnum(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())
