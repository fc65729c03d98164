"""The pure serialiser: plain objects in, bytes out, no Flask and no database."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

import icalendar
import pytest

from audit.calendar import ical
from tests.calendar.parsers import assert_wellformed, parse_everywhere

UTC = dt.UTC
STAMP = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DOMAIN = "audits.example.org"


def make_audit(audit_id=1, tz="Europe/Berlin", start=None, end=None, **overrides):
    values = dict(
        id=audit_id, reference=f"IA-2026-{audit_id:03d}", title="Purchasing, 8.4; suppliers",
        timezone=tz, starts_at=start, ends_at=end, planned_date=None, revision=0,
        status=NS(value="scheduled"), updated_at=STAMP, created_at=STAMP, cancelled_at=None,
        sessions=[],
    )
    values.update(overrides)
    return NS(**values)


def local(tz, *args):
    import zoneinfo

    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(UTC)


def feed_of(*events, start=dt.date(2026, 1, 1), end=dt.date(2027, 6, 30)):
    return ical.Feed(name="Test feed", window_start=start, window_end=end, events=tuple(events))


# DST changes in 2026: Berlin 29 Mar / 25 Oct, Chicago 8 Mar / 1 Nov; Shanghai has none.
DST_CASES = [
    ("Europe/Berlin", dt.date(2026, 3, 28), dt.date(2026, 3, 30)),
    ("Europe/Berlin", dt.date(2026, 10, 24), dt.date(2026, 10, 26)),
    ("America/Chicago", dt.date(2026, 3, 7), dt.date(2026, 3, 9)),
    ("America/Chicago", dt.date(2026, 10, 31), dt.date(2026, 11, 2)),
    ("Asia/Shanghai", dt.date(2026, 3, 28), dt.date(2026, 3, 30)),
]


@pytest.mark.parametrize(("tz", "before", "after"), DST_CASES)
def test_wall_time_survives_dst_change_in_every_parser(tz, before, after):
    """A 09:00–12:00 audit the day before and after a DST change keeps its local wall time and
    its exact UTC instant in icalendar, ical and vobject (vobject uses our VTIMEZONE)."""
    audits = [
        make_audit(i, tz, local(tz, d.year, d.month, d.day, 9), local(tz, d.year, d.month, d.day, 12))
        for i, d in ((1, before), (2, after))
    ]
    data = ical.render_feed(feed_of(*(ical.audit_event(a, domain=DOMAIN) for a in audits)))
    assert_wellformed(data)
    events = parse_everywhere(data)
    for audit in audits:
        start, end, status, _seq = events[f"audit-{audit.id}@{DOMAIN}"]
        assert (start, end) == (audit.starts_at, audit.ends_at)
    text = data.decode()
    assert f"DTSTART;TZID={tz}:{before:%Y%m%d}T090000" in text
    assert f"DTSTART;TZID={tz}:{after:%Y%m%d}T090000" in text
    assert text.count("BEGIN:VTIMEZONE") == 1 and f"TZID:{tz}" in text


def test_vtimezone_matches_zoneinfo_at_every_hour_of_the_window():
    """icalendar's reading of our generated VTIMEZONE gives zoneinfo's offset at every hour."""
    import zoneinfo

    for tz in ("Europe/Berlin", "America/Chicago", "Asia/Shanghai"):
        text = "BEGIN:VCALENDAR\r\n" + ical.vtimezone(tz, dt.date(2026, 1, 1), dt.date(2027, 6, 30)) \
            + "END:VCALENDAR\r\n"
        vtz = icalendar.Calendar.from_ical(text).walk("VTIMEZONE")[0].to_tz()
        zone = zoneinfo.ZoneInfo(tz)
        t = dt.datetime(2026, 1, 1, tzinfo=UTC)
        while t < dt.datetime(2027, 6, 30, tzinfo=UTC):
            assert t.astimezone(vtz).utcoffset() == t.astimezone(zone).utcoffset(), (tz, t)
            t += dt.timedelta(hours=7)


def test_vtimezone_covers_only_the_window():
    """A VTIMEZONE lists the observance in force at the start plus the window's transitions."""
    berlin = ical.vtimezone("Europe/Berlin", dt.date(2026, 1, 1), dt.date(2027, 6, 30))
    assert berlin.count("BEGIN:DAYLIGHT") == 2 and berlin.count("BEGIN:STANDARD") == 2
    assert "RRULE" not in berlin and "2024" not in berlin
    shanghai = ical.vtimezone("Asia/Shanghai", dt.date(2026, 1, 1), dt.date(2027, 6, 30))
    assert shanghai.count("BEGIN:STANDARD") == 1 and "DAYLIGHT" not in shanghai
    assert "TZOFFSETTO:+0800" in shanghai


