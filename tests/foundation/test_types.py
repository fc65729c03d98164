"""The UTC datetime column type."""

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy.exc import StatementError

from audit.extensions import db
from audit.models import NaiveDatetimeError, TrailEntry


def test_naive_datetime_is_refused(app):
    """Storing a naive datetime raises instead of guessing its zone."""
    db.session.add(TrailEntry(at=dt.datetime(2026, 1, 1, 12, 0), action="x", object_type="T",
                              object_id=1, summary="s"))
    with pytest.raises(StatementError) as exc:
        db.session.flush()
    assert isinstance(exc.value.orig, NaiveDatetimeError)
    db.session.rollback()


def test_aware_datetimes_come_back_as_utc(app):
    """A Berlin wall time is stored as the same instant and read back aware in UTC."""
    berlin = dt.datetime(2026, 7, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    entry = TrailEntry(at=berlin, action="x", object_type="T", object_id=1, summary="s")
    db.session.add(entry)
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(TrailEntry, entry.id)
    assert loaded.at.tzinfo is not None and loaded.at.utcoffset() == dt.timedelta(0)
    assert loaded.at == berlin
    assert loaded.at.hour == 7
