"""Feed polls stay read-only: the token's bookkeeping is written at most hourly, in a short
write transaction of its own after the read, and never makes a poll fail (issue 16 item 3)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from audit.calendar import services
from audit.extensions import db
from audit.models import CalendarToken, TeamRole, utcnow
from tests.calendar.test_views import SOON, new_token

WRITES = ("INSERT", "UPDATE", "DELETE")


def _statements():
    """Every statement sent through SQLAlchemy while the block runs (``sqlite_trace`` adds
    what goes straight to the driver)."""
    sent: list[str] = []

    def _on_execute(conn, cursor, statement, *args):
        sent.append(statement.lstrip().upper())

    event.listen(db.engine, "before_cursor_execute", _on_execute)
    return sent, lambda: event.remove(db.engine, "before_cursor_execute", _on_execute)


def _feed(make, cal):
    user = make.user()
    cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
    token, secret = new_token(user)
    return token.id, f"/calendar/feed/{secret}.ics"


def test_poll_within_the_hour_writes_nothing(app, client, make, cal):
    """A second poll of an unchanged feed within the hour issues no write at all."""
    _token_id, url = _feed(make, cal)
    assert client.get(url).status_code == 200
    sent, stop = _statements()
    try:
        response = client.get(url)
    finally:
        stop()
    assert response.status_code == 200
    assert not [s for s in sent if s.startswith(WRITES)], sent


def test_stale_last_used_is_written_once_in_its_own_write_transaction(app, client, make, cal, sqlite_trace):
    """After an hour a poll records last_used_at with one UPDATE, begun as a write after the read ended."""
    token_id, url = _feed(make, cal)
    client.get(url)
    token = db.session.get(CalendarToken, token_id)
    token.last_used_at = utcnow() - dt.timedelta(hours=2)
    db.session.commit()
    sent, stop = _statements()
    try:
        with sqlite_trace() as ran:
            assert client.get(url).status_code == 200
    finally:
        stop()
    writes = [i for i, s in enumerate(sent) if s.startswith(WRITES)]
    assert len(writes) == 1 and sent[writes[0]].startswith("UPDATE CALENDAR_TOKENS"), sent
    if db.engine.dialect.name == "sqlite":
        # As SQLite ran them (BEGIN goes straight to the driver): the read ran in a deferred
        # transaction; the write opened its own immediate one.
        begins = [i for i, s in enumerate(ran) if s.startswith("BEGIN")]
        written = [i for i, s in enumerate(ran) if s.startswith(WRITES)]
        assert ran[begins[0]] == "BEGIN" and ran[begins[-1]] == "BEGIN IMMEDIATE", ran
        assert begins[0] < begins[-1] < written[0]
        assert not any(s.startswith("SELECT") for s in ran[begins[-1]:written[0]])
    db.session.expire_all()
    assert utcnow() - db.session.get(CalendarToken, token_id).last_used_at < dt.timedelta(minutes=5)


def test_poll_is_answered_when_the_bookkeeping_write_fails(app, client, make, cal, monkeypatch):
    """A locked database while recording the poll still answers the feed; nothing is stored."""
    token_id, url = _feed(make, cal)

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE calendar_tokens", {}, Exception("database is locked"))

    monkeypatch.setattr(services, "note_served", locked)
    response = client.get(url)
    assert response.status_code == 200 and b"BEGIN:VCALENDAR" in response.data
    assert response.headers["Last-Modified"]
    db.session.expire_all()
    row = db.session.get(CalendarToken, token_id)
    assert row.last_used_at is None and row.content_etag is None


def test_concurrent_polls_move_the_content_stamp_once(app, make, cal, now):
    """Two polls that saw the same old row store the new ETag once: the second UPDATE matches nothing."""
    token_id, _url = _feed(make, cal)
    token = db.session.get(CalendarToken, token_id)
    first = services.served_changes(token, "a" * 64, now=now)
    second = services.served_changes(token, "a" * 64, now=now + dt.timedelta(minutes=1))
    services.note_served(token_id, first, now=now)
    services.note_served(token_id, second, now=now + dt.timedelta(minutes=1))
    db.session.commit()
    db.session.expire_all()
    row = db.session.get(CalendarToken, token_id)
    assert row.content_etag == "a" * 64
    assert row.content_changed_at == now.replace(microsecond=0)
    assert row.last_used_at == now
