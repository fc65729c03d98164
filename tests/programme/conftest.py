"""Fixtures shared by the programme tests."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.extensions import db
from audit.models import Programme, ProgrammeStatus


@pytest.fixture
def planning(app, make):
    """What the planner tests start from: one standard, a Berlin site and an active programme
    over 2026 (no one to plan with yet)."""
    std = make.standard()
    site = make.site(timezone="Europe/Berlin")
    programme = Programme(name="P", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                          status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    db.session.flush()
    return {"std": std, "site": site, "programme": programme}
