"""Whose turn an audit is (journey 7): audits the coordinators must act on are in their "waiting
for me" with the deadline the sweeps use; a trigger audit is announced to them; a lead's lapsing
qualification is noticed before the audit day, and on the day the refused start is not silent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.audits.reminders import send_overdue_audits
from audit.audits.services import change_status
from audit.audits.staffing_watch import send_staffing_warnings
from audit.audits.waiting import PLACING_DAYS, waiting_source
from audit.conduct.answers import save_answer
from audit.conduct.lifecycle import REFUSED
from audit.core.registry import registry
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.models import (
    AuditKind,
    AuditStatus,
    ChecklistAnswer,
    Finding,
    FindingStatus,
    Grade,
    Notification,
    QualificationLevel,
    Role,
    TeamRole,
    TrailEntry,
)
from audit.programme.triggers import record_trigger
from tests.journey import at

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # Tuesday 10 March 2026 (the test clock)


@pytest.fixture
def people(app, make):
    """A coordinator, an administrator, a qualified lead and the standard they audit."""
    std = make.standard()
    lead = make.user(name="Lena Lead")
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    people = {"std": std, "lead": lead, "coordinator": make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator"),
              "admin": make.user(roles=(Role.ADMIN,), name="Adam Admin"), "auditor": make.user(name="Ari Auditor")}
    db.session.commit()
    return people


def _notes(kind: str) -> list[tuple[str, str]]:
    stmt = select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    return [(n.user.name, n.title) for n in db.session.scalars(stmt)]


def _audit_items(user, now=NOW) -> dict[str, tuple]:
    """The user's "audits" items through every registered source: reference → (step, due, overdue)."""
    return {t.key: (t.step, t.due_on, t.overdue) for t in waiting_for(user, now) if t.source == "audits"}


def _scheduled(make, people, start: dt.datetime, *, lead=None):
    return make.audit(status=AuditStatus.SCHEDULED, starts_at=start, ends_at=start + dt.timedelta(hours=8),
                      standards=[people["std"]], team=[(lead or people["lead"], TeamRole.LEAD)])


def _lapse(make, people, until: dt.date):
    """A lead whose lead qualification ends on ``until``."""
    lead = make.user(name="Lars Lapsing")
    make.qualification(lead, people["std"], level=QualificationLevel.LEAD, valid_until=until)
    return lead


# --- D1: audits that need the coordinator ------------------------------------------------------

def test_overdue_audits_wait_for_the_coordinator_on_the_day_the_sweep_names(people, make):
    """A dated audit whose day passed unstarted, and an undated one whose planned day passed: the
    overdue sweep escalates to the coordinator, and both are the coordinator's items with the
    day the notice names; nobody else's (not the administrator's, not the lead's)."""
    dated = _scheduled(make, people, NOW - dt.timedelta(days=3))
    undated = make.audit(planned_date=dt.date(2026, 3, 2))
    make.audit(planned_date=dt.date(2026, 6, 20))  # not due yet, nor near enough to place
    db.session.commit()
    assert send_overdue_audits(now=NOW) == 2
    items = _audit_items(people["coordinator"])
    assert items == {dated.reference: ("overdue", dt.date(2026, 3, 7), True),
                     undated.reference: ("overdue", dt.date(2026, 3, 2), True)}
    bodies = [n.body for n in db.session.scalars(select(Notification).where(Notification.kind == "audit_overdue"))]
    assert any("07 Mar 2026" in b for b in bodies) and any("02 Mar 2026" in b for b in bodies)
    for other in ("admin", "lead", "auditor"):
        assert _audit_items(people[other]) == {}, other


