"""Fixtures for scheduler tests: a real SMTP server on 127.0.0.1 and an audit that needs reminders."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from audit.extensions import db
from audit.models import AuditStatus, QualificationLevel, Role, TeamRole


class Inbox:
    """Messages the local SMTP server received."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd protocol)
        from email import message_from_bytes, policy

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on 127.0.0.1; yields (port, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def reminder_audit(make, app):
    """An ISO 9001 audit at T0 + 5 days whose plan is issued: lead and auditor (prepare), unit
    owner (the plan, which the sweep sends to auditees it has not reached yet)."""
    T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    std = make.standard()
    lead = make.user(name="Lena Lead", email="lena@example.com")
    auditor = make.user(name="Arno Auditor", email="arno@example.com")
    owner = make.user(roles=(Role.AUDITEE,), name="Otto Owner", email="otto@example.com")
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    make.qualification(auditor, std)
    unit = make.unit(name="Machining", owner=owner)
    audit = make.audit(title="Machining audit", starts_at=T0 + dt.timedelta(days=5),
                       ends_at=T0 + dt.timedelta(days=5, hours=8), units=[unit], standards=[std],
                       team=[(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR)],
                       status=AuditStatus.PLAN_ISSUED)
    db.session.commit()
    return {"T0": T0, "audit": audit, "lead": lead, "auditor": auditor, "owner": owner}
