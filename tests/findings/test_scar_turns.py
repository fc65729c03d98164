"""When a SCAR's turn comes back to the supplier: asking for more time on the SCAR page, and a
SCAR sent back (response rejected, actions not effective) showing why and with dates the
supplier can still meet, counted afresh by the rule of the issue."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import sweep_finding_deadlines
from audit.models import (
    ActionKind,
    ApprovalStatus,
    AuditKind,
    ExtensionStatus,
    Grade,
    Notification,
    Role,
    RootCauseMethod,
    ScarStage,
)
from audit.models.finding import SCAR_PLAN_DELAY, SCAR_STAGE_DELAYS
from tests.findings.helpers import draft, world


def _scar(make, library, now):
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    return w, contact, f


def _root_cause(f, contact, now):
    fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                              eight_d={"d1": "Melt shop team", "d2": "Porosity", "d4": "Degassing"},
                              root_cause="Degassing time not controlled in the melt shop",
                              root_cause_category="method", extent_check="All furnaces checked",
                              actor=contact, now=now)


def _plan(f, contact, now):
    fs.submit_scar_plan(f, [{"kind": ActionKind.CORRECTIVE, "description": "Timer interlock",
                             "due_on": now.date() + dt.timedelta(days=20)}], actor=contact, now=now)


def _to_plan_submitted(f, contact, now):
    fs.acknowledge_scar(f, actor=contact, now=now)
    fs.submit_scar_containment(f, "Blocked lots 88-91", actor=contact, now=now)
    _root_cause(f, contact, now)
    _plan(f, contact, now)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _titles(user, kind: str) -> list[str]:
    return list(db.session.scalars(select(Notification.title).where(
        Notification.user_id == user.id, Notification.kind == kind).order_by(Notification.id)))


def test_supplier_asks_for_more_time_on_the_scar_page(app, make, library, now, login, clock):
    """The SCAR page offers the finding's own extension request (the overdue notice points
    there); a coordinator is told and decides as for any finding; once approved, the overdue
    root-cause stage keeps its distance from the moved plan date and is no longer overdue."""
    w, contact, f = _scar(make, library, now)
    fs.acknowledge_scar(f, actor=contact, now=now)
    fs.submit_scar_containment(f, "Blocked lots 88-91", actor=contact, now=now)
    db.session.commit()
    late = clock.move(days=20)  # the root cause was due after 14 days
    assert f.current_deadline()[0] == "root_cause" and f.is_overdue(late.date())
    client = login(contact)
    page = client.get(f"/scar/{f.id}").text
    assert f'action="/scar/{f.id}/extensions"' in page
    assert ('<option value="response">Action plan</option>'
            '<option value="closure">Implementation</option>') in page
    token = _csrf(page)

    refused = client.post(f"/scar/{f.id}/extensions", data={
        "csrf_token": token, "ext-deadline": "response", "ext-new_due_on": "2026-05-20", "ext-reason": ""})
    assert refused.status_code == 400 and "Say why more time is needed." in refused.text
    assert 'value="2026-05-20"' in refused.text  # the input is kept
    plan_due = f.response_due_on
    r = client.post(f"/scar/{f.id}/extensions", data={
        "csrf_token": token, "ext-deadline": "response", "ext-new_due_on": "2026-05-20",
        "ext-reason": "Foundry trial needs two more melts"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/scar/{f.id}")
    ext = f.extensions[-1]
    assert (ext.status, ext.deadline, ext.current_due_on, ext.requested_by) == (
        ExtensionStatus.PENDING, "response", plan_due, contact)
    assert _titles(w.coordinator, "finding_to_review") == [
        f"Sam Carter asked for more time on {Grade.MINOR.label} {f.reference}."]
    page = client.get(f"/scar/{f.id}").text
    assert "Foundry trial needs two more melts" in page and "waiting for a decision" in page
    assert f'action="/scar/{f.id}/extensions"' not in page  # one request at a time
    # Sent again from the page as it was before: refused with the reason, the text kept.
    stale = client.post(f"/scar/{f.id}/extensions", data={
        "csrf_token": token, "ext-deadline": "closure", "ext-new_due_on": "2026-09-01",
        "ext-reason": "Second furnace needs relining first"},
        headers={"Referer": f"http://localhost/scar/{f.id}"})
    assert stale.status_code == 409 and "waiting for a decision" in stale.text
    assert "<dt>Reason</dt><dd><pre>Second furnace needs relining first</pre></dd>" in stale.text
    assert f'href="http://localhost/scar/{f.id}">Back to the page</a>' in stale.text
    assert token not in stale.text.split("What you wrote")[1]  # the form's secrets stay out
    assert len(f.extensions) == 1

    fs.decide_extension(ext, approve=True, note="Two melts, no more", actor=w.coordinator, now=late)
    db.session.commit()
    shift = dt.date(2026, 5, 20) - plan_due
    assert f.scar_due_dates()["root_cause"] == (now + SCAR_STAGE_DELAYS["root_cause"]).date() + shift
    assert not f.is_overdue(late.date())
    notice = db.session.scalars(select(Notification).where(
        Notification.user_id == contact.id, Notification.kind == "finding_decided")).one()
    assert notice.link == f"/scar/{f.id}" and "Extension approved: Two melts, no more" in notice.body
    assert "approved: Two melts, no more" in client.get(f"/scar/{f.id}").text


def test_other_suppliers_cannot_ask_for_more_time_on_a_scar(app, make, library, now, login):
    """The SCAR page's extension route answers 404 to another company's contact."""
    _w, _contact, f = _scar(make, library, now)
    rival = make.supplier(name="Rival Foundry", approval_status=ApprovalStatus.APPROVED)
    rival_contact = make.user(roles=(Role.SUPPLIER,), supplier_id=rival.id)
    db.session.commit()
    client = login(rival_contact)
    token = _csrf(client.get("/scar/").text)
    r = client.post(f"/scar/{f.id}/extensions", data={
        "csrf_token": token, "ext-deadline": "response", "ext-new_due_on": "2026-05-20",
        "ext-reason": "Let me in"})
    assert r.status_code == 404 and not f.extensions


def test_not_effective_scar_shows_the_note_and_a_fresh_plan_date(app, make, library, now, login):
    """Sent back as not effective long after its plan was due, the SCAR shows the verifier's
    note and waits for a new plan due 30 days from then, as at issue: not overdue the day it
    reopens, and the sweep sends no overdue notice or escalation about it."""
    w, contact, f = _scar(make, library, now)
    _to_plan_submitted(f, contact, now)
    fs.accept_response(f, actor=w.auditor, now=now)
    for action in f.actions:
        fs.complete_action(action, "Interlock fitted, photo attached", actor=contact, now=now)
    later = now + dt.timedelta(days=75)  # the issue's plan date (30 days) passed long ago
    fs.verify_effectiveness(f, effective=False, note="Porosity found again in lot 95",
                            actor=w.auditor, now=later)
    db.session.commit()
    today = later.date()
    assert f.scar_stage is ScarStage.ROOT_CAUSE
    assert f.current_deadline() == ("action_plan", today + SCAR_PLAN_DELAY)
    assert f.closure_due_on >= f.response_due_on
    assert not f.is_overdue(today)
    sweep_finding_deadlines(later)
    assert not _titles(contact, "finding_overdue") and not _titles(w.coordinator, "finding_escalated")
    client = login(contact)
    page = client.get(f"/scar/{f.id}").text
    assert "Your actions were verified not effective: Porosity found again in lot 95" in page
    assert f"<dt>Action plan due</dt><dd>{today + SCAR_PLAN_DELAY:%d %b %Y}</dd>" in page

    # The new plan is rejected in turn: the page now says why the plan was refused.
    _plan(f, contact, later)
    fs.reject_response(f, "Interlock alone does not stop it", actor=w.auditor, now=later)
    db.session.commit()
    page = client.get(f"/scar/{f.id}").text
    assert "Your previous response was not accepted: Interlock alone does not stop it" in page
    assert "Porosity found again" not in page


def test_rejected_scar_response_reopens_root_cause_and_plan_with_fresh_dates(app, make, library, now):
    """A response rejected after the issue's root-cause and plan dates passed gives the supplier
    14 days for the root cause and 30 for the plan from the rejection, as at issue."""
    w, contact, f = _scar(make, library, now)
    _to_plan_submitted(f, contact, now)
    later = now + dt.timedelta(days=40)
    fs.reject_response(f, "Root cause too shallow", actor=w.auditor, now=later)
    db.session.commit()
    today = later.date()
    assert f.scar_stage is ScarStage.CONTAINMENT
    assert f.current_deadline() == ("root_cause", today + SCAR_STAGE_DELAYS["root_cause"])
    assert f.response_due_on == today + SCAR_PLAN_DELAY and not f.is_overdue(today)
    assert f"By: {today + SCAR_STAGE_DELAYS['root_cause']:%d %b %Y} (root cause deadline)" in (
        db.session.scalars(select(Notification.body).where(
            Notification.user_id == contact.id, Notification.kind == "finding_decided")).one())
