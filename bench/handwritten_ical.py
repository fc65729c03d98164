"""The hand-written RFC 5545 writer the feeds used before the ``icalendar`` package (a yardstick).

Copied verbatim (text encoding, rendering, VTIMEZONE generation) from audit/calendar/ical.py
as it was before commit c0fea2e, working on today's ``ical.Event`` / ``ical.Feed``. Issue 16
asks the icalendar-built feed with cached fragments to be at least as fast as this writer on
the same events; ``bench.measures`` times both, cold (caches cleared) and warm. Not product
code: nothing under audit/ imports it.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from audit.calendar.ical import PRODID, Event, Feed

# --------------------------------------------------------------------------------------------
# Text encoding (RFC 5545 3.1 and 3.3.11)


def escape_text(value: str) -> str:
    """TEXT value escaping: backslash, semicolon, comma and newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (CRLF + space), never inside a UTF-8 sequence."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    limit = 75
    while raw:
        cut = min(limit, len(raw))
        # Step back while the cut would land on a UTF-8 continuation byte.
        while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(raw[:cut].decode("utf-8"))
        raw = raw[cut:]
        limit = 74  # continuation lines start with a space, which counts
    return "\r\n ".join(parts) + "\r\n"


def _utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: calendar times need a zone")
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    out = "P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (
        f"{seconds}S" if seconds else ""
    )
    return out + ("T" + time if time else ("" if days else "T0S"))


@functools.lru_cache(maxsize=64)
def _zone(tzid: str) -> dt.tzinfo:
    return dt.UTC if tzid == "UTC" else zoneinfo.ZoneInfo(tzid)


def _when(name: str, value: dt.datetime | dt.date, tzid: str) -> str:
    if not isinstance(value, dt.datetime):
        return f"{name};VALUE=DATE:{_date(value)}"
    if tzid == "UTC":
        return f"{name}:{_utc(value)}"
    local = value.astimezone(_zone(tzid))
    return f"{name};TZID={tzid}:{local.strftime('%Y%m%dT%H%M%S')}"


# --------------------------------------------------------------------------------------------
# Rendering


@functools.lru_cache(maxsize=50_000)
def render_event(event: Event) -> str:
    """One VEVENT as folded text. Cached by value: unchanged events cost a dictionary lookup."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{_utc(event.stamp)}",
        _when("DTSTART", event.start, event.tzid),
        _when("DTEND", event.end, event.tzid),
        f"SEQUENCE:{int(event.sequence)}",
        f"LAST-MODIFIED:{_utc(event.stamp)}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"STATUS:{event.status}",
        "TRANSP:" + ("TRANSPARENT" if event.transparent else "OPAQUE"),
    ]
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in event.categories))
    if event.url:
        lines.append(f"URL:{event.url}")
    lines.append("END:VEVENT")
    return "".join(fold(line) for line in lines)


def render_feed(feed: Feed) -> bytes:
    """The whole VCALENDAR as UTF-8 bytes with CRLF line ends and 75-octet folding."""
    events = sorted(feed.events, key=lambda e: e.sort_key)
    zones = sorted({e.tzid for e in events if not e.all_day and e.tzid != "UTC"})
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(feed.name)}",
        f"X-WR-CALNAME:{escape_text(feed.name)}",
    ]
    if feed.description:
        head += [f"DESCRIPTION:{escape_text(feed.description)}",
                 f"X-WR-CALDESC:{escape_text(feed.description)}"]
    head += [
        f"REFRESH-INTERVAL;VALUE=DURATION:{_duration(feed.refresh)}",
        f"X-PUBLISHED-TTL:{_duration(feed.refresh)}",
    ]
    parts = ["".join(fold(line) for line in head)]
    parts += [vtimezone(z, feed.window_start, feed.window_end) for z in zones]
    parts += [render_event(e) for e in events]
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------------------------
# VTIMEZONE generation


def _offset(delta: dt.timedelta) -> str:
    total = int(delta.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


def _transitions(tzid: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """UTC instants in [start, end) at which the zone's offset (or name) changes."""
    zone = _zone(tzid)

    def state(t: dt.datetime):
        local = t.astimezone(zone)
        return local.utcoffset(), local.tzname(), local.dst()

    found = []
    step = dt.timedelta(days=1)
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
            current = state(hi)
        t = nxt
    return found


@functools.lru_cache(maxsize=256)
def vtimezone(tzid: str, window_start: dt.date, window_end: dt.date) -> str:
    """A VTIMEZONE for ``tzid`` valid from ``window_start`` to ``window_end``.

    It lists the observance in force at the window start (from its real onset, searched up to
    a year back) and every transition inside the window, each as an explicit DTSTART: short,
    exact, and free of the whole-history rules some clients misread.
    """
    zone = _zone(tzid)
    lo = dt.datetime.combine(window_start, dt.time(), dt.UTC) - dt.timedelta(days=2)
    hi = dt.datetime.combine(window_end, dt.time(), dt.UTC) + dt.timedelta(days=2)
    before = _transitions(tzid, lo - dt.timedelta(days=366), lo)
    inside = _transitions(tzid, lo, hi)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]

    def observance(onset_utc: dt.datetime | None, at: dt.datetime) -> None:
        local = at.astimezone(zone)
        offset_to = local.utcoffset()
        if onset_utc is None:
            offset_from = offset_to
            onset_local = "19700101T000000"
        else:
            offset_from = (onset_utc - dt.timedelta(seconds=1)).astimezone(zone).utcoffset()
            # DTSTART of an observance is the local time just before the change (RFC 5545 3.6.5).
            onset_local = (onset_utc.replace(tzinfo=None) + offset_from).strftime("%Y%m%dT%H%M%S")
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        lines.extend([
            f"BEGIN:{kind}",
            f"DTSTART:{onset_local}",
            f"TZOFFSETFROM:{_offset(offset_from)}",
            f"TZOFFSETTO:{_offset(offset_to)}",
        ])
        if local.tzname():
            lines.append(f"TZNAME:{escape_text(local.tzname())}")
        lines.append(f"END:{kind}")

    observance(before[-1] if before else None, lo)
    for onset in inside:
        observance(onset, onset)
    lines.append("END:VTIMEZONE")
    return "".join(fold(line) for line in lines)


# --------------------------------------------------------------------------------------------
# From models to events




def clear_caches() -> None:
    """Forget every cached fragment and zone: the next render is cold."""
    for cached in (render_event, vtimezone, _zone):
        cached.cache_clear()
