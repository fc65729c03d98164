"""Column types shared by all models."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """Raised when a naive datetime would be stored: its zone would be a guess."""


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC that only accepts aware datetimes and returns aware UTC.

    SQLite hands back naive values; without this they would turn into floating times in
    calendars and silently shift by the server's offset in comparisons.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"naive datetime {value!r} refused: attach a time zone")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current instant, aware, in UTC. Only views, CLI and jobs call it; services take `now`."""
    return dt.datetime.now(dt.UTC)


#: Every site's date is within a day of UTC's (UTC-12 to UTC+14): SQL selects what may be due
#: with this margin, and each row's own site date decides.
SITE_DAY_MARGIN = dt.timedelta(days=1)


def latest_site_date(now: dt.datetime) -> dt.date:
    """The latest date any site can have at ``now`` (UTC's date plus ``SITE_DAY_MARGIN``): SQL
    keeps whatever is due before it, a superset that each row's own site date then narrows."""
    return now.astimezone(dt.UTC).date() + SITE_DAY_MARGIN


class utc_date(FunctionElement):  # noqa: N801 - named as the SQL function it stands for
    """The UTC calendar day of a stored UTC timestamp, in SQL that every database can index.

    PostgreSQL's ``date(timestamptz)`` depends on the session's ``TimeZone`` (it cannot be
    indexed, and on a server set to another zone it would give local days); ``timezone('UTC',
    x)`` pins the zone. SQLite stores UTC text, whose ``date()`` is already the UTC day.
    """

    type = Date()
    inherit_cache = True


@compiles(utc_date)
def _utc_date(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_postgresql(element, compiler, **kw):
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"
