"""The deadline sweep tells the person whose turn it is, and climbs the ladder that turn's own.

A finding's deadline keeps running while the audit side reviews a response or verifies the
actions; when it passes then, the overdue notice goes to the reviewer or verifier (the person
"Waiting for me" lists it for), not to the owner who has nothing left to do, and the unit
owner -- the auditee's line manager -- is skipped on the way to the coordinators. Actions are
reminded only once they can be worked on, an owner who also owns the unit hears once, and an
administrator's blanket rights put nothing on their list.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import escalation_ladder
from audit.findings.waiting import waiting_for
from audit.models import Finding, Grade, Notification, Role, TrailEntry
from tests.findings.helpers import draft, response_kwargs, to_status, world


def _sweep(app, when: dt.datetime) -> dict:
    """The registered sweep job at ``when`` (it commits in its own session, as the scheduler's)."""
    from audit.core.registry import registry

    job = next(j for j in registry(app).jobs if j.id == "finding_deadlines")
    db.session.commit()
    counts = next(iter(job.function(app, when).values()))
    db.session.expire_all()
    return counts


def _notes(user, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt))


def _day(day: dt.date, plus: int) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=plus), dt.time(9, 30), tzinfo=dt.UTC)


def _steps(user, when) -> set[tuple[str, str]]:
    return {(i.step, i.finding.reference) for i in waiting_for(user, when)}


def test_a_late_verification_is_the_verifiers_turn_not_the_owners(app, make, library, now):
    w = world(make, library)
    boss = make.user(roles=(Role.AUDITEE,), name="Bea Boss")
    top = make.user(roles=(Role.VIEWER,), name="Tom Management")
    doer = make.user(roles=(Role.AUDITEE,), name="Dora Doer")
    w.unit.owner = boss  # the owner's line manager: the ladder's first rung, for the owner's turn only
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, actions=[
        {"kind": "corrective", "description": "Add tool type to plan",
         "due_on": now.date() + dt.timedelta(days=20), "owner": doer}]))
    fs.accept_response(f, actor=w.auditor, now=now)
    fs.complete_action(f.actions[0], "Plan rev. 7 signed", actor=doer, now=now)
    assert f.status.value == "pending_verification"
    due = f.closure_due_on
    seen = {u.id: len(_notes(u)) for u in (w.owner, boss, w.auditor, w.coordinator, top, doer)}

    late = _day(due, 1)
    assert _sweep(app, late)["overdue"] == 1
    [notice] = _notes(w.auditor, "finding_overdue")
    assert "Verify the effectiveness of the actions" in notice.body
    assert "extension" not in notice.body  # the verifier has no deadline of their own to extend
    for person in (w.owner, boss, doer, w.coordinator, top):
        assert len(_notes(person)) == seen[person.id], person.name  # nothing asked of them
    assert _steps(w.auditor, late) == {("verify", f.reference)}

    ladder = dict((level, days) for days, level in escalation_ladder())
    _sweep(app, _day(due, ladder["unit_owner"]))
    assert _notes(boss, "finding_escalated") == []  # the auditee's manager cannot verify
    assert _steps(boss, _day(due, ladder["unit_owner"])) == set()
    _sweep(app, _day(due, ladder["coordinators"]))
    [escalation] = _notes(w.coordinator, "finding_escalated")
    assert f"audit side ({w.auditor.name})" in escalation.body
    assert _steps(w.coordinator, _day(due, ladder["coordinators"])) == {("escalated", f.reference)}
    _sweep(app, _day(due, ladder["top_management"]))
    assert len(_notes(top, "finding_escalated")) == 1
    assert _notes(w.owner, "finding_escalated") == _notes(w.auditor, "finding_escalated") == []
    history = db.session.scalars(select(TrailEntry.summary).where(
        TrailEntry.object_type == "Finding", TrailEntry.object_id == f.id,
        TrailEntry.action == "escalate").order_by(TrailEntry.id)).all()
    assert [h.split(":")[0] for h in history] == ["Escalated to the coordinators", "Escalated to top management"]


def test_a_response_under_review_is_the_reviewers_turn_and_its_actions_wait(app, make, library, now):
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, actions=[
        {"kind": "corrective", "description": "Add tool type to plan",
         "due_on": f.closure_due_on - dt.timedelta(days=1), "owner": w.owner}]))
    assert f.status.value == "response_submitted"
    before = len(_notes(w.owner))

    counts = _sweep(app, _day(f.closure_due_on, 1))
    assert counts["action_reminders"] == 0  # the actions cannot be worked on before the review
    [notice] = _notes(w.auditor, "finding_overdue")
    assert "Review the submitted response" in notice.body
    assert len(_notes(w.owner)) == before


def test_an_issued_nonconformity_without_owner_is_the_leads_to_assign(app, make, library, now):
    w = world(make, library)
    w.unit.owner = None
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.owner is None and f.response_due_on is not None

    assert _sweep(app, _day(f.response_due_on, 1))["overdue"] >= 1
    [notice] = _notes(w.auditor, "finding_overdue")
    assert "Name an owner who can answer the finding" in notice.body
    assert _steps(w.auditor, _day(f.response_due_on, 1)) == {("assign", f.reference)}


def test_an_owner_who_owns_the_unit_hears_once_per_step(app, make, library, now):
    w = world(make, library)  # Olga owns the unit and is made the finding's owner too
    f = draft(w, Grade.MAJOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    due = f.response_due_on
    ladder = dict((level, days) for days, level in escalation_ladder())

    _sweep(app, _day(due, 1))
    _sweep(app, _day(due, ladder["unit_owner"]))
    assert len(_notes(w.owner, "finding_overdue")) == 1
    assert _notes(w.owner, "finding_escalated") == []
    assert not db.session.scalar(select(TrailEntry.id).where(
        TrailEntry.object_type == "Finding", TrailEntry.object_id == f.id, TrailEntry.action == "escalate"))
    assert _steps(w.owner, _day(due, ladder["unit_owner"])) == {("respond", f.reference)}


def test_an_administrators_blanket_rights_put_nothing_on_their_list(app, make, library, now):
    w = world(make, library)
    admin = make.user(roles=(Role.ADMIN,), name="Alex Admin")
    f = draft(w, Grade.MINOR, now=now)
    f.owner = w.owner
    fs.issue_finding(f, actor=w.auditor, now=now)
    ofi = to_status(w, draft(w, Grade.OFI, now=now), "issued", now=now)
    db.session.commit()

    assert {s for s, _ref in _steps(w.owner, now)} == {"respond", "decide"}
    assert _steps(admin, now) == set()
    assert db.session.get(Finding, f.id).status.value == "awaiting_response" and ofi.status.value == "issued"
