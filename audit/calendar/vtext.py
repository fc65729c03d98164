"""One VEVENT's text, byte for byte what ``icalendar`` writes, at the old writer's speed.

The feeds were first built by the ``icalendar`` component API (``ical.vevent``): a cold
render of a feed then cost several times the hand-written RFC 5545 writer it replaced
(issue 16), three quarters of it in icalendar's machinery rather than in the encoding. Here
text, categories and URLs are encoded by icalendar's own value types and long lines folded
by its ``Contentline``; dates are formatted as its vDate/vDatetime write them.
tests/calendar/test_ical.py checks ``vevent_text(e) == ical.vevent(e).to_ical()`` over many
kinds of events, so the two can never drift apart.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from icalendar.parser import Contentline
from icalendar.prop import vCategory, vText, vUri

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
    if len(text.encode("utf-8")) < 75:
        return text + "\r\n"
    return Contentline(text).to_ical().decode("utf-8") + "\r\n"


def _time_line(name: str, value: dt.datetime | dt.date, tzid: str) -> str:
    # Date forms of RFC 5545 3.3.4/3.3.5 as icalendar's vDate/vDatetime write them (their
    # constructors look the zone up again for every value, the largest cost left).
    if not isinstance(value, dt.datetime):
        return f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}"
    local = _aware(value).astimezone(zone_of(tzid))
    if tzid == "UTC":
        return f"{name}:{local.strftime('%Y%m%dT%H%M%SZ')}"
    return f"{name};TZID={tzid}:{local.strftime('%Y%m%dT%H%M%S')}"


def vevent_text(event: Event) -> str:
    """``vevent(event).to_ical()`` as text, byte for byte, without building the component.

    What is skipped is the component machinery (property type inference, parameter objects,
    zone look-ups per value, the per-character fold of short lines). The property order is
    icalendar's for a VEVENT: its canonical order first, then alphabetical.
    """
    stamp = _aware(event.stamp).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VEVENT\r\n", _line("SUMMARY:" + _text(strip_controls(event.summary))),
             _line(_time_line("DTSTART", event.start, event.tzid)),
             _line(_time_line("DTEND", event.end, event.tzid)),
             f"DTSTAMP:{stamp}\r\n", _line("UID:" + _text(event.uid)), f"SEQUENCE:{int(event.sequence)}\r\n"]
    if event.categories:
        lines.append(_line("CATEGORIES:" + vCategory([strip_controls(c) for c in event.categories])
                           .to_ical().decode()))
    if event.description:
        lines.append(_line("DESCRIPTION:" + _text(strip_controls(event.description))))
    lines.append(f"LAST-MODIFIED:{stamp}\r\n")
    if event.location:
        lines.append(_line("LOCATION:" + _text(strip_controls(event.location))))
    lines += [_line("STATUS:" + _text(event.status)),
              "TRANSP:" + ("TRANSPARENT" if event.transparent else "OPAQUE") + "\r\n"]
    if event.url:
        lines.append(_line("URL:" + vUri(event.url).to_ical().decode()))
    lines.append("END:VEVENT\r\n")
    return "".join(lines)


@functools.lru_cache(maxsize=4096)
def _text(value: str) -> str:
    # Statuses, locations and audit titles repeat across a feed's events: escape each once.
    return vText(value).to_ical().decode("utf-8")
