"""Parse iCalendar bytes with three independent parsers and reduce events to comparable tuples.

``icalendar`` (what real Python tools use), allenporter's ``ical`` (strict, pydantic-validated,
used by Home Assistant) and ``vobject`` (which builds time zones from our own VTIMEZONEs, so it
also checks those) must agree on every event's instants.
"""

from __future__ import annotations

import datetime as dt

import icalendar
import vobject
from ical.calendar_stream import IcsCalendarStream


def _norm(value):
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, "floating time in a feed"
        return value.astimezone(dt.UTC)
    return value


def with_icalendar(data: bytes) -> dict:
    cal = icalendar.Calendar.from_ical(data)
    return {
        str(e["UID"]): (_norm(e.decoded("DTSTART")), _norm(e.decoded("DTEND")),
                        str(e.get("STATUS")), int(e.get("SEQUENCE", 0)))
        for e in cal.walk("VEVENT")
    }


def with_ical(data: bytes) -> dict:
    cal = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    return {
        e.uid: (_norm(e.dtstart), _norm(e.dtend), e.status.value if e.status else "None",
                int(e.sequence or 0))
        for e in cal.events
    }


def with_vobject(data: bytes) -> dict:
    # vobject keeps the first VTIMEZONE it sees per TZID for the whole process; a feed's
    # VTIMEZONE covers only its own window, so each parse must start from an empty registry.
    registry = vars(vobject.icalendar)["__tzidMap"]
    utc = registry.get("UTC")
    registry.clear()
    registry["UTC"] = utc
    cal = vobject.readOne(data.decode("utf-8"), validate=True)
    events = {}
    for e in getattr(cal, "vevent_list", []):
        events[e.uid.value] = (_norm(e.dtstart.value), _norm(e.dtend.value), e.status.value,
                               int(e.sequence.value))
    return events


PARSERS = {"icalendar": with_icalendar, "ical": with_ical, "vobject": with_vobject}


def parse_everywhere(data: bytes) -> dict:
    """The events as every parser sees them; asserts they all agree and returns one view."""
    results = {name: parse(data) for name, parse in PARSERS.items()}
    reference = results["icalendar"]
    for name, events in results.items():
        assert events == reference, f"{name} disagrees with icalendar: {events} != {reference}"
    return reference


def assert_wellformed(data: bytes) -> None:
    """CRLF line ends only, no line over 75 octets, UTF-8."""
    data.decode("utf-8")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
