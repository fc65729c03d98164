"""Journeys with the clock moved through the deadlines: the scheduler's own sweep job runs at
each step (twice: the second run sends nothing), the pages run at the same moment, and

- a SCAR's page, the sweep's notices, the supplier's SCAR list and the supplier's approval
  status name the same stage dates, stage after stage;
- an overdue finding climbs the escalation ladder owner → unit owner → coordinators → top
  management, one step at a time and once per step, each step landing on the to-do list of the
  people it reached; every person gets exactly one notification per event that concerns them.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from audit.core.registry import registry
from audit.extensions import db
from audit.findings.reminders import escalation_ladder
from audit.models import ApprovalStatus, AuditKind, Finding, Role, Supplier, TrailEntry
from tests.findings.helpers import world
from tests.findings.test_journey import Journey, _ref


def _sweep(app, clock):
    """The registered "finding_deadlines" job at the clock's time, run twice: the second run
    must queue nothing (each notice is sent once)."""
    job = next(j for j in registry(app).jobs if j.id == "finding_deadlines")
    db.session.commit()  # the job works in its own session, as in the scheduler process
    first = job.function(app, clock.now)
    second = job.function(app, clock.now)
    db.session.expire_all()
    counts = next(iter(second.values()))
    assert not any(counts[k] for k in ("reminders", "overdue", "escalations", "action_reminders")), second
    return next(iter(first.values()))


def _at(clock, day: dt.date, *, plus: int = 0):
    """Move the clock to 09:30 UTC on ``day`` + ``plus`` days (a working morning in Berlin)."""
    clock.now = dt.datetime.combine(day + dt.timedelta(days=plus), dt.time(9, 30), tzinfo=dt.UTC)
    return clock.now


def _titles(user, since_id=0):
    from audit.models import Notification

    return [n.title for n in db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.id > since_id).order_by(Notification.id))]


def test_scar_dates_agree_on_page_sweep_list_and_approval_status(app, make, library, login, clock):
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    j = Journey(login, {"lead": w.auditor, "supplier": contact, "coordinator": w.coordinator})
    j.post("lead", "/findings/new", {"audit_id": w.audit.id, "grade": "minor", "statement": "Porous castings",
                                     "evidence": "X-ray lot 88", "clauses": "8.5.1"})
    f = _ref("Porous castings")
    j.post("lead", f"/findings/{f.id}/issue", {})
    j.expect_notes(supplier={"finding_issued": 1})
    dates = f.scar_due_dates()
    page = j.login(contact).get(f"/scar/{f.id}").text
    for name, label in (("containment", "Containment"), ("root_cause", "Root cause"),
                        ("action_plan", "Action plan")):
        assert f"<dt>{label} due</dt><dd>{dates[name]:%d %b %Y}</dd>" in page, name

    def overdue_stage(name, label, *, recovered_since_last=False):
        """Past the stage's date: the notice, the list, the to-do and the probation agree; the
        coordinators and the supplier's contact hear of the probation (and of the recovery before
        it, if any)."""
        day = f"{dates[name]:%d %b %Y}"
        _at(clock, dates[name], plus=1)
        counts = _sweep(app, clock)
        assert counts["overdue"] == 1
        changes = 2 if recovered_since_last else 1
        j.expect_notes(supplier={"finding_overdue": 1, "own_supplier_status": changes},
                       coordinator={"supplier_status": changes})
        assert _titles(w.coordinator)[-1] == f"Supplier on probation: {supplier.name}"
        assert _titles(contact)[-2:] == [f"{f.grade.label} {f.reference}: {label.lower()} overdue since {day}",
                                         f"{supplier.name} is on probation"]
        listing = j.login(contact).get("/scar/").text
        assert re.search(rf"{day}\s*<span class=\"pill bad\">overdue</span>", listing), listing
        assert db.session.get(Supplier, supplier.id).approval_status is ApprovalStatus.ON_PROBATION
        why = db.session.scalars(select(TrailEntry).where(TrailEntry.object_type == "Supplier")
                                 .order_by(TrailEntry.id.desc())).first()
        assert f"({label.lower()} due {day})" in why.summary, why.summary
        [item] = [i for i in j.waiting("supplier")]
        return item

    assert overdue_stage("containment", "Containment") == ("acknowledge", f.reference)
    j.post("supplier", f"/scar/{f.id}/acknowledge", {})
    j.post("supplier", f"/scar/{f.id}/containment", {"d3-containment": "Lots 88-91 blocked"})
    j.expect_notes(lead={"scar_progress": 2})
    counts = _sweep(app, clock)  # caught up: back to approved the same day
    assert counts["suppliers_changed"] == 1
    assert db.session.get(Supplier, supplier.id).approval_status is ApprovalStatus.APPROVED

    assert overdue_stage("root_cause", "Root cause", recovered_since_last=True) == ("root_cause", f.reference)
    j.post("supplier", f"/scar/{f.id}/root-cause", {
        "d4-root_cause_method": "ishikawa", "d4-ishikawa_method": "Degassing time not in the instruction",
        "d4-root_cause": "Degassing time not controlled", "d4-root_cause_category": "method",
        "d4-extent_check": "All furnaces"})
    j.expect_notes(lead={"scar_progress": 1})
    _sweep(app, clock)
    assert db.session.get(Supplier, supplier.id).approval_status is ApprovalStatus.APPROVED

    assert overdue_stage("action_plan", "Action plan", recovered_since_last=True) == ("plan", f.reference)
    due = (clock.now.date() + dt.timedelta(days=10)).isoformat()
    j.post("supplier", f"/scar/{f.id}/plan", {"d5-action1_kind": "corrective",
                                              "d5-action1_description": "Timer interlock", "d5-action1_due_on": due})
    # The plan clears the overdue stage: back to approved at once, and the coordinators hear it.
    j.expect_notes(lead={"finding_to_review": 1}, coordinator={"supplier_status": 1},
                   supplier={"own_supplier_status": 1})
    assert _titles(w.coordinator)[-1] == f"Supplier approved: {supplier.name}"
    j.post("lead", f"/findings/{f.id}/accept", {})
    j.expect_notes(supplier={"finding_decided": 1})
    _sweep(app, clock)
    assert db.session.get(Supplier, supplier.id).approval_status is ApprovalStatus.APPROVED
    j.expect_notes()
    # the action's own date: a reminder before it, naming the date the SCAR page's table shows
    f = db.session.get(Finding, f.id)
    action = f.actions[0]
    _at(clock, action.due_on, plus=-1)
    assert _sweep(app, clock)["action_reminders"] == 1
    j.expect_notes(supplier={"action_due": 1})
    assert _titles(contact)[-1] == f"Action on {f.reference} due {action.due_on:%d %b %Y}"
    assert f">{action.due_on:%d %b %Y}</td>" in j.login(contact).get(f"/scar/{f.id}").text


def test_escalation_climbs_the_ladder_once_per_step(app, make, library, now, login, clock):
    """An unanswered major: reminded before, overdue on the day after, then the unit owner,
    the coordinators and top management at their steps — one notice each, none repeated, and
    the escalated finding on each reached person's to-do list until it is answered."""
    w = world(make, library)
    boss = make.user(roles=(Role.AUDITEE,), name="Bea Boss")
    top = make.user(roles=(Role.VIEWER,), name="Tom Management")
    j = Journey(login, {"lead": w.auditor, "owner": w.owner, "boss": boss, "coordinator": w.coordinator,
                        "top": top})
    j.post("lead", "/findings/new", {"audit_id": w.audit.id, "grade": "major", "statement": "No calibration",
                                     "evidence": "Wrench 7 overdue", "clauses": "8.5.1"})
    f = _ref("No calibration")
    j.post("lead", f"/findings/{f.id}/issue", {})
    j.expect_notes(owner={"finding_issued": 1})
    # The unit gets a new head, above the finding's owner: the ladder's first step. As the
    # unit's owner she may answer too, so the finding waits for her from now on.
    db.session.get(type(w.unit), w.unit.id).owner_id = boss.id
    db.session.commit()
    due = f.response_due_on
    respond = ("respond", f.reference)
    escalated = ("escalated", f.reference)

    _at(clock, due, plus=-3)
    assert _sweep(app, clock)["reminders"] == 1
    j.expect_notes(owner={"finding_due_soon": 1})  # the owner answers: the reminder is theirs
    j.expect_waiting(owner={respond}, boss={respond})
    _at(clock, due, plus=1)
    assert _sweep(app, clock)["overdue"] == 1
    j.expect_notes(owner={"finding_overdue": 1})
    j.expect_waiting(owner={respond}, boss={respond})
    reached = {"unit_owner": "boss", "coordinators": "coordinator", "top_management": "top"}
    on_list = {"owner": {respond}, "boss": {respond}}
    for days, level in escalation_ladder():
        _at(clock, due, plus=days - 1)
        assert _sweep(app, clock)["escalations"] == 0  # not yet
        j.expect_notes()
        _at(clock, due, plus=days)
        assert _sweep(app, clock)["escalations"] == 1
        j.expect_notes(**{reached[level]: {"finding_escalated": 1}})
        if level != "unit_owner":  # the unit owner has it to answer already: one item
            on_list[reached[level]] = {escalated}
        j.expect_waiting(**on_list)
    history = db.session.scalars(select(TrailEntry.summary).where(
        TrailEntry.object_type == "Finding", TrailEntry.object_id == f.id,
        TrailEntry.action == "escalate").order_by(TrailEntry.id)).all()
    assert [h.split(":")[0] for h in history] == ["Escalated to the unit owner", "Escalated to the coordinators",
                                                  "Escalated to top management"]
    # the page says it too: escalation history on the finding
    page = j.login(w.coordinator).get(f"/findings/{f.id}").text
    assert "Escalated to top management" in page

    # answered late: the escalation leaves everyone's list, the lead reviews
    j.post("owner", f"/findings/{f.id}/respond", {
        "respond-containment": "Wrench 7 withdrawn", "respond-extent_check": "All wrenches checked",
        "respond-root_cause_method": "five_whys", "respond-why1": "Wrench not in plan",
        "respond-why2": "New tool type", "respond-why3": "Plan not updated on purchase",
        "respond-root_cause": "Purchasing does not update the calibration plan",
        "respond-root_cause_category": "method", "respond-action1_kind": "corrective",
        "respond-action1_description": "Link purchasing to the plan",
        "respond-action1_due_on": f.closure_due_on.isoformat(),
        "respond-action1_owner_id": 0})
    j.expect_notes(lead={"finding_to_review": 1})
    f = db.session.get(Finding, f.id)
    assert f.closure_due_on >= clock.now.date()  # the closure deadline is still ahead
    j.expect_waiting(lead={("accept", f.reference)})
