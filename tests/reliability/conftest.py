"""Fixtures for the reliability suite: the demo organisation and one account per role."""

from __future__ import annotations

import pytest

from audit.demo import seed_demo
from audit.extensions import db
from audit.models import Role
from tests import factories


@pytest.fixture
def seeded(app, now):
    """The demo organisation (so id 1 of most tables exists), committed."""
    seed_demo(now=now)
    db.session.commit()
    return app


@pytest.fixture
def role_users(seeded):
    """One active account per role holding only that role (supplier contacts get a company)."""
    users = {}
    for role in Role:
        extra = {"supplier": factories.supplier()} if role is Role.SUPPLIER else {}
        users[role] = factories.user(roles=(role,), **extra)
    db.session.commit()
    return users
