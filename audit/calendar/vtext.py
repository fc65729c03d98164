"""One VEVENT's text, byte for byte what ``icalendar`` writes, at the old writer's speed.

The feeds were first built by the ``icalendar`` component API (``ical.vevent``): a cold
render of a feed then cost several times the hand-written RFC 5545 writer it replaced
(issue 16), three quarters of it in icalendar's machinery rather than in the encoding. Here
text and categories are escaped by icalendar's own TEXT escaping (the function its ``vText``
calls) and long lines folded by its ``Contentline``; dates are formatted as its vDate/vDatetime write them.
tests/calendar/test_ical.py checks ``vevent_text(e) == ical.vevent(e).to_ical()`` over many
kinds of events, so the two can never drift apart.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from icalendar.parser import Contentline

# The function vText.to_ical (and so vCategory's) escapes with: icalendar's own TEXT escaping,
# called without building a vText and its Parameters for every value (most of a cold render's
# cost, issue 16). Pinned with icalendar in requirements.txt; the equality test below guards it.
from icalendar.parser.string import _escape_char

from audit.calendar.zones import zone_of
from audit.core.text import strip_controls

if TYPE_CHECKING:
    from audit.calendar.ical import Event


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: calendar times need a zone")
    return value


def _line(text: str) -> str:
    # icalendar's folding walks the line character by character: only long lines need it.
    if (len(text) < 75 and text.isascii()) or len(text.encode("utf-8")) < 75:
        return text + "\r\n"
    return Contentline(text).to_ical().decode("utf-8") + "\r\n"


def _stamp(value: dt.datetime) -> str:
    """``YYYYMMDDTHHMMSS`` (as strftime writes it, at half its cost)."""
    return (f"{value.year:04d}{value.month:02d}{value.day:02d}"
            f"T{value.hour:02d}{value.minute:02d}{value.second:02d}")


def _time_line(name: str, value: dt.datetime | dt.date, tzid: str) -> str:
    # Date forms of RFC 5545 3.3.4/3.3.5 as icalendar's vDate/vDatetime write them (their
    # constructors look the zone up again for every value, the largest cost left).
    if not isinstance(value, dt.datetime):
        return f"{name};VALUE=DATE:{value.year:04d}{value.month:02d}{value.day:02d}"
    local = _aware(value).astimezone(zone_of(tzid))
    if tzid == "UTC":
        return f"{name}:{_stamp(local)}Z"
    return f"{name};TZID={tzid}:{_stamp(local)}"


def vevent_text(event: Event) -> str:
    """``vevent(event).to_ical()`` as text, byte for byte, without building the component.

    What is skipped is the component machinery (property type inference, parameter objects,
    zone look-ups per value, the per-character fold of short lines). The property order is
    icalendar's for a VEVENT: its canonical order first, then alphabetical.
    """
    stamp = _stamp(_aware(event.stamp).astimezone(dt.UTC)) + "Z"
    lines = ["BEGIN:VEVENT\r\n", _line("SUMMARY:" + _clean(event.summary)),
             _line(_time_line("DTSTART", event.start, event.tzid)),
             _line(_time_line("DTEND", event.end, event.tzid)),
             f"DTSTAMP:{stamp}\r\n", _line("UID:" + _text(event.uid)), f"SEQUENCE:{int(event.sequence)}\r\n"]
    if event.categories:
        lines.append(_line("CATEGORIES:" + ",".join(map(_clean, event.categories))))
    if event.description:
        lines.append(_line("DESCRIPTION:" + _clean(event.description)))
    lines.append(f"LAST-MODIFIED:{stamp}\r\n")
    if event.location:
        lines.append(_line("LOCATION:" + _clean(event.location)))
    lines += [_line("STATUS:" + _text(event.status)),
              "TRANSP:" + ("TRANSPARENT" if event.transparent else "OPAQUE") + "\r\n"]
    if event.url:
        if "\r" in event.url or "\n" in event.url:  # as vUri refuses it
            raise ValueError(f"A URI value may not contain CR or LF characters: {event.url!r}")
        lines.append(_line("URL:" + event.url))
    lines.append("END:VEVENT\r\n")
    return "".join(lines)


@functools.lru_cache(maxsize=4096)
def _text(value: str) -> str:
    # Statuses, locations and audit titles repeat across a feed's events: escape each once.
    return _escape_char(value)


@functools.lru_cache(maxsize=4096)
def _clean(value: str) -> str:
    """A person's text: control characters dropped (defence in depth), then escaped."""
    return _escape_char(strip_controls(value))


def clear_caches() -> None:
    """Forget every escaped text (the bench's cold render starts from nothing)."""
    _text.cache_clear()
    _clean.cache_clear()
