"""An extension asks for a day still ahead, in the words of the person asking: a date already
past would leave the deadline overdue the moment it is approved."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import sweep_finding_deadlines
from audit.models import ActionKind, Grade
from tests.findings.helpers import draft, response_kwargs, to_status, world


def test_an_extension_to_a_day_already_past_is_refused(app, make, library, now):
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    overdue_since = f.response_due_on
    later = dt.datetime.combine(overdue_since + dt.timedelta(days=10), dt.time(9), tzinfo=dt.UTC)
    with pytest.raises(DomainError) as refused:
        fs.request_extension(f, deadline="response", new_due_on=overdue_since + dt.timedelta(days=5),
                             reason="Supplier of the gauge is late", actor=w.owner, now=later)
    assert refused.value.field == "new_due_on"
    assert "must be after today" in refused.value.message
    ext = fs.request_extension(f, deadline="response", new_due_on=later.date() + dt.timedelta(days=7),
                               reason="Supplier of the gauge is late", actor=w.owner, now=later)
    assert ext.requested_due_on == later.date() + dt.timedelta(days=7)


def test_a_scar_names_its_deadlines_as_the_supplier_knows_them(app, make, library, now):
    from audit.models import AuditKind, Role

    supplier = make.supplier(name="Precision Castings")
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.is_scar
    with pytest.raises(DomainError) as refused:
        fs.request_extension(f, deadline="response", new_due_on=f.response_due_on,
                             reason="Foundry shutdown", actor=contact, now=now)
    assert "current action plan deadline" in refused.value.message


def test_once_the_response_is_accepted_only_the_closure_can_be_extended(app, make, library, now, login):
    """An accepted response's date is history: a 'response' extension approved then moved the
    closure by as many days, unseen. The page offers the closure only, and the service says why."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    to_status(w, f, "action_in_progress", now=now)
    with pytest.raises(DomainError) as refused:
        fs.request_extension(f, deadline="response", new_due_on=f.closure_due_on + dt.timedelta(days=20),
                             reason="More time", actor=w.owner, now=now)
    assert refused.value.field == "deadline" and "given already" in refused.value.message
    db.session.commit()
    page = login(w.owner).get(f"/findings/{f.id}").get_data(as_text=True)
    options = page.split('name="ext-deadline"')[1].split("</select>")[0]
    assert 'value="closure"' in options and 'value="response"' not in options


def test_actions_not_effective_give_an_internal_finding_a_fresh_closure_date(app, make, library, now):
    """Verified not effective near its closure date, an internal finding kept the old date: the
    owner, asked to plan further actions, was refused any due after it, and the sweep escalated
    the finding as overdue days later. Its closure is now due afresh, never brought forward."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    to_status(w, f, "pending_verification", now=now)
    old_closure = f.closure_due_on
    late = dt.datetime.combine(old_closure - dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
    fs.verify_effectiveness(f, effective=False, note="Scrap rate unchanged", actor=w.auditor, now=late)
    assert f.closure_due_on > old_closure
    fs.add_action(f, kind=ActionKind.CORRECTIVE, description="Poka-yoke on the fixture",
                  due_on=late.date() + dt.timedelta(days=30), owner=w.owner, actor=w.owner, now=late)
    db.session.commit()
    counts = sweep_finding_deadlines(late + dt.timedelta(days=15))
    assert counts["overdue"] == counts["escalations"] == 0


def test_a_request_the_finding_moved_past_is_not_approved(app, make, library, now):
    """Asked while the response was due, approved after it was accepted: the closure moved by
    as many days, unseen. Asked for the closure, approved after "not effective" re-dated it:
    the old request's date would bring the closure forward. Both are refused; rejecting works."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    asked = fs.request_extension(f, deadline="response", new_due_on=f.response_due_on + dt.timedelta(days=10),
                                 reason="Team on leave", actor=w.owner, now=now)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    fs.accept_response(f, actor=w.auditor, now=now)
    closure = f.closure_due_on
    with pytest.raises(DomainError, match="was given since this request"):
        fs.decide_extension(asked, approve=True, note=None, actor=w.coordinator, now=now)
    assert f.closure_due_on == closure
    fs.decide_extension(asked, approve=False, note="Answered in time after all", actor=w.coordinator, now=now)

    later = now + dt.timedelta(days=5)
    closure_request = fs.request_extension(f, deadline="closure", new_due_on=closure + dt.timedelta(days=7),
                                           reason="Parts late", actor=w.owner, now=later)
    for action in f.actions:
        fs.complete_action(action, "Done", actor=w.owner, now=later)
    verified = closure_at(closure)
    fs.verify_effectiveness(f, effective=False, note="Still recurring", actor=w.auditor, now=verified)
    redated = f.closure_due_on
    with pytest.raises(DomainError, match="deadline changed since this request"):
        fs.decide_extension(closure_request, approve=True, note=None, actor=w.coordinator, now=verified)
    assert f.closure_due_on == redated > closure


def closure_at(day: dt.date) -> dt.datetime:
    """Nine o'clock UTC two days before ``day``."""
    return dt.datetime.combine(day - dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
