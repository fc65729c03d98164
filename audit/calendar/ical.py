"""Pure iCalendar serialiser (RFC 5545, RFC 7986): plain data or models in, bytes out.

Nothing here knows Flask, a database session or the clock. The same input always gives the
same bytes (stable ordering, DTSTAMP and LAST-MODIFIED from the rows), so a feed's ETag only
changes when its data does.

Two layers:

* ``Event`` / ``Feed`` are frozen dataclasses; ``render_feed`` turns a ``Feed`` into bytes,
  adding one generated VTIMEZONE per zone used, covering only the feed window.
* ``audit_event``, ``session_event``, ``due_event`` and ``audit_ics`` build those dataclasses
  from model objects (duck-typed: anything with the same attributes works, which is how the
  tests feed it plain objects without a database).

Each event's text depends only on the ``Event`` value (its uid, sequence, stamp and fields),
so rendered fragments are cached by value: a feed is then mostly a join of cached strings.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from audit.core.text import strip_controls

#: Product identifier (RFC 5545 3.7.3).
PRODID = "-//Audit Management//Audit Calendar 1.0//EN"
#: Days an event of a cancelled audit stays in feeds as STATUS:CANCELLED before it leaves.
CANCELLED_GRACE_DAYS = 14
#: Feed window: 90 days back, 18 months ahead of the day of rendering.
WINDOW_DAYS_BACK = 90
WINDOW_MONTHS_AHEAD = 18
#: How often clients should poll (RFC 7986 REFRESH-INTERVAL and Outlook's X-PUBLISHED-TTL).
DEFAULT_REFRESH = dt.timedelta(hours=1)

CONFIRMED = "CONFIRMED"
TENTATIVE = "TENTATIVE"
CANCELLED = "CANCELLED"


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Event:
    """One VEVENT. Timed events have aware ``start``/``end`` and the ``tzid`` they are shown in;
    all-day events have ``dt.date`` values with an exclusive ``end``."""

    uid: str
    summary: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    stamp: dt.datetime  #: DTSTAMP and LAST-MODIFIED: when the row last changed (aware)
    sequence: int = 0
    tzid: str = "UTC"
    status: str = CONFIRMED
    transparent: bool = False  #: due dates do not block time
    url: str | None = None
    location: str | None = None
    description: str | None = None
    categories: tuple[str, ...] = ()

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)

    @property
    def sort_key(self) -> tuple:
        if self.all_day:
            return (self.start.isoformat(), 0, self.uid)
        return (self.start.astimezone(dt.UTC).date().isoformat(), 1,
                self.start.astimezone(dt.UTC).isoformat(), self.uid)


@dataclass(frozen=True)
class Feed:
    """A whole calendar: its name and refresh hint, the window it covers, and its events."""

    name: str
    window_start: dt.date
    window_end: dt.date
    events: tuple[Event, ...] = ()
    description: str | None = None
    refresh: dt.timedelta = DEFAULT_REFRESH


def feed_window(day: dt.date) -> tuple[dt.date, dt.date]:
    """The bounded window around ``day``: 90 days back, 18 months ahead (feeds stay small)."""
    month = day.month - 1 + WINDOW_MONTHS_AHEAD
    year, month = day.year + month // 12, month % 12 + 1
    last = _days_in_month(year, month)
    return day - dt.timedelta(days=WINDOW_DAYS_BACK), dt.date(year, month, min(day.day, last))


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def in_window(event: Event, start: dt.date, end: dt.date) -> bool:
    """Whether any part of ``event`` falls on a day in [start, end]."""
    if event.all_day:
        first, last = event.start, event.end - dt.timedelta(days=1)
    else:
        zone = _zone(event.tzid)
        first = event.start.astimezone(zone).date()
        last = event.end.astimezone(zone).date()
    return first <= end and last >= start


# --------------------------------------------------------------------------------------------
# Text encoding (RFC 5545 3.1 and 3.3.11)


def escape_text(value: str) -> str:
    """TEXT value escaping: backslash, semicolon, comma and newlines; control characters are
    dropped (RFC 5545 forbids them, and strict parsers reject the whole calendar over one)."""
    return (
        strip_controls(value).replace("\\", "\\\\")
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


def _local_date(value: dt.datetime, tzid: str) -> dt.date:
    return value.astimezone(_zone(tzid)).date()


def _last_local_day(end: dt.datetime, tzid: str) -> dt.date:
    """The last calendar day an interval ending at ``end`` touches (midnight ends the day before)."""
    local = end.astimezone(_zone(tzid))
    day = local.date()
    if local.time() == dt.time() and day > dt.date.min:
        day -= dt.timedelta(days=1)
    return day


def _latest(*values: dt.datetime | None) -> dt.datetime:
    present = [v for v in values if v is not None]
    return max(present) if present else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _status_value(obj) -> str:
    status = getattr(obj, "status", None)
    return getattr(status, "value", status) or ""


def is_cancelled(audit) -> bool:
    return _status_value(audit) == "cancelled"


def audit_sequence(audit) -> int:
    """SEQUENCE of an audit's events: its revision, plus one once cancelled (a visible change)."""
    return int(audit.revision or 0) + (1 if is_cancelled(audit) else 0)