def test_audits_due_by_a_deadline_wait_until_they_have_a_lead_and_dates(people, make):
    """A follow-up or trigger audit due by a deadline: "staff and date", "name a lead" or "set the
    dates" until it has both, with its deadline; a certification body's audit needs no lead of
    ours; an audit without a deadline is not an item while its planned day is far off."""
    due = dt.date(2026, 4, 30)
    both = make.audit(due_by=due, planned_date=dt.date(2026, 4, 15))
    undated = make.audit(due_by=due, planned_date=dt.date(2026, 4, 15), team=[(people["lead"], TeamRole.LEAD)])
    unled = make.audit(due_by=due, planned_date=dt.date(2026, 4, 15), starts_at=NOW + dt.timedelta(days=9),
                       ends_at=NOW + dt.timedelta(days=9, hours=8))
    late = make.audit(due_by=dt.date(2026, 3, 9), planned_date=dt.date(2026, 3, 20))
    make.audit(kind=AuditKind.THIRD_PARTY, due_by=due, planned_date=dt.date(2026, 4, 15),
               starts_at=NOW + dt.timedelta(days=9), ends_at=NOW + dt.timedelta(days=9, hours=8))
    make.audit(planned_date=dt.date(2026, 6, 15))  # no deadline, planned beyond PLACING_DAYS
    db.session.commit()
    assert _audit_items(people["coordinator"]) == {
        both.reference: ("staff_and_date", due, False), undated.reference: ("set_dates", due, False),
        unled.reference: ("name_lead", due, False), late.reference: ("staff_and_date", dt.date(2026, 3, 9), True)}
    assert _audit_items(people["lead"]) == {}


def test_planned_audits_without_dates_or_lead_wait_once_their_day_is_near(people, make):
    """A planned audit with no deadline, whose planned day comes within ``PLACING_DAYS``, still
    without dates or without a lead: nobody else places it, so the coordinators have it, due on
    its planned day (a certification body's audit needs only its dates). Further off, or placed,
    it is not an item; the lead and the administrator never have it."""
    today = NOW.date()
    near, edge = today + dt.timedelta(days=40), today + dt.timedelta(days=PLACING_DAYS)
    start = at(today + dt.timedelta(days=30))
    nothing = make.audit(planned_date=near)
    undated = make.audit(planned_date=near, team=[(people["lead"], TeamRole.LEAD)])
    unled = make.audit(planned_date=near, starts_at=start, ends_at=start + dt.timedelta(hours=8))
    at_edge = make.audit(planned_date=edge)
    cb_undated = make.audit(kind=AuditKind.THIRD_PARTY, planned_date=near)
    make.audit(kind=AuditKind.THIRD_PARTY, planned_date=near, starts_at=start,
               ends_at=start + dt.timedelta(hours=8))  # the certification body brings its lead
    make.audit(planned_date=edge + dt.timedelta(days=1))  # not near yet
    make.audit(planned_date=near, starts_at=start, ends_at=start + dt.timedelta(hours=8),
               team=[(people["lead"], TeamRole.LEAD)])  # placed
    db.session.commit()
    assert _audit_items(people["coordinator"]) == {
        nothing.reference: ("staff_and_date", near, False), undated.reference: ("set_dates", near, False),
        unled.reference: ("name_lead", near, False), at_edge.reference: ("staff_and_date", edge, False),
        cb_undated.reference: ("set_dates", near, False)}
    for other in ("admin", "lead", "auditor"):
        assert _audit_items(people[other]) == {}, other


def test_coordinators_list_costs_the_same_queries_for_four_audits_or_twelve(people, make, count_queries):
    """Overdue, to staff (by a deadline or planned soon) and lapsed audits: the coordinator's list
    sends a fixed number of queries."""
    def add(n):
        for i in range(n):
            if i % 4 == 0:
                make.audit(planned_date=dt.date(2026, 3, 1))  # overdue
            elif i % 4 == 1:
                make.audit(due_by=dt.date(2026, 4, 30), planned_date=dt.date(2026, 4, 15))  # to staff
            elif i % 4 == 3:
                make.audit(planned_date=dt.date(2026, 4, 20))  # planned soon, nobody placed it
            else:
                _scheduled(make, people, NOW + dt.timedelta(days=10 + i),
                           lead=_lapse(make, people, dt.date(2026, 3, 15)))
        db.session.commit()

    coordinator_id = people["coordinator"].id
    add(4)
    db.session.expire_all()
    coordinator = db.session.get(type(people["coordinator"]), coordinator_id)
    with count_queries() as few:
        assert len(waiting_source(coordinator, NOW)) == 4
    add(8)
    db.session.expire_all()
    coordinator = db.session.get(type(people["coordinator"]), coordinator_id)
    with count_queries() as many:
        assert len(waiting_source(coordinator, NOW)) == 12
    assert many.count == few.count, many.statements