def test_identical_data_gives_identical_bytes():
    """Rendering the same data twice (even from rebuilt objects) gives byte-identical output."""
    def build():
        audits = [make_audit(i, "America/Chicago", local("America/Chicago", 2026, 5, i, 9),
                             local("America/Chicago", 2026, 5, i, 17)) for i in (3, 1, 2)]
        return ical.render_feed(feed_of(*(ical.audit_event(a, domain=DOMAIN) for a in audits)))

    ical.fragments.clear()
    first = build()
    ical.fragments.clear()
    assert build() == first
    assert build() == first  # from the fragment cache


def test_multi_day_audit_is_all_day_with_exclusive_end():
    """An audit over three local days is an all-day event whose DTEND is the day after."""
    tz = "Asia/Shanghai"
    audit = make_audit(5, tz, local(tz, 2026, 6, 2, 9), local(tz, 2026, 6, 4, 16))
    data = ical.render_feed(feed_of(ical.audit_event(audit, domain=DOMAIN)))
    assert "DTSTART;VALUE=DATE:20260602" in data.decode()
    assert "DTEND;VALUE=DATE:20260605" in data.decode()
    start, end, _status, _seq = parse_everywhere(data)[f"audit-5@{DOMAIN}"]
    assert (start, end) == (dt.date(2026, 6, 2), dt.date(2026, 6, 5))


def test_due_date_is_all_day_transparent_and_dated_uid():
    """A deadline is a non-blocking all-day event; its UID carries its date."""
    event = ical.due_event("finding-7-response", dt.date(2026, 4, 1), "Response due: F-7",
                           stamp=STAMP, domain=DOMAIN)
    data = ical.render_feed(feed_of(event))
    assert "TRANSP:TRANSPARENT" in data.decode()
    assert parse_everywhere(data)[f"finding-7-response-20260401@{DOMAIN}"][:2] == (
        dt.date(2026, 4, 1), dt.date(2026, 4, 2))


def test_reschedule_keeps_uid_and_raises_sequence():
    """Moving an audit (revision bumped) keeps its UID and gives a higher SEQUENCE."""
    tz = "Europe/Berlin"
    before = make_audit(9, tz, local(tz, 2026, 5, 4, 9), local(tz, 2026, 5, 4, 17), revision=2)
    after = make_audit(9, tz, local(tz, 2026, 5, 6, 9), local(tz, 2026, 5, 6, 17), revision=3,
                       updated_at=STAMP + dt.timedelta(days=1))
    old = parse_everywhere(ical.render_feed(feed_of(ical.audit_event(before, domain=DOMAIN))))
    new = parse_everywhere(ical.render_feed(feed_of(ical.audit_event(after, domain=DOMAIN))))
    assert set(old) == set(new) == {f"audit-9@{DOMAIN}"}
    (uid,) = new
    assert new[uid][3] > old[uid][3]
    assert new[uid][0] == after.starts_at


