"""E-mail delivery of the notification outbox over SMTP (plain text + HTML from templates).

The sweep claims each due row with a conditional UPDATE (``emailed_at IS NULL``), sends it, and
commits per message. One bad message never jams the outbox: a message that cannot be built, or
that the server refuses for good (5xx), is marked failed with its reason; a transient failure
(connection trouble, 4xx) is retried with growing delays, up to ``MAX_ATTEMPTS``; the sweep goes
on with the next message. With no mail server configured nothing is claimed: messages stay
queued until a server is configured. Only the lease-holding scheduler runs the sweep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from audit.core.registry import registry
from audit.core.text import single_line
from audit.extensions import db
from audit.models import Notification

log = logging.getLogger(__name__)
BATCH = 200
#: Transient failures retried this many times (delays 5 min, 10, 20 … capped at 6 h: ~1 day).
MAX_ATTEMPTS = 8
FIRST_DELAY = dt.timedelta(minutes=5)
MAX_DELAY = dt.timedelta(hours=6)

def _render(note: Notification, ext: str) -> str:
    # Rendered straight from the Jinja environment: jobs have no request, so the web
    # context processors (navigation, current user) must not run.
    context = {"note": note, "user": note.user, "base_url": current_app.config.get("BASE_URL", "")}
    env = current_app.jinja_env
    try:
        template = env.get_template(f"email/{note.kind}.{ext}")
    except TemplateNotFound:
        template = env.get_template(f"email/notification.{ext}")
    return template.render(**context)


def build_message(note: Notification) -> EmailMessage:
    """The e-mail for one notification: text part, HTML alternative, and the kind's attachments."""
    msg = EmailMessage()
    # Headers are single lines: a title typed with a line break would make the message
    # unbuildable (or inject headers); the body keeps the text as typed.
    msg["Subject"] = single_line(note.title)
    msg["From"] = single_line(current_app.config.get("MAIL_SENDER", "audits@localhost"))
    msg["To"] = single_line(note.user.email)
    msg["Message-ID"] = f"<notification-{note.id}-{note.dedupe_key.replace(':', '.')[:120]}@audit>"
    msg.set_content(_render(note, "txt"))
    msg.add_alternative(_render(note, "html"), subtype="html")
    # e.g. the audit plan attaches one .ics per agenda session (registered by conduct)
    provider = registry().email_attachments.get(note.kind)
    for filename, data, maintype, subtype, *params in (provider(note) if provider else []):
        # an optional fifth item holds Content-Type parameters (text/calendar; method=REQUEST)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename,
                           params=params[0] if params else None)
    return msg


def _connect():
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT") or 25), timeout=10)
    if cfg.get("MAIL_USE_TLS"):
        smtp.starttls()
    if cfg.get("MAIL_USERNAME"):
        smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
    return smtp


@dataclass
class Failure:
    """Why a message was not sent; ``transient`` failures are retried, ``reconnect`` ones
    mean the connection is unusable and a new one must be opened."""

    reason: str
    transient: bool
    reconnect: bool = False


def classify(exc: BaseException) -> Failure:
    """Sort a sending error into permanent or transient (SMTP 4xx and connection trouble)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                           for addr, (code, msg) in exc.recipients.items())
        return Failure(f"recipient refused ({detail})", transient=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Failure(f"server answered {exc.smtp_code} {text}", transient=400 <= exc.smtp_code < 500,
                       reconnect=isinstance(exc, smtplib.SMTPConnectError))
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
        return Failure(f"connection failed ({exc})", transient=True, reconnect=True)
    return Failure(f"server refused the message ({exc})", transient=False)


def retry_delay(attempts: int) -> dt.timedelta:
    """The back-off after ``attempts`` failed tries: doubling from FIRST_DELAY up to MAX_DELAY."""
    return min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)


def _record_failure(note_id: int, failure: Failure, *, now: dt.datetime) -> None:
    """Store the failure in its own short transaction (the claim was rolled back)."""
    note = db.session.get(Notification, note_id)
    note.email_attempts += 1
    note.email_error = failure.reason[:500]
    if failure.transient and note.email_attempts < MAX_ATTEMPTS:
        note.email_retry_at = now + retry_delay(note.email_attempts)
    else:
        note.email_failed_at = now
        note.email_retry_at = None
    db.session.commit()
    log.warning("e-mail for notification %s not sent (%s): %s", note_id,
                "will retry" if note.email_failed_at is None else "gave up", failure.reason)


def due_ids(*, now: dt.datetime, limit: int = BATCH) -> list[int]:
    """Ids of messages waiting to be sent now: queued, not given up, not backing off."""
    return db.session.scalars(
        select(Notification.id)
        .where(Notification.emailed_at.is_(None), Notification.email_failed_at.is_(None),
               (Notification.email_retry_at.is_(None)) | (Notification.email_retry_at <= now))
        .order_by(Notification.id).limit(limit)).all()


def deliver_outbox(*, now: dt.datetime) -> int:
    """Send waiting e-mails; returns how many were sent. Commits per message (it is a job)."""
    if not current_app.config.get("MAIL_SERVER"):
        return 0  # no server: everything stays queued, to be sent once one is configured
    ids = due_ids(now=now)
    smtp = None
    sent = 0
    try:
        for note_id in ids:
            claimed = db.session.execute(update(Notification)
                                         .where(Notification.id == note_id, Notification.emailed_at.is_(None))
                                         .values(emailed_at=now))
            if claimed.rowcount != 1:
                db.session.rollback()
                continue
            note = db.session.scalars(select(Notification).where(Notification.id == note_id)
                                      .options(joinedload(Notification.user))).one()
            if not note.email_wanted or not note.user.email:
                db.session.commit()  # kept in the app only
                continue
            try:
                message = build_message(note)
            except Exception as exc:  # noqa: BLE001 - any build error is this message's alone
                db.session.rollback()
                _record_failure(note_id, Failure(f"the message could not be built ({exc})", transient=False),
                                now=now)
                continue
            if smtp is None:
                try:
                    smtp = _connect()
                except (OSError, smtplib.SMTPException) as exc:
                    # Not this message's fault (server down, wrong credentials): everything
                    # stays queued and the next sweep tries again.
                    db.session.rollback()
                    log.warning("mail server unavailable, outbox kept for the next sweep: %s", exc)
                    break
            try:
                smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                db.session.rollback()
                failure = classify(exc)
                _record_failure(note_id, failure, now=now)
                if failure.reconnect:  # the connection is unusable: open a new one
                    with contextlib.suppress(OSError, smtplib.SMTPException):
                        smtp.close()
                    smtp = None
                continue
            db.session.commit()
            sent += 1
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    return sent
