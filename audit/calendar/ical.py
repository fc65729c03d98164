"""Pure iCalendar feeds (RFC 5545, RFC 7986): plain data or models in, bytes out.

Nothing here knows Flask, a database session or the clock. The same input always gives the
same bytes (stable ordering, DTSTAMP and LAST-MODIFIED from the rows), so a feed's ETag only
changes when its data does.

Two layers:

* ``Event`` / ``Feed`` are frozen dataclasses; ``render_feed`` turns a ``Feed`` into bytes
  with the ``icalendar`` package (escaping, folding, value types), adding one VTIMEZONE per
  zone used, covering only the feed window (audit/calendar/zones.py).
* ``audit_event``, ``session_event``, ``due_event`` and ``audit_ics`` build those dataclasses
  from model objects (duck-typed: anything with the same attributes works, which is how the
  tests feed it plain objects without a database).

Each event's text depends only on the ``Event`` value (its uid, sequence, stamp and fields),
so serialised fragments are cached by (uid, sequence), checked against the value: a feed is
then mostly a join of cached strings, and icalendar (about 0.15-0.4 ms an event) runs only
for events that changed.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass

import icalendar

from audit.calendar.vtext import vevent_text
from audit.calendar.zones import vtimezone, zone_of
from audit.core.text import strip_controls

#: Product identifier (RFC 5545 3.7.3).
PRODID = "-//Audit Management//Audit Calendar 1.0//EN"
#: Bumped whenever the serialiser's output changes for the same data: it is part of every
#: feed's fingerprint, so clients holding an old ETag get the new bytes.
FORMAT_VERSION = "2"  # 2: serialised by the icalendar package
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
        zone = zone_of(event.tzid)
        first = event.start.astimezone(zone).date()
        last = event.end.astimezone(zone).date()
    return first <= end and last >= start


# --------------------------------------------------------------------------------------------
# Rendering with the icalendar package


def _when(value: dt.datetime | dt.date, tzid: str) -> dt.datetime | dt.date:
    """A date as is; an instant in the event's zone (icalendar writes TZID=... or a UTC Z)."""
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: calendar times need a zone")
    return value.astimezone(zone_of(tzid))


def _stamp(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: calendar times need a zone")
    return value.astimezone(dt.UTC)


def vevent(event: Event) -> icalendar.Event:
    """One ``Event`` as an ``icalendar.Event`` component."""
    component = icalendar.Event()
    component.add("uid", event.uid)
    component.add("dtstamp", _stamp(event.stamp))
    component.add("dtstart", _when(event.start, event.tzid))
    component.add("dtend", _when(event.end, event.tzid))
    component.add("sequence", int(event.sequence))
    component.add("last-modified", _stamp(event.stamp))
    component.add("summary", strip_controls(event.summary))
    component.add("status", event.status)
    component.add("transp", "TRANSPARENT" if event.transparent else "OPAQUE")
    if event.location:
        component.add("location", strip_controls(event.location))
    if event.description:
        component.add("description", strip_controls(event.description))
    if event.categories:
        component.add("categories", [strip_controls(c) for c in event.categories])
    if event.url:
        component.add("url", event.url)
    return component


class FragmentCache:
    """Serialised VEVENTs by (uid, sequence), the oldest entries out first when full.

    A render re-serialises only the events that changed. The key is the event's identity and
    revision; the stored ``Event`` value is compared too, because some changes (a title, a
    location) do not bump the revision and must still show. Each key holds its latest text
    only. Lookups take no lock (a dict read is atomic); writers serialise on one.
    """

    def __init__(self, size: int = 50_000):
        self.size = size
        self._items: dict[tuple[str, int], tuple[Event, str]] = {}
        self._lock = threading.Lock()
        self.misses = 0

    def get(self, event: Event) -> str:
        """The event's text, serialised by icalendar only when not cached for this value."""
        key = (event.uid, event.sequence)
        hit = self._items.get(key)
        if hit is not None and hit[0] == event:
            return hit[1]
        text = vevent_text(event)
        with self._lock:
            self.misses += 1
            self._items.pop(key, None)  # re-inserted last: insertion order is the age
            self._items[key] = (event, text)
            while len(self._items) > self.size:
                del self._items[next(iter(self._items))]
        return text

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.misses = 0


#: The process-wide fragment cache (each worker has its own; bytes are identical anyway).
fragments = FragmentCache()


def render_event(event: Event) -> str:
    """One VEVENT as folded text, from the fragment cache when this version was seen before."""
    return fragments.get(event)


@functools.lru_cache(maxsize=512)
def _head(name: str, description: str | None, refresh: dt.timedelta) -> str:
    """The VCALENDAR's properties (everything before the components), by icalendar."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    name = strip_controls(name)
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    if description:
        description = strip_controls(description)
        cal.add("description", description)
        cal.add("x-wr-caldesc", description)
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(refresh))
    text = cal.to_ical().decode("utf-8")
    return text[: -len(_END)]


_END = "END:VCALENDAR\r\n"


def render_feed(feed: Feed) -> bytes:
    """The whole VCALENDAR as UTF-8 bytes (CRLF, 75-octet folding: icalendar's output).

    The calendar is a join of icalendar-made parts: its properties, one windowed VTIMEZONE
    per zone used, and the cached VEVENT fragments in a stable order.
    """
    events = sorted(feed.events, key=lambda e: e.sort_key)
    zones = sorted({e.tzid for e in events if not e.all_day and e.tzid != "UTC"})
    parts = [_head(feed.name, feed.description, feed.refresh)]
    parts += [vtimezone(z, feed.window_start, feed.window_end) for z in zones]
    get = fragments.get  # render_event, without a call per event
    parts += [get(e) for e in events]
    parts.append(_END)
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------------------------
# From models to events


def _local_date(value: dt.datetime, tzid: str) -> dt.date:
    return value.astimezone(zone_of(tzid)).date()


def _last_local_day(end: dt.datetime, tzid: str) -> dt.date:
    """The last calendar day an interval ending at ``end`` touches (midnight ends the day before)."""
    local = end.astimezone(zone_of(tzid))
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