def test_a_supplier_trigger_tells_the_coordinators_once(people, make):
    """An incident at a supplier recorded by the administrator: the new audit is announced to
    the coordinator, with its deadline, and is their item; the person who recorded it is not
    told; a unit trigger tells the unit's owner and the coordinator, each once."""
    supplier = make.supplier(timezone="Europe/Berlin")
    make.programme()
    db.session.commit()
    trigger, joined = record_trigger({"kind": "incident", "title": "Cracked housings in lot 4711",
                                      "occurred_on": NOW.date(), "supplier_id": supplier.id},
                                     actor=people["admin"], now=NOW)
    db.session.commit()
    assert not joined
    audit = trigger.audit
    assert _notes("audit_triggered") == [("Cora Coordinator", f"Audit {audit.reference} to staff and date "
                                                              "by 09 May 2026")]
    note = db.session.scalars(select(Notification).where(Notification.kind == "audit_triggered")).one()
    assert "What is expected of you:" in note.body and "By: 09 May 2026" in note.body
    assert _audit_items(people["coordinator"])[audit.reference] == ("staff_and_date", dt.date(2026, 5, 9), False)
    # A unit's trigger: its owner and the coordinator; the coordinator who records one is not told.
    owner = make.user(roles=(Role.AUDITEE,), name="Olga Owner")
    unit = make.unit(owner=owner, name="Assembly")
    db.session.commit()
    unit_trigger, _ = record_trigger({"kind": "complaint", "title": "Wrong torque", "occurred_on": NOW.date(),
                                      "unit_id": unit.id}, actor=people["admin"], now=NOW)
    record_trigger({"kind": "complaint", "title": "Loose bolts", "occurred_on": NOW.date(), "unit_id": unit.id},
                   actor=people["coordinator"], now=NOW)
    told = [name for name, title in _notes("audit_triggered") if unit_trigger.audit.reference in title]
    assert sorted(told) == ["Cora Coordinator", "Olga Owner", "Olga Owner"]  # the owner hears of both


# --- D3: a qualification lapsing before the audit ----------------------------------------------

def test_a_lapsing_qualification_is_warned_once_and_waits_for_the_coordinator(people, make, app):
    """The lead's qualification ends three days before the audit: the reminder job warns the
    coordinator and the lead once, naming the expiry; the coordinator's item carries the audit's
    first day until the qualification is renewed. Audits beyond 30 days, or whose team is
    qualified, raise nothing."""
    lapsing = _lapse(make, people, dt.date(2026, 3, 27))
    soon = _scheduled(make, people, dt.datetime(2026, 3, 30, 7, tzinfo=dt.UTC), lead=lapsing)
    _scheduled(make, people, NOW + dt.timedelta(days=40), lead=_lapse(make, people, dt.date(2026, 3, 27)))
    _scheduled(make, people, NOW + dt.timedelta(days=12))
    db.session.commit()
    job = next(j for j in registry(app).jobs if j.id == "audit_reminders")
    assert job.function(app, NOW)["send_staffing_warnings"] == 2
    assert send_staffing_warnings(now=NOW + dt.timedelta(days=1)) == 0
    title = f"Team no longer qualified: {soon.reference} on 30 Mar 2026"
    assert sorted(_notes("audit_staffing")) == [("Cora Coordinator", title), ("Lars Lapsing", title)]
    note = db.session.scalars(select(Notification).where(Notification.kind == "audit_staffing")).first()
    assert "(expired 27 Mar 2026)" in note.body and "By: 30 Mar 2026" in note.body
    assert _audit_items(people["coordinator"]) == {soon.reference: ("restaff", dt.date(2026, 3, 30), False)}
    assert _audit_items(lapsing) == {}
    lapsing.qualifications[0].valid_until = dt.date(2027, 3, 27)
    db.session.commit()
    assert _audit_items(people["coordinator"]) == {}


