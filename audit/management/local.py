"""Local dates for top management's records.

The application defines no organisation-wide time zone (no ``ORGANISATION_TIMEZONE`` or similar
setting exists; time zones belong to sites). So a risk and its actions live in the time zone of
the site of the risk's unit, where the risk names a unit; anything without a site (a risk
without a unit, a management review and its outputs) uses UTC. "Today", overdue flags and the
day an action was completed are all taken in that zone, so a page, a check and a reminder agree
near midnight.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

#: The zone of records that belong to no site.
DEFAULT_ZONE = "UTC"


def risk_zone(risk) -> str:
    """The IANA zone of ``risk``: its unit's site's, else UTC."""
    unit = getattr(risk, "unit", None) if risk is not None else None
    site = unit.site if unit is not None else None
    return (site.timezone if site is not None and site.timezone else None) or DEFAULT_ZONE


def local_day(zone: str, instant: dt.datetime) -> dt.date:
    """The date of ``instant`` (aware UTC, or naive UTC) in ``zone``."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo(DEFAULT_ZONE)
    return instant.astimezone(tz).date()


def risk_day(risk, instant: dt.datetime) -> dt.date:
    """The date of ``instant`` where ``risk`` lives (see the module docstring)."""
    return local_day(risk_zone(risk), instant)


def review_day(instant: dt.datetime) -> dt.date:
    """The date of ``instant`` for management reviews and their outputs, which belong to no
    site: UTC. The one place that says so -- the sweep, the pages, the waiting list and the
    pack all ask it, so an action is overdue in all of them at once."""
    return local_day(DEFAULT_ZONE, instant)


def person_day(user, instant: dt.datetime) -> dt.date:
    """The date of ``instant`` where ``user`` is (their own time zone, else UTC): what "today"
    means to the person entering a date, e.g. the day a meeting they record was held."""
    return local_day(getattr(user, "timezone", None) or DEFAULT_ZONE, instant)