def test_cancelled_audit_shows_cancelled_then_leaves_after_grace():
    """A cancelled audit is STATUS:CANCELLED with a bumped SEQUENCE during the grace period,
    and no longer visible after it."""
    tz = "Europe/Berlin"
    cancelled_at = dt.datetime(2026, 4, 1, 10, tzinfo=UTC)
    live = make_audit(4, tz, local(tz, 2026, 5, 4, 9), local(tz, 2026, 5, 4, 17), revision=1)
    gone = make_audit(4, tz, live.starts_at, live.ends_at, revision=1,
                      status=NS(value="cancelled"), cancelled_at=cancelled_at, updated_at=cancelled_at)
    before = parse_everywhere(ical.render_feed(feed_of(ical.audit_event(live, domain=DOMAIN))))
    during = parse_everywhere(ical.render_feed(feed_of(ical.audit_event(gone, domain=DOMAIN))))
    uid = f"audit-4@{DOMAIN}"
    assert during[uid][2] == "CANCELLED" and during[uid][3] > before[uid][3]
    assert ical.visible_on(gone, dt.date(2026, 4, 1) + dt.timedelta(days=ical.CANCELLED_GRACE_DAYS))
    assert not ical.visible_on(gone, dt.date(2026, 4, 2) + dt.timedelta(days=ical.CANCELLED_GRACE_DAYS))
    assert not ical.visible_on(make_audit(status=NS(value="postponed")), dt.date(2026, 4, 1))


def test_folding_never_splits_utf8_and_escapes_text():
    """Long non-ASCII summaries fold at 75 octets on character boundaries; TEXT is escaped."""
    event = ical.due_event("x", dt.date(2026, 4, 1), "Überprüfung; Qualität, " * 12 + "\\ end\nline",
                           stamp=STAMP, domain=DOMAIN)
    data = ical.render_feed(feed_of(event))
    assert_wellformed(data)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal.walk("VEVENT")[0]["SUMMARY"]) == "Überprüfung; Qualität, " * 12 + "\\ end\nline"


def test_calendar_properties():
    """METHOD:PUBLISH, names, refresh hints and UTC DTSTAMP/LAST-MODIFIED from the data."""
    tz = "Europe/Berlin"
    audit = make_audit(2, tz, local(tz, 2026, 5, 4, 9), local(tz, 2026, 5, 4, 17))
    text = ical.render_feed(feed_of(ical.audit_event(audit, domain=DOMAIN))).decode()
    for line in ("METHOD:PUBLISH", "NAME:Test feed", "X-WR-CALNAME:Test feed",
                 "REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H",
                 "DTSTAMP:20260301T080000Z", "LAST-MODIFIED:20260301T080000Z"):
        assert line + "\r\n" in text


def test_feed_window_is_90_days_back_and_18_months_ahead():
    """The window is bounded, so feeds stay small."""
    assert ical.feed_window(dt.date(2026, 3, 10)) == (dt.date(2025, 12, 10), dt.date(2027, 9, 10))
    assert ical.feed_window(dt.date(2026, 8, 31))[1] == dt.date(2028, 2, 29)


def test_audit_ics_holds_audit_and_sessions():
    """The single-audit file has the audit and each agenda session at local time, same UIDs."""
    tz = "America/Chicago"
    sessions = [NS(id=i, title=t, location="Plant 2", starts_at=local(tz, 2026, 3, 9, h),
                   ends_at=local(tz, 2026, 3, 9, h + 1), updated_at=STAMP)
                for i, t, h in ((11, "Opening meeting", 8), (12, "Purchasing", 9))]
    audit = make_audit(6, tz, local(tz, 2026, 3, 9, 8), local(tz, 2026, 3, 9, 16), sessions=sessions)
    data = ical.audit_ics(audit, domain=DOMAIN)
    assert_wellformed(data)
    events = parse_everywhere(data)
    assert set(events) == {f"audit-6@{DOMAIN}", f"session-11@{DOMAIN}", f"session-12@{DOMAIN}"}
    assert events[f"session-12@{DOMAIN}"][0] == dt.datetime(2026, 3, 9, 14, tzinfo=UTC)  # CDT


