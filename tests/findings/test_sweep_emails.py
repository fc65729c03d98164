"""Every sweep message says what happened, what is expected and by when, and links to the page
with an absolute address, in the plain-text part and the HTML part alike; no findings kind falls
back to the generic notification body."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import current_app
from sqlalchemy import select

from audit.extensions import db
from audit.findings import NOTIFICATION_KINDS
from audit.findings import services as fs
from audit.findings.reminders import REMIND_DAYS_BEFORE, sweep_finding_deadlines
from audit.models import Grade, Notification, Role
from audit.notifications.email import build_message
from tests.findings.helpers import draft, response_kwargs, world

BASE = "https://audit.example.com"


def test_every_findings_kind_has_its_own_templates(app):
    """The generic body (``email/notification``) never carries a findings message."""
    env = current_app.jinja_env
    for kind in NOTIFICATION_KINDS:
        for ext in ("txt", "html"):
            assert env.get_template(f"email/{kind}.{ext}"), kind


def _parts(note):
    msg = build_message(note)
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def _kind(kind, user=None):
    stmt = select(Notification).where(Notification.kind == kind).order_by(Notification.id.desc())
    if user is not None:
        stmt = stmt.where(Notification.user_id == user.id)
    return db.session.scalars(stmt).first()


@pytest.fixture
def base_url(app):
    app.config["BASE_URL"] = BASE
    yield BASE


def test_sweep_messages_name_step_date_and_absolute_link(app, make, library, now, base_url):
    """Response due soon, response overdue, escalated, action due, closure overdue and a SCAR
    stage overdue: each e-mail part names the deadline's date, the expected step, the link."""
    w = world(make, library)
    top = make.user(roles=(Role.VIEWER,), name="Tom Management")  # noqa: F841 (the ladder's top)
    major = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(major, actor=w.auditor, now=now)
    minor = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(minor, actor=w.auditor, now=now)
    fs.submit_response(minor, actor=w.owner, now=now, **response_kwargs(w, now))
    fs.accept_response(minor, actor=w.auditor, now=now)
    action = minor.actions[0]
    due = major.response_due_on
    checks = []
    sweep_finding_deadlines(now + dt.timedelta(days=(due - now.date()).days - REMIND_DAYS_BEFORE))
    checks.append(("finding_due_soon", w.owner, due, "Submit the response", f"/findings/{major.id}"))
    sweep_finding_deadlines(now + dt.timedelta(days=(action.due_on - now.date()).days - 1))
    checks.append(("action_due", action.owner, action.due_on, "mark it implemented", f"/findings/{minor.id}"))
    late = now + dt.timedelta(days=(due - now.date()).days + 15)
    sweep_finding_deadlines(late)
    checks.append(("finding_overdue", w.owner, due, "Do it now, or ask for an extension", f"/findings/{major.id}"))
    checks.append(("finding_escalated", w.coordinator, due, "Make sure the owner can act now",
                   f"/findings/{major.id}"))
    for kind, user, day, expected, link in checks:
        note = _kind(kind, user)
        assert note is not None, kind
        for part in _parts(note):
            assert f"{day:%d %b %Y}" in part, (kind, part)
            assert expected in part, (kind, part)
            assert f"{BASE}{link}" in part, (kind, part)
            assert "What happened" in part and "What is expected of you" in part, kind


def test_scar_stage_overdue_names_the_stage_and_the_scar_page(app, make, library, now, base_url):
    """The supplier's overdue notice names the stage deadline the SCAR page shows."""
    from audit.models import ApprovalStatus, AuditKind, AuditTeamMember, TeamRole

    w = world(make, library)
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    sw = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    sw.audit.team.append(AuditTeamMember(user=w.auditor, role=TeamRole.LEAD))
    sw.auditor = w.auditor
    scar = draft(sw, Grade.MINOR, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    stage, day = scar.current_deadline()
    assert stage == "containment"
    sweep_finding_deadlines(now + dt.timedelta(days=(day - now.date()).days + 1))
    note = _kind("finding_overdue", contact)
    for part in _parts(note):
        assert f"{day:%d %b %Y}" in part and "containment" in part.lower()
        assert "record the containment" in part and f"{BASE}/scar/{scar.id}" in part