def test_a_deactivated_team_member_is_warned_and_waits_for_the_coordinator(people, make, app):
    """The lead of an audit in twelve days leaves and their account is deactivated: the watch warns
    the coordinator at once (the lead can no longer be told), the coordinator's item names it, and
    a deactivated person covers no standard; re-staffing with an active lead ends the item."""
    leaving = make.user(name="Leo Leaving")
    make.qualification(leaving, people["std"], level=QualificationLevel.LEAD)
    audit = _scheduled(make, people, NOW + dt.timedelta(days=12), lead=leaving)
    db.session.commit()
    assert send_staffing_warnings(now=NOW) == 0
    leaving.is_active = False
    db.session.commit()
    assert send_staffing_warnings(now=NOW) == 1
    assert send_staffing_warnings(now=NOW + dt.timedelta(days=1)) == 0
    first = audit.local_dates()[0]
    assert _notes("audit_staffing") == [("Cora Coordinator", f"Team member deactivated: {audit.reference} on "
                                                             f"{first:%d %b %Y}")]
    note = db.session.scalars(select(Notification).where(Notification.kind == "audit_staffing")).one()
    assert "Leo Leaving's account is deactivated." in note.body
    assert "No lead or auditor in the team is qualified" in note.body
    step, due, _overdue = _audit_items(people["coordinator"])[audit.reference]
    assert (step, due) == ("restaff", first)
    audit.team[0].user = people["lead"]
    db.session.commit()
    assert _audit_items(people["coordinator"]) == {}


def test_a_refused_start_keeps_the_answers_and_is_reported_once(people, make):
    """On the audit day the lead's qualification has lapsed: answers are saved, the audit stays
    scheduled (the competence rule holds), and the refusal is in the trail and told to the
    coordinator and the lead once, however many answers follow."""
    from tests.conduct.conftest import build_checklist_version

    version, questions = build_checklist_version("Sales")
    lapsing = _lapse(make, people, dt.date(2026, 3, 12))
    audit = _scheduled(make, people, dt.datetime(2026, 3, 16, 8, tzinfo=dt.UTC), lead=lapsing)
    audit.checklist_version_id = version.id
    db.session.commit()
    on_the_day = dt.datetime(2026, 3, 16, 9, tzinfo=dt.UTC)
    for key in ("S1Q1", "S2Q2"):
        save_answer(audit, questions[key], verdict="conforming", base_version=0, actor=lapsing, now=on_the_day)
        db.session.commit()
    assert audit.status is AuditStatus.SCHEDULED
    assert len(db.session.scalars(select(ChecklistAnswer).where(ChecklistAnswer.audit_id == audit.id)).all()) == 2
    refusals = db.session.scalars(select(TrailEntry).where(TrailEntry.action == REFUSED)).all()
    assert len(refusals) == 1 and "expired 12 Mar 2026" in refusals[0].summary
    title = f"{audit.reference} stays scheduled: its move to in progress was refused"
    assert sorted(_notes("audit_staffing")) == [("Cora Coordinator", title), ("Lars Lapsing", title)]
    assert _audit_items(people["coordinator"], on_the_day)[audit.reference][0] == "restaff"


# --- After the report: an audit whose findings are all closed is the coordinator's to close ------

def test_a_reported_audit_waits_to_be_closed_once_nothing_raised_in_it_is_open(people, make):
    """While its finding is open the audit waits on the finding; once that closes, the coordinator
    has "Audit to close" dated the closing day at the audit's site; closing it ends the item. A
    reported audit without findings is ready from its report's day."""
    start = NOW - dt.timedelta(days=20)
    audit = _scheduled(make, people, start)
    audit.status, audit.report_issued_at = AuditStatus.REPORT_ISSUED, start + dt.timedelta(days=2)
    finding = Finding(reference=f"{audit.reference}-F01", audit_id=audit.id, grade=Grade.MINOR, statement="x",
                      status=FindingStatus.ACTION_IN_PROGRESS, raised_at=start)
    db.session.add(finding)
    clean = _scheduled(make, people, start)
    clean.status, clean.report_issued_at = AuditStatus.FOLLOW_UP, start + dt.timedelta(days=1)
    db.session.commit()
    assert _audit_items(people["coordinator"]) == {clean.reference: ("close", clean.local_dates()[0]
                                                                     + dt.timedelta(days=1), False)}

    finding.status, finding.closed_at = FindingStatus.CLOSED, NOW - dt.timedelta(days=1)
    db.session.commit()
    items = _audit_items(people["coordinator"])
    assert items[audit.reference] == ("close", (NOW - dt.timedelta(days=1)).date(), False)
    assert _audit_items(people["lead"]) == {}  # the coordinators' turn only

    change_status(audit, AuditStatus.CLOSED, actor=people["coordinator"], now=NOW, manual=True)
    db.session.commit()
    assert audit.reference not in _audit_items(people["coordinator"])
