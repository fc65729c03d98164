"""Windowed VTIMEZONEs find every offset change of the window sampling weekly, exactly as
sampling daily did (audit/calendar/zones.py)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from audit.calendar import zones


def test_weekly_sampling_finds_what_daily_sampling_finds_in_every_zone():
    """Every IANA zone, over four years around now (the feeds' windows and a year back)."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
    checked = 0
    for tzid in sorted(zoneinfo.available_timezones()):
        daily = zones._transitions(tzid, start, end, step=dt.timedelta(days=1))
        assert zones._transitions(tzid, start, end) == daily, tzid
        checked += bool(daily)
    assert checked > 100  # most zones with daylight saving change twice a year
