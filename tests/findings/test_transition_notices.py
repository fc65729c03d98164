"""Every transition tells the people it concerns, once, with what happened, what is expected and
by when; the actor is never told about their own step; preferences and e-mail parts hold."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.models import Grade, Notification, NotificationPreference
from audit.notifications.email import build_message
from tests.findings.helpers import draft, response_kwargs, world


def _new_notes(since: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.id > since).order_by(Notification.id)))


def _last_id() -> int:
    return db.session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0


def _step(call) -> Counter:
    """Run one transition; return {(user id, kind): count} of the notifications it queued."""
    before = _last_id()
    call()
    return Counter((n.user_id, n.kind) for n in _new_notes(before))


def test_a_minor_walked_through_tells_each_concerned_person_once(app, make, library, now):
    """Issue, respond, reject, respond, accept, implement, close: each step reaches exactly the
    people it concerns, and nobody hears about their own step."""
    w = world(make, library)
    doer = make.user(name="Dora Doer", roles=w.owner.roles)
    f = draft(w, Grade.MINOR, now=now)
    assert _step(lambda: fs.issue_finding(f, actor=w.auditor, now=now)) == {(w.owner.id, "finding_issued"): 1}
    kw = response_kwargs(w, now)
    kw["actions"][0]["owner"] = doer
    assert _step(lambda: fs.submit_response(f, actor=w.owner, now=now, **kw)) == {
        (w.auditor.id, "finding_to_review"): 1}
    assert _step(lambda: fs.reject_response(f, "Cause too shallow", actor=w.auditor, now=now)) == {
        (w.owner.id, "finding_decided"): 1}
    assert "Reason: Cause too shallow" in _new_notes(_last_id() - 1)[0].body
    later = now + dt.timedelta(minutes=5)
    kw = response_kwargs(w, later)
    kw["actions"][0]["owner"] = doer
    assert _step(lambda: fs.submit_response(f, actor=w.owner, now=later, **kw)) == {
        (w.auditor.id, "finding_to_review"): 1}
    assert _step(lambda: fs.accept_response(f, actor=w.auditor, now=later)) == {
        (w.owner.id, "finding_decided"): 1, (doer.id, "finding_decided"): 1}
    action = next(a for a in f.actions if a.owner_id == doer.id and a.status.value == "open")
    assert _step(lambda: fs.complete_action(action, "Plan rev. 7", actor=doer, now=later)) == {
        (w.auditor.id, "finding_to_review"): 1}
    assert _step(lambda: fs.close_finding(f, note="Seen plan rev. 7", actor=w.auditor, now=later)) == {
        (w.owner.id, "finding_decided"): 1}


def test_extension_request_and_decision_reach_coordinator_and_requester(app, make, library, now):
    """An extension request reaches the coordinators; the decision reaches the requester."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    asked = _step(lambda: fs.request_extension(f, deadline="response", new_due_on=f.response_due_on
                                               + dt.timedelta(days=10), reason="Audit of supplier first",
                                               actor=w.owner, now=now))
    assert asked == {(w.coordinator.id, "finding_to_review"): 1}
    ext = f.extensions[0]
    decided = _step(lambda: fs.decide_extension(ext, approve=True, note=None, actor=w.coordinator, now=now))
    assert decided == {(w.owner.id, "finding_decided"): 1}


def test_finding_owned_by_someone_who_cannot_answer_is_flagged_to_the_coordinator(app, make, library, now):
    """Auto-owned by a unit owner without the auditee capability: the coordinators hear at issue."""
    w = world(make, library)
    w.unit.owner = w.coordinator
    f = fs.raise_finding(w.audit, grade=Grade.MINOR, statement="Quotes unsigned", evidence="3 of 5",
                         clauses=[w.clause], unit=w.unit, actor=w.auditor, now=now)
    assert f.owner is w.coordinator
    notes = _step(lambda: fs.issue_finding(f, actor=w.auditor, now=now))
    assert notes[(w.coordinator.id, "finding_stranded")] == 1


def test_transition_email_says_what_happened_what_is_expected_by_when_with_link(app, make, library, now):
    """The e-mail has a plain-text part and an HTML part, both with the three lines and the link."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    note = db.session.scalar(select(Notification).where(Notification.kind == "finding_to_review"))
    msg = build_message(note)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert f"submitted the response to {Grade.MINOR.label} {f.reference}" in part
        assert "accept it or reject it" in part
        assert f"{f.closure_due_on:%d %b %Y}" in part
        assert f"/findings/{f.id}" in part
    assert "What is expected of you:" in text and "<b>By:</b>" in html


def test_preferences_are_respected(app, make, library, now):
    """Someone who turned e-mail off for a kind still sees it in the app, with no e-mail waiting."""
    w = world(make, library)
    db.session.add(NotificationPreference(user_id=w.owner.id, kind="finding_issued", in_app=True, email=False))
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    note = db.session.scalar(select(Notification).where(Notification.user_id == w.owner.id))
    assert note.kind == "finding_issued" and not note.email_wanted and note.read_at is None
