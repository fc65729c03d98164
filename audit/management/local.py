"""Local dates for top management's records.

The application defines no organisation-wide time zone (no ``ORGANISATION_TIMEZONE`` or similar
setting exists; time zones belong to sites and people). So a risk and its actions live in the
time zone of the site of the risk's unit, where the risk names a unit; a management review's
output (an action with an owner, no site) lives in its owner's own zone (``action_day``);
anything else without a site (a risk without a unit, a review meeting, the review pack's
period) uses UTC. "Today", overdue flags and the day an action was completed are all taken in
that zone, so a page, a check and a reminder agree near midnight.
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
    """The date of ``instant`` for management review meetings and the pack, which belong to no
    site or person: UTC. The one place that says so (reminders, the waiting list, the pages and
    the pack ask it); the outputs' days are their owners' (``action_day``)."""
    return local_day(DEFAULT_ZONE, instant)


def action_day(action, instant: dt.datetime) -> dt.date:
    """The date of ``instant`` for a management review's output: its owner's day, since the
    owner is the one who acts by its due date (the sweep, the pages and the lists ask this)."""
    return person_day(action.owner, instant)


def person_day(user, instant: dt.datetime) -> dt.date:
    """The date of ``instant`` where ``user`` is (their own time zone, else UTC): what "today"
    means to the person entering a date, e.g. the day a meeting they record was held."""
    return local_day(getattr(user, "timezone", None) or DEFAULT_ZONE, instant)
