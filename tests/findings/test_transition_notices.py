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


def test_reassigning_a_finding_tells_the_new_and_the_previous_owner(app, make, library, now):
    """The new owner is asked to answer; the previous owner learns it is no longer theirs."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    later = now + dt.timedelta(minutes=1)
    notes = _step(lambda: fs.assign_owner(f, w.other_auditee, actor=w.coordinator, now=later))
    assert notes == {(w.other_auditee.id, "finding_assigned"): 1, (w.owner.id, "finding_assigned"): 1}
    told = {n.user_id: n for n in _new_notes(_last_id() - 2)}
    assert "gave" in told[w.owner.id].title and "another owner" in told[w.owner.id].title
    assert f"New owner: {w.other_auditee.name}" in told[w.owner.id].body
    assert "made you the owner" in told[w.other_auditee.id].title
    # back to the first owner: the roles swap, the actor hears nothing
    again = _step(lambda: fs.assign_owner(f, w.owner, actor=w.auditor, now=later + dt.timedelta(minutes=1)))
    assert again == {(w.owner.id, "finding_assigned"): 1, (w.other_auditee.id, "finding_assigned"): 1}


def _acting(w, now, *owners):
    """A minor in progress with one open action per owner."""
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    kw = response_kwargs(w, now)
    kw["actions"] = [{"kind": kw["actions"][0]["kind"], "description": f"Step {i}",
                      "due_on": now.date() + dt.timedelta(days=20 + i), "owner": owner}
                     for i, owner in enumerate(owners)]
    fs.submit_response(f, actor=w.owner, now=now, **kw)
    fs.accept_response(f, actor=w.auditor, now=now)
    return f


def test_reassigning_an_action_tells_the_new_and_the_previous_owner(app, make, library, now):
    w = world(make, library)
    doer, next_doer = make.user(name="Dora Doer"), make.user(name="Nico Next")
    f = _acting(w, now, doer, w.owner)
    action = next(a for a in f.actions if a.owner_id == doer.id)
    later = now + dt.timedelta(minutes=1)
    notes = _step(lambda: fs.reassign_action(action, next_doer, actor=w.owner, now=later))
    assert notes == {(next_doer.id, "finding_assigned"): 1, (doer.id, "finding_assigned"): 1}
    old = next(n for n in _new_notes(_last_id() - 2) if n.user_id == doer.id)
    assert "gave your action" in old.title and "now with Nico Next" in old.body


def test_withdrawing_an_action_tells_its_owner_and_the_finding_owner_not_the_actor(app, make, library, now):
    w = world(make, library)
    doer = make.user(name="Dora Doer")
    f = _acting(w, now, doer, w.owner)
    action = next(a for a in f.actions if a.owner_id == doer.id)
    later = now + dt.timedelta(minutes=1)
    by_auditor = _step(lambda: fs.remove_action(action, "Covered by step 1", actor=w.auditor, now=later))
    assert by_auditor == {(doer.id, "finding_decided"): 1, (w.owner.id, "finding_decided"): 1}
    body = _new_notes(_last_id() - 1)[0].body
    assert "Reason: Covered by step 1" in body and "Action: Step 0" in body
    # withdrawn by the finding's owner: only the action's owner hears
    second = fs.add_action(f, kind=action.kind, description="Step 2", due_on=now.date() + dt.timedelta(days=30),
                           owner=doer, actor=w.owner, now=later)
    by_owner = _step(lambda: fs.remove_action(second, "Not needed", actor=w.owner, now=later))
    assert by_owner == {(doer.id, "finding_decided"): 1}


def test_recording_a_cost_tells_the_finding_owner_and_the_coordinators(app, make, library, now):
    """Owners bear and coordinators report the cost of poor quality; the audit team is not told,
    the person who recorded it neither, and a preference turning the kind off is honoured."""
    from audit.models import CostCategory

    w = world(make, library)
    other_coordinator = make.user(roles=w.coordinator.roles, name="Carl Coordinator")
    db.session.add(NotificationPreference(user_id=other_coordinator.id, kind="finding_cost",
                                          in_app=False, email=False))
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    notes = _step(lambda: fs.add_cost(f, category=CostCategory.SCRAP, amount="120.50", currency="EUR",
                                      incurred_on=now.date(), actor=w.auditor, now=now))
    assert notes == {(w.owner.id, "finding_cost"): 1, (w.coordinator.id, "finding_cost"): 1,
                     (other_coordinator.id, "finding_cost"): 1}
    muted = db.session.scalar(select(Notification).where(Notification.user_id == other_coordinator.id))
    assert muted.read_at is not None and not muted.email_wanted  # kept, never unread, no e-mail
    assert "Scrap 120.50 EUR" in _new_notes(_last_id() - 1)[0].body
    # a second cost at the same moment is told too; the owner recording it is not told
    notes = _step(lambda: fs.add_cost(f, category=CostCategory.REWORK, amount="10", currency="EUR",
                                      incurred_on=now.date(), actor=w.owner, now=now))
    assert notes == {(w.coordinator.id, "finding_cost"): 1, (other_coordinator.id, "finding_cost"): 1}


def test_a_cost_on_a_scar_is_not_told_to_the_supplier(app, make, library, now):
    """Costs are internal figures: on a SCAR the supplier's contacts are not told, the
    coordinators are."""
    from audit.models import AuditKind, CostCategory, Role

    supplier = make.supplier(name="Precision Castings")
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    notes = _step(lambda: fs.add_cost(f, category=CostCategory.SCRAP, amount="120.50", currency="EUR",
                                      incurred_on=now.date(), actor=w.auditor, now=now))
    assert (contact.id, "finding_cost") not in notes
    assert notes[(w.coordinator.id, "finding_cost")] == 1