def audit_stamp(audit) -> dt.datetime:
    return _latest(audit.updated_at, audit.created_at, audit.cancelled_at)


def visible_on(audit, day: dt.date, grace_days: int = CANCELLED_GRACE_DAYS) -> bool:
    """Whether an audit's events belong in a feed rendered on ``day``.

    Postponed audits have no valid date until rescheduled, so they leave feeds (clients drop
    the event; the same UID comes back with a higher SEQUENCE). Cancelled audits stay as
    STATUS:CANCELLED for ``grace_days`` after the cancellation, then leave.
    """
    status = _status_value(audit)
    if status == "postponed":
        return False
    if status == "cancelled":
        cancelled = audit.cancelled_at or audit.updated_at
        if cancelled is None:
            return False
        return cancelled.astimezone(dt.UTC).date() + dt.timedelta(days=grace_days) >= day
    return True


def _audit_status(audit) -> str:
    if is_cancelled(audit):
        return CANCELLED
    return TENTATIVE if _status_value(audit) == "planned" else CONFIRMED


def audit_event(audit, *, domain: str, url: str | None = None) -> Event | None:
    """The event for one audit: timed in its zone when it fits in one local day, else all-day.

    An audit with only a planned date (not yet scheduled) becomes a tentative all-day event.
    Only the reference and title go out: calendars live on third-party servers.
    """
    tzid = audit.timezone or "UTC"
    status = _audit_status(audit)
    prefix = "Cancelled: " if status == CANCELLED else ""
    summary = f"{prefix}{audit.reference} {audit.title}"
    common = dict(
        uid=f"audit-{audit.id}@{domain}",
        summary=summary,
        stamp=audit_stamp(audit),
        sequence=audit_sequence(audit),
        status=status,
        url=url,
        categories=("Audit",),
        description=_join(audit.reference, url),
    )
    if audit.starts_at is not None and audit.ends_at is not None:
        first = _local_date(audit.starts_at, tzid)
        last = max(first, _last_local_day(audit.ends_at, tzid))
        if first == last:
            return Event(start=audit.starts_at, end=audit.ends_at, tzid=tzid, **common)
        return Event(start=first, end=last + dt.timedelta(days=1), tzid=tzid, **common)
    if audit.planned_date is not None:
        return Event(start=audit.planned_date, end=audit.planned_date + dt.timedelta(days=1),
                     tzid=tzid, **common)
    return None


def session_event(session, audit, *, domain: str, url: str | None = None) -> Event:
    """An agenda session (opening, audited process, closing) at local wall time of the audit."""
    tzid = audit.timezone or "UTC"
    status = CANCELLED if is_cancelled(audit) else CONFIRMED
    prefix = "Cancelled: " if status == CANCELLED else ""
    return Event(
        uid=f"session-{session.id}@{domain}",
        summary=f"{prefix}{audit.reference}: {session.title}",
        start=session.starts_at,
        end=session.ends_at,
        tzid=tzid,
        stamp=_latest(session.updated_at, audit_stamp(audit)),
        sequence=audit_sequence(audit),
        status=status,
        location=session.location or None,
        url=url,
        categories=("Audit session",),
        description=_join(audit.reference, url),
    )


def due_event(uid_stem: str, day: dt.date, summary: str, *, stamp: dt.datetime | None,
              domain: str, url: str | None = None, category: str = "Deadline") -> Event:
    """An all-day, non-blocking deadline.

    The date is part of the UID: a moved deadline is a new event and the old one leaves the
    feed, so each UID's content never changes and SEQUENCE 0 stays truthful even for rows
    (corrective actions, certificates) that keep no revision counter.
    """
    return Event(
        uid=f"{uid_stem}-{day.strftime('%Y%m%d')}@{domain}",
        summary=summary,
        start=day,
        end=day + dt.timedelta(days=1),
        stamp=_latest(stamp),
        sequence=0,
        transparent=True,
        url=url,
        categories=(category,),
        description=_join(url),
    )


def _join(*parts: str | None) -> str | None:
    text = "\n".join(p for p in parts if p)
    return text or None


def audit_ics(audit, sessions=None, *, domain: str, url: str | None = None,
              session_url: str | None = None) -> bytes:
    """A stand-alone .ics for one audit and its agenda sessions (download, plan e-mail).

    ``sessions`` defaults to ``audit.sessions``. Postponed or long-cancelled audits still get
    their events here (the file is asked for explicitly), marked with their status.
    """
    sessions = list(audit.sessions if sessions is None else sessions)
    events = []
    main = audit_event(audit, domain=domain, url=url)
    if main is not None:
        events.append(main)
    events += [session_event(s, audit, domain=domain, url=session_url or url) for s in sessions]
    days = [e.start if e.all_day else _local_date(e.start, e.tzid) for e in events]
    first = min(days) if days else dt.date(1970, 1, 1)
    last = max(days) if days else first
    feed = Feed(name=f"{audit.reference} {audit.title}", window_start=first - dt.timedelta(days=1),
                window_end=last + dt.timedelta(days=2), events=tuple(events))
    return render_feed(feed)
