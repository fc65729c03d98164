"""The e-mail outbox never jams: bad messages fail alone, transient ones retry, nothing is
"sent" without a server, and coordinators can see it all on the outbox page."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.core.registry import registry
from audit.extensions import db
from audit.models import Role
from audit.notifications import email
from audit.notifications.services import notify
from tests.scheduling.conftest import Inbox, free_port

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


class PickyInbox(Inbox):
    """Refuses ``bounce@`` for good (550) and ``busy@`` for now (451)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky_smtp(app):
    from aiosmtpd.controller import Controller

    inbox = PickyInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        yield inbox
    finally:
        controller.stop()


def _note(make, title="Audit reminder", email_address=None, kind="audit_prepare"):
    user = make.user(email=email_address) if email_address else make.user()
    return notify(user, kind=kind, title=title, dedupe_key=f"k-{user.id}-{kind}", now=NOW)


def test_poisoned_title_does_not_stop_the_next_email(app, make, picky_smtp):
    """An audit title with CR/LF goes out as a one-line Subject, and the next e-mail is sent too."""
    poisoned = _note(make, title="Audit\r\nBcc: everyone@example.com\r\n\r\nhello")
    normal = _note(make, title="Next one")
    db.session.commit()
    assert email.deliver_outbox(now=NOW) == 2
    subjects = sorted(m["Subject"] for m in picky_smtp.messages)
    assert subjects == ["Audit Bcc: everyone@example.com hello", "Next one"]
    assert all(m["Bcc"] is None for m in picky_smtp.messages)
    db.session.expire_all()
    assert poisoned.email_state == normal.email_state == "sent"


def test_unbuildable_and_refused_messages_fail_alone(app, make, picky_smtp):
    """A message that cannot be built and one refused with 550 are marked failed with their reason;
    the messages after them are sent in the same sweep."""
    attachments = registry(app).email_attachments
    attachments["broken_kind"] = lambda note: 1 / 0
    try:
        broken = _note(make, kind="broken_kind")
        bounced = _note(make, email_address="bounce@example.com")
        fine = _note(make, title="Fine")
        db.session.commit()
        assert email.deliver_outbox(now=NOW) == 1
    finally:
        del attachments["broken_kind"]
    db.session.expire_all()
    assert broken.email_state == "failed" and "could not be built" in broken.email_error
    assert bounced.email_state == "failed" and "550" in bounced.email_error
    assert fine.email_state == "sent"
    assert [m["Subject"] for m in picky_smtp.messages] == ["Fine"]
    assert email.deliver_outbox(now=NOW + dt.timedelta(days=2)) == 0  # failed ones are not retried


def test_transient_refusal_is_retried_with_back_off(app, make, picky_smtp):
    """A 451 leaves the message queued with its reason, not retried before the back-off, then retried;
    after MAX_ATTEMPTS it is given up."""
    busy = _note(make, email_address="busy@example.com")
    db.session.commit()
    assert email.deliver_outbox(now=NOW) == 0
    db.session.expire_all()
    assert busy.email_state == "queued" and busy.email_attempts == 1 and "451" in busy.email_error
    assert busy.email_retry_at == NOW + email.FIRST_DELAY
    assert email.due_ids(now=NOW + dt.timedelta(minutes=4)) == []
    assert email.due_ids(now=NOW + email.FIRST_DELAY) == [busy.id]
    later = NOW
    for _ in range(email.MAX_ATTEMPTS - 1):
        later += dt.timedelta(days=1)
        email.deliver_outbox(now=later)
    db.session.expire_all()
    assert busy.email_state == "failed" and busy.email_attempts == email.MAX_ATTEMPTS


def test_server_down_keeps_everything_queued(app, make):
    """When the server cannot be reached nothing is claimed or counted against a message."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens
    note = _note(make)
    db.session.commit()
    assert email.deliver_outbox(now=NOW) == 0
    db.session.expire_all()
    assert note.email_state == "queued" and note.email_attempts == 0 and note.emailed_at is None


def test_without_a_mail_server_messages_stay_unsent(app, make):
    """With no MAIL_SERVER the outbox keeps e-mails queued (they used to be marked sent and lost)."""
    app.config["MAIL_SERVER"] = None
    note = _note(make)
    db.session.commit()
    assert email.deliver_outbox(now=NOW) == 0
    db.session.expire_all()
    assert note.emailed_at is None and note.email_state == "queued"


def test_retry_delay_doubles_up_to_the_cap():
    """Back-off: 5, 10, 20 … minutes, never more than six hours."""
    assert [email.retry_delay(n) for n in (1, 2, 3)] == [dt.timedelta(minutes=m) for m in (5, 10, 20)]
    assert email.retry_delay(20) == email.MAX_DELAY


def test_outbox_page_for_coordinators_with_constant_queries(app, make, login, count_queries):
    """Coordinators see queued, sent and failed e-mails with reasons, paged, in a constant number
    of queries; an auditor is refused and has no menu entry."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    auditor = make.user(roles=(Role.AUDITOR,))
    failed = _note(make, title="Refused one")
    failed.email_failed_at, failed.email_error = NOW, "server answered 550 No such user"
    db.session.commit()
    client = login(coordinator)
    page = client.get("/notifications/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Refused one" in html and "550 No such user" in html
    assert 'href="/notifications/outbox"' in html and "No mail server is configured" in html
    assert "Failed (1)" in client.get("/notifications/outbox?state=failed").get_data(as_text=True)
    db.session.expire_all()  # the requests share this session: start both counts cold
    with count_queries() as few:
        client.get("/notifications/outbox")
    for i in range(60):
        notify(make.user(), kind="audit_prepare", title=f"Bulk {i}", dedupe_key=f"bulk-{i}", now=NOW)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as many:
        html = client.get("/notifications/outbox").get_data(as_text=True)
    assert many.count == few.count, (few.statements, many.statements)
    assert "Page 1 of 2" in html
    other = login(auditor)
    assert other.get("/notifications/outbox").status_code == 403
    assert 'href="/notifications/outbox"' not in other.get("/notifications/").get_data(as_text=True)
