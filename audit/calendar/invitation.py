"""Calendar invitations (iTIP, RFC 5546) for e-mail, built with the ``icalendar`` package.

Pure like ``ical``: an ``ical.Event`` (the very event the feeds publish, so the UID and SEQUENCE
are the feeds') plus a method, an organizer and attendees in, bytes out. METHOD:REQUEST puts or
updates the event in the attendee's calendar; METHOD:CANCEL removes it (cancelled, postponed,
or the attendee taken out of the team).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar

from audit.calendar import ical
from audit.calendar.zones import zone_of

METHODS = ("REQUEST", "CANCEL")


@dataclass(frozen=True)
class Attendee:
    """A calendar user: e-mail address, display name, and their part in the meeting."""

    email: str
    name: str
    chair: bool = False  #: the lead auditor chairs the audit
    optional: bool = False  #: observers and guides

    def address(self, *, attendee: bool) -> icalendar.vCalAddress:
        """The ``mailto:`` value with CN (and ROLE/PARTSTAT for attendees)."""
        value = icalendar.vCalAddress(f"mailto:{self.email}")
        value.params["CN"] = self.name
        if attendee:
            value.params["ROLE"] = "CHAIR" if self.chair else ("OPT-PARTICIPANT" if self.optional
                                                               else "REQ-PARTICIPANT")
            value.params["PARTSTAT"] = "NEEDS-ACTION"
            value.params["RSVP"] = "FALSE"
        return value


def invitation_ics(event: ical.Event, *, method: str, organizer: Attendee,
                   attendees: list[Attendee]) -> bytes:
    """A one-event VCALENDAR with ``method``; a CANCEL always carries STATUS:CANCELLED."""
    if method not in METHODS:
        raise ValueError(f"unsupported iTIP method {method!r}")
    cal = icalendar.Calendar()
    cal.add("prodid", ical.PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    # The feed's own VEVENT (same UID, times, SEQUENCE, text cleaning), plus the iTIP parts.
    vevent = ical.vevent(event)
    if method == "CANCEL":
        del vevent["status"]
        vevent.add("status", ical.CANCELLED)
    vevent.add("organizer", organizer.address(attendee=False))
    for attendee in attendees:
        vevent.add("attendee", attendee.address(attendee=True))
    cal.add_component(vevent)
    if not event.all_day and event.tzid != "UTC":
        day = event.start.astimezone(zone_of(event.tzid)).date()
        cal.add_missing_timezones(first_date=day - dt.timedelta(days=1),
                                  last_date=event.end.astimezone(zone_of(event.tzid)).date()
                                  + dt.timedelta(days=2))
    return cal.to_ical()