def test_icalendar_library_reads_the_same_events_as_ours():
    """Our bytes and icalendar's own serialisation of the same Feed describe the same events."""
    from audit.calendar.reference import icalendar_bytes

    events = []
    for i, tz in enumerate(("Europe/Berlin", "America/Chicago", "Asia/Shanghai", "UTC"), start=1):
        events.append(ical.audit_event(make_audit(i, tz, local(tz, 2026, 3, 27 + i, 9),
                                                  local(tz, 2026, 3, 27 + i, 12)), domain=DOMAIN))
    events.append(ical.due_event("finding-1-response", dt.date(2026, 4, 1), "Response due: F-1",
                                 stamp=STAMP, domain=DOMAIN))
    feed = feed_of(*events)
    assert parse_everywhere(ical.render_feed(feed)) == parse_everywhere(icalendar_bytes(feed))


def test_a_changed_feed_reserialises_only_the_changed_events():
    """Events are serialised once per (uid, revision); a second render of a feed with one
    changed event serialises only that one, and a title edit without a revision bump shows."""
    tz = "Europe/Berlin"
    audits = [make_audit(i, tz, local(tz, 2026, 5, i, 9), local(tz, 2026, 5, i, 17)) for i in range(1, 6)]
    ical.fragments.clear()
    ical.render_feed(feed_of(*(ical.audit_event(a, domain=DOMAIN) for a in audits)))
    assert ical.fragments.misses == 5
    audits[2].title = "Renamed without a new revision"
    audits[4].revision = 3
    data = ical.render_feed(feed_of(*(ical.audit_event(a, domain=DOMAIN) for a in audits)))
    assert ical.fragments.misses == 7
    assert "Renamed without a new revision" in icalendar.Calendar.from_ical(data).walk("VEVENT")[2]["SUMMARY"]
    assert parse_everywhere(data)[f"audit-5@{DOMAIN}"][3] == 3


def test_fragment_cache_is_bounded():
    """The oldest fragments leave once the cache is full, so memory stays bounded."""
    cache = ical.FragmentCache(size=2)
    events = [ical.due_event(f"d{i}", dt.date(2026, 4, i), f"Due {i}", stamp=STAMP, domain=DOMAIN)
              for i in (1, 2, 3)]
    for event in events:
        cache.get(event)
    cache.get(events[0])
    assert cache.misses == 4


def _text_cases():
    """Events covering every branch of vtext.vevent_text: zones, UTC, all-day, optional
    fields, escaping, control characters, and lines long enough to fold (multi-byte too)."""
    long = "Ärger über Öl; Qualität, Umwelt \\ Sicherheit – " * 4
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    base = dict(uid="audit-1@x", summary="Audit", start=start, end=start + dt.timedelta(hours=3), stamp=STAMP)
    return [
        ical.Event(**base),
        ical.Event(**{**base, "tzid": "Europe/Berlin", "sequence": 7, "status": ical.CANCELLED}),
        ical.Event(**{**base, "tzid": "America/Argentina/Buenos_Aires", "transparent": True}),
        ical.Event(**{**base, "start": dt.date(2026, 4, 1), "end": dt.date(2026, 4, 3)}),
        ical.Event(**{**base, "summary": long, "location": long, "description": "a\nb\r\nc;d,e\\f\x07g" + long,
                      "categories": ("ISO 9001", "a,b", "x;y", long), "url": "https://x.example/a?b=1&c=d,e;f",
                      "uid": "u-" + "z" * 90 + "@x", "tzid": "Asia/Kolkata"}),
        ical.Event(**{**base, "summary": "€" * 40, "description": "🙂" * 30, "location": "x" * 74}),
    ]


@pytest.mark.parametrize("event", _text_cases())
def test_fast_vevent_text_is_what_icalendar_writes(event):
    """The feed's VEVENT text (vtext) is byte for byte icalendar's own component output."""
    from audit.calendar.vtext import vevent_text

    assert vevent_text(event) == ical.vevent(event).to_ical().decode("utf-8")


def test_a_feed_render_uses_the_fast_text():
    """A rendered feed holds each event's vtext fragment (nothing built twice differently)."""
    from audit.calendar.vtext import vevent_text

    events = _text_cases()
    ical.fragments.clear()
    body = ical.render_feed(feed_of(*events)).decode("utf-8")
    for event in events:
        assert vevent_text(event) in body
