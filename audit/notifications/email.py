"""E-mail delivery of the notification outbox over SMTP (plain text + HTML from templates).

The sweep claims each row with a conditional UPDATE (``emailed_at IS NULL``), sends it, and
commits; a failed send rolls back so the next sweep retries. Only the lease-holding scheduler
runs it, so a message is sent once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from audit.core.registry import registry
from audit.extensions import db
from audit.models import Notification

log = logging.getLogger(__name__)
BATCH = 200

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
    msg["Subject"] = note.title
    msg["From"] = current_app.config.get("MAIL_SENDER", "audits@localhost")
    msg["To"] = note.user.email
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


def deliver_outbox(*, now: dt.datetime) -> int:
    """Send waiting e-mails; returns how many were sent. Commits per message (it is a job)."""
    ids = db.session.scalars(select(Notification.id).where(Notification.emailed_at.is_(None))
                             .order_by(Notification.id).limit(BATCH)).all()
    if not ids:
        return 0
    server = current_app.config.get("MAIL_SERVER")
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
            if not note.email_wanted or not server or not note.user.email:
                # Not wanted, or no mail server configured: kept in the app only.
                db.session.commit()
                continue
            try:
                if smtp is None:
                    smtp = _connect()
                smtp.send_message(build_message(note))
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("e-mail for notification %s not sent: %s", note_id, exc)
                db.session.rollback()
                break  # server trouble: retry the rest on the next sweep
            db.session.commit()
            sent += 1
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    return sent
