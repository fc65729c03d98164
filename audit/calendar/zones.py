"""Windowed VTIMEZONEs: the zone's observances inside a feed's window only, built with icalendar.

Whole-history VTIMEZONEs are large and some clients misread their rules; a feed needs only
the offsets in force during its window (ARCHITECTURE.md, Calendar). Pure: no clock, no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import icalendar


@functools.lru_cache(maxsize=64)
def zone_of(tzid: str) -> dt.tzinfo:
    """The tzinfo of an IANA name (``UTC`` is the fixed UTC), cached."""
    return dt.UTC if tzid == "UTC" else zoneinfo.ZoneInfo(tzid)


#: How far apart the zone is sampled. A change and its reversal inside one step would go
#: unseen, so the step must be shorter than any zone's shortest stretch between two changes:
#: a week is (Morocco's Ramadan pause, the shortest now, lasts about a month; a test compares
#: with daily sampling in every zone). A change found is pinned to the second by bisection.
#: Daily sampling was a fifth of a cold feed render.
TRANSITION_STEP = dt.timedelta(days=7)


def _transitions(tzid: str, start: dt.datetime, end: dt.datetime,
                 step: dt.timedelta = TRANSITION_STEP) -> list[dt.datetime]:
    """UTC instants in [start, end) at which the zone's offset (or name) changes."""
    zone = zone_of(tzid)

    def state(t: dt.datetime):
        local = t.astimezone(zone)
        return local.utcoffset(), local.tzname(), local.dst()

    found = []
    t, current = start, state(start)
    while t < end:
        nxt = min(t + step, end)
        if state(nxt) != current:
            lo, hi = t, nxt  # state(lo) == current, state(hi) != current
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if state(mid) == current:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            # Go on from the change itself: another may follow before the step's end.
            t, current = hi, state(hi)
            continue
        t = nxt
    return found


@functools.lru_cache(maxsize=256)
def vtimezone(tzid: str, window_start: dt.date, window_end: dt.date) -> str:
    """A VTIMEZONE for ``tzid`` valid from ``window_start`` to ``window_end`` (icalendar text).

    It lists the observance in force at the window start (from its real onset, searched up to
    a year back) and every transition inside the window, each as an explicit DTSTART: short,
    exact, and free of the whole-history rules some clients misread. The transitions are
    found here rather than by ``icalendar.Timezone.from_tzinfo``, whose observance DTSTARTs
    are the local time *after* the change (RFC 5545 3.6.5 wants the time before it), which
    shifts each change by its own size in parsers that follow the RFC.
    """
    zone = zone_of(tzid)
    lo = dt.datetime.combine(window_start, dt.time(), dt.UTC) - dt.timedelta(days=2)
    hi = dt.datetime.combine(window_end, dt.time(), dt.UTC) + dt.timedelta(days=2)
    before = _transitions(tzid, lo - dt.timedelta(days=366), lo)
    component = icalendar.Timezone()
    component.add("tzid", tzid)

    def observance(onset_utc: dt.datetime | None, at: dt.datetime) -> None:
        local = at.astimezone(zone)
        offset_to = local.utcoffset()
        if onset_utc is None:
            offset_from, onset_local = offset_to, dt.datetime(1970, 1, 1)
        else:
            offset_from = (onset_utc - dt.timedelta(seconds=1)).astimezone(zone).utcoffset()
            onset_local = onset_utc.replace(tzinfo=None) + offset_from
        part = icalendar.TimezoneDaylight() if local.dst() else icalendar.TimezoneStandard()
        part.add("dtstart", onset_local)
        part.add("tzoffsetfrom", offset_from)
        part.add("tzoffsetto", offset_to)
        if local.tzname():
            part.add("tzname", local.tzname())
        component.add_component(part)

    observance(before[-1] if before else None, lo)
    for onset in _transitions(tzid, lo, hi):
        observance(onset, onset)
    return component.to_ical().decode("utf-8")
