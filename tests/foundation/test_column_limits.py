"""Values a column cannot hold are refused before the flush on every database (SQLite silently
stored them, PostgreSQL answered 500): over-long text, out-of-range integers and decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.core.errors import DomainError
from audit.core.lengths import length_problem, range_problem
from audit.extensions import db
from audit.models import Audit, PoorQualityCost, Site, Standard


def test_over_long_text_is_refused_at_flush(app, make):
    """A site name longer than its column raises a DomainError naming the field; nothing is stored."""
    site = make.site()
    db.session.commit()
    site.name = "S" * 500
    with pytest.raises(DomainError, match="The site name is too long: at most"):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Site, site.id).name != "S" * 500


def test_out_of_range_integer_is_refused_at_flush(app, make):
    """An integer beyond a 32-bit column (int4 on PostgreSQL) is refused before it reaches the driver."""
    audit = make.audit()
    db.session.commit()
    audit.planned_days = 2**31
    with pytest.raises(DomainError, match="too large a number"):
        db.session.flush()
    db.session.rollback()


def test_unchanged_old_values_do_not_block_other_edits(app, make):
    """Only changed attributes of a stored row are checked, so legacy data cannot block an edit."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite ever stored over-long values")
    site = make.site()
    db.session.commit()
    db.session.execute(db.update(Site).where(Site.id == site.id).values(name="L" * 400))
    db.session.commit()
    db.session.expire_all()
    site = db.session.get(Site, site.id)
    site.country = "DE"
    db.session.flush()  # no error: the name was not changed
    db.session.rollback()


def test_limit_messages():
    """Standard codes are limited to 40 characters; costs to NUMERIC(12, 2)."""
    assert length_problem(Standard, "code", "C" * 41) == (
        "the standard code is too long: at most 40 characters (41 given)")
    assert length_problem(Standard, "code", "C" * 40) is None
    assert range_problem(PoorQualityCost, "amount", Decimal("9999999999.99")) is None
    assert "below 10,000,000,000" in range_problem(PoorQualityCost, "amount", Decimal("10000000000"))
    assert range_problem(Audit, "planned_days", 2**31 - 1) is None
