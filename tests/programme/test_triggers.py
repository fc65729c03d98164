"""Trigger audits (DOMAIN.md §2): a complaint, incident or significant change asks for an audit of
its unit or supplier within TRIGGER_AUDIT_DAYS (default 60); the planner and rescheduling keep
such an audit before its deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.audits.services import reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTrigger,
    Notification,
    Programme,
    ProgrammeStatus,
    QualificationLevel,
    Role,
    SiteHoliday,
    TrailEntry,
)
from audit.programme.planner import propose_plan
from audit.programme.triggers import record_trigger

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # Tuesday 10 March 2026


@pytest.fixture
def world(app, make):
    std = make.standard()
    site = make.site(timezone="America/Chicago")
    owner = make.user(roles=(Role.AUDITEE,), name="Olga Owner")
    unit = make.unit(site=site, owner=owner, name="Assembly")
    unit.standards = [std]
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    programme = Programme(name="Internal audits 2026", period_start=dt.date(2026, 1, 1),
                          period_end=dt.date(2026, 12, 31), status=ProgrammeStatus.ACTIVE, audit_client="CEO")
    db.session.add(programme)
    db.session.commit()
    return {"std": std, "site": site, "owner": owner, "unit": unit, "coordinator": coordinator,
            "programme": programme}


def _complaint(w, occurred=dt.date(2026, 3, 2), **extra):
    data = {"kind": "complaint", "title": "Wrong torque on delivered pumps", "occurred_on": occurred,
            "unit_id": w["unit"].id, "supplier_id": 0, "external_reference": "C-2026-017",
            "description": "Customer found 3 of 40 pumps under-torqued.", "programme_id": 0}
    data.update(extra)
    return record_trigger(data, actor=w["coordinator"], now=NOW)


def test_complaint_plans_an_audit_of_its_unit_within_60_days(world):
    """A new PLANNED internal audit of the unit, due 60 days after the complaint, owner told."""
    trigger, joined = _complaint(world)
    db.session.commit()
    audit = trigger.audit
    assert not joined
    assert trigger.due_by == dt.date(2026, 5, 1)
    assert audit.status is AuditStatus.PLANNED and audit.kind is AuditKind.INTERNAL
    assert audit.due_by == dt.date(2026, 5, 1)
    assert audit.planned_date == dt.date(2026, 4, 1)  # half-way: the planner has room both sides
    assert audit.units == [world["unit"]] and audit.standards == [world["std"]]
    assert audit.site == world["site"] and audit.programme == world["programme"]
    assert audit.reference == "IA-2026-001" and "C-2026-017" in audit.objectives
    assert trigger.programme == world["programme"] and not trigger.recorded_late
    note = db.session.scalars(select(Notification).where(Notification.kind == "audit_triggered")).one()
    assert note.user_id == world["owner"].id and "by 01 May 2026" in note.title
    kinds = {(e.object_type, e.action) for e in db.session.scalars(select(TrailEntry))}
    assert {("AuditTrigger", "create"), ("Audit", "create")} <= kinds


def test_days_come_from_config(world, app):
    """TRIGGER_AUDIT_DAYS sets the deadline."""
    app.config["TRIGGER_AUDIT_DAYS"] = 30
    trigger, _ = _complaint(world)
    assert trigger.due_by == trigger.audit.due_by == dt.date(2026, 4, 1)


def test_open_audit_before_the_deadline_takes_the_trigger_on(world, make):
    """An audit of the unit already planned before the deadline is used, not a second one."""
    planned = make.audit(programme=world["programme"], site=world["site"], units=[world["unit"]],
                         planned_date=dt.date(2026, 4, 20), objectives="Regular audit.")
    later = make.audit(programme=world["programme"], site=world["site"], units=[world["unit"]],
                       planned_date=dt.date(2026, 6, 20))
    db.session.commit()
    trigger, joined = _complaint(world)
    db.session.commit()
    assert joined and trigger.audit == planned
    assert db.session.scalar(select(db.func.count(Audit.id))) == 2
    assert planned.objectives.startswith("Regular audit.\nAlso follow up Complaint C-2026-017")
    assert planned.due_by == dt.date(2026, 5, 1) and later.due_by is None
    section = db.session.scalars(select(TrailEntry).where(TrailEntry.object_type == "Audit",
                                                          TrailEntry.object_id == planned.id)).one()
    assert section.changes["due_by"] == [None, "2026-05-01"]


def test_audit_after_the_deadline_or_cancelled_is_not_joined(world, make):
    """Only open audits dated by the deadline count."""
    make.audit(site=world["site"], units=[world["unit"]], planned_date=dt.date(2026, 5, 2))
    make.audit(site=world["site"], units=[world["unit"]], planned_date=dt.date(2026, 4, 2),
               status=AuditStatus.CANCELLED)
    db.session.commit()
    trigger, joined = _complaint(world)
    assert not joined and trigger.audit.due_by == dt.date(2026, 5, 1)


def test_supplier_incident_plans_second_party_audit_with_last_standards(world, make):
    """A supplier's incident → second-party audit with the standards of its latest audit."""
    supplier = make.supplier(timezone="Asia/Shanghai")
    make.audit(kind=AuditKind.SECOND_PARTY, supplier=supplier, site=None, standards=[world["std"]],
               planned_date=dt.date(2025, 6, 1), status=AuditStatus.CLOSED)
    db.session.commit()
    trigger, joined = record_trigger({"kind": "incident", "title": "Contaminated resin lot",
                                      "occurred_on": dt.date(2026, 3, 10), "unit_id": 0,
                                      "supplier_id": supplier.id}, actor=world["coordinator"], now=NOW)
    audit = trigger.audit
    assert not joined and audit.kind is AuditKind.SECOND_PARTY and audit.supplier == supplier
    assert audit.standards == [world["std"]] and audit.units == [] and audit.timezone == "Asia/Shanghai"
    assert audit.reference.startswith("SA-2026-") and trigger.due_by == dt.date(2026, 5, 9)
    assert db.session.scalar(select(db.func.count(Notification.id))) == 0  # no unit owner to tell


@pytest.mark.parametrize(("extra", "field", "message"), [
    ({"occurred_on": dt.date(2026, 3, 11)}, "occurred_on", "cannot have happened after today"),
    ({"unit_id": 0}, "unit_id", "Choose the unit or the supplier"),
    ({"kind": "rumour"}, "kind", "Choose what happened"),
    ({"title": "  "}, "title", "Say in a few words"),
    ({"occurred_on": None}, "occurred_on", "Give the date"),
    ({"kind": "significant_change", "occurred_on": dt.date(2027, 6, 1)}, "occurred_on", "more than a year ahead"),
])
def test_bad_input_is_refused_with_a_message(world, extra, field, message):
    """Each refusal names its field; nothing is stored."""
    with pytest.raises(DomainError, match=message) as raised:
        _complaint(world, **extra)
    assert raised.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(AuditTrigger.id))) == 0


def test_both_unit_and_supplier_is_refused(world, make):
    supplier = make.supplier()
    with pytest.raises(DomainError, match="one of them"):
        _complaint(world, supplier_id=supplier.id)


def test_closed_programme_is_refused(world):
    world["programme"].status = ProgrammeStatus.CLOSED
    with pytest.raises(DomainError, match="is closed"):
        _complaint(world, programme_id=world["programme"].id)


def test_planned_change_counts_from_the_day_it_takes_effect(world):
    """A significant change ahead: the audit follows within 60 days of it taking effect."""
    trigger, _ = _complaint(world, kind="significant_change", title="New paint line",
                            occurred_on=dt.date(2026, 6, 1))
    assert trigger.audit.due_by == dt.date(2026, 7, 31)


def test_trigger_recorded_after_its_deadline_is_planned_at_once(world):
    """Recorded 90 days late: the audit is planned for today, shown as late, with no past deadline."""
    trigger, _ = _complaint(world, occurred_on=dt.date(2025, 12, 1))
    assert trigger.recorded_late and trigger.audit.due_by is None
    assert trigger.audit.planned_date == dt.date(2026, 3, 10)


def test_planner_keeps_a_triggered_audit_before_its_deadline(world, make):
    """A deadline a week before the planned date (a coordinator shortened it) wins over the
    planned date: without it the planner would pick the free working day 1 May itself."""
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, world["std"], level=QualificationLevel.LEAD)
    trigger, _ = _complaint(world)
    trigger.audit.due_by = dt.date(2026, 4, 24)
    db.session.commit()
    proposals, unplaced = propose_plan(world["programme"], now=NOW)
    assert unplaced == [] and proposals[0].day <= dt.date(2026, 4, 24)


def test_planner_places_an_audit_whose_deadline_passed_at_once_and_says_so(world, make):
    """A deadline already behind the planning window cannot be met: earliest day, marked late."""
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, world["std"], level=QualificationLevel.LEAD)
    trigger, _ = _complaint(world)
    trigger.audit.due_by = dt.date(2026, 3, 9)
    db.session.commit()
    proposals, unplaced = propose_plan(world["programme"], now=NOW)
    assert unplaced == [] and proposals[0].day == dt.date(2026, 3, 11)
    assert proposals[0].note == "late: was due by 09 Mar 2026"
    # Dating it after a deadline that has passed is the way to catch up, so it is allowed.
    reschedule_audit(trigger.audit, starts_local=dt.datetime(2026, 3, 11, 9),
                     ends_local=dt.datetime(2026, 3, 11, 17), actor=world["coordinator"], now=NOW)


def test_a_deadline_too_close_to_meet_is_proposed_late_not_left_unplaced(world, make):
    """No lead is qualified before the deadline (13 Mar): the audit is still proposed, on the
    first day someone is (16 Mar), marked late with the reason, instead of "unplaceable"."""
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, world["std"], level=QualificationLevel.LEAD, valid_from=dt.date(2026, 3, 16))
    trigger, _ = _complaint(world)
    trigger.audit.due_by = dt.date(2026, 3, 13)
    db.session.commit()
    proposals, unplaced = propose_plan(world["programme"], now=NOW)
    assert unplaced == []
    first = proposals[0]
    assert (first.day, first.lead_id, first.late) == (dt.date(2026, 3, 16), lead.id, True)
    assert first.note == "late: no day and team fitted before its deadline, 13 Mar 2026"


def test_a_far_deadline_missed_by_its_window_is_proposed_on_time_not_late(world, make):
    """The lead's qualification ends on 20 Mar; the deadline (8 May) and the planned date
    (15 Apr) are far: the soonest-day search finds 11 Mar, before the deadline, so not late."""
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, world["std"], level=QualificationLevel.LEAD, valid_until=dt.date(2026, 3, 20))
    trigger, _ = _complaint(world)
    trigger.audit.due_by, trigger.audit.planned_date = dt.date(2026, 5, 8), dt.date(2026, 4, 15)
    db.session.commit()
    proposals, unplaced = propose_plan(world["programme"], now=NOW)
    assert unplaced == []
    assert (proposals[0].day, proposals[0].late, proposals[0].note) == (dt.date(2026, 3, 11), False, "")


def test_a_certification_deadline_too_close_to_meet_stays_with_the_coordinator(world, make):
    """No working day before a third-party audit's deadline (a site holiday): not proposed late,
    the certification body's date is the coordinator's to agree."""
    db.session.add(SiteHoliday(site=world["site"], day=dt.date(2026, 3, 11), name="Closed"))
    trigger, _ = _complaint(world)
    audit = trigger.audit
    audit.kind, audit.due_by = AuditKind.THIRD_PARTY, dt.date(2026, 3, 11)
    db.session.commit()
    proposals, unplaced = propose_plan(world["programme"], now=NOW)
    assert proposals == [] and unplaced[0]["audit_id"] == audit.id


def test_rescheduling_past_the_deadline_is_refused(world):
    """A coordinator cannot date the audit after its deadline without moving the deadline."""
    trigger, _ = _complaint(world)
    with pytest.raises(DomainError, match="must happen by 01 May 2026"):
        reschedule_audit(trigger.audit, starts_local=dt.datetime(2026, 5, 4, 9),
                         ends_local=dt.datetime(2026, 5, 4, 17), actor=world["coordinator"], now=NOW)


def test_pages_record_list_and_explain(world, login, app, monkeypatch):
    """Record through the form → the audit page says why; the list shows it; bad input keeps data."""
    monkeypatch.setattr("audit.programme.views.utcnow", lambda: NOW)
    client = login(world["coordinator"])
    form = client.get(f"/programme/triggers/new?unit={world['unit'].id}").get_data(as_text=True)
    assert "within 60 days" in form and f'<option selected value="{world["unit"].id}">' in form
    bad = client.post("/programme/triggers/new", data={
        "kind": "complaint", "title": "Scratched housings", "occurred_on": "2026-03-01",
        "unit_id": 0, "supplier_id": 0, "programme_id": 0, "description": "Found at goods-in."})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Choose the unit or the supplier" in page
    assert "Scratched housings" in page and "Found at goods-in." in page
    response = client.post("/programme/triggers/new", data={
        "kind": "complaint", "title": "Scratched housings", "occurred_on": "2026-03-01",
        "unit_id": world["unit"].id, "supplier_id": 0, "programme_id": 0})
    assert response.status_code == 302
    audit = db.session.scalars(select(Audit)).one()
    assert response.headers["Location"].endswith(f"/audits/{audit.id}")
    detail = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "Why this audit" in detail and "Scratched housings" in detail and "Must happen by" in detail
    listing = client.get("/programme/triggers").get_data(as_text=True)
    assert "Scratched housings" in listing and audit.reference in listing and "30 Apr 2026" in listing


def test_auditor_cannot_record_a_trigger(world, login, make):
    """Recording plans audits: coordinators only."""
    auditor = make.user(roles=(Role.AUDITOR,))
    db.session.commit()
    response = login(auditor).post("/programme/triggers/new", data={
        "kind": "complaint", "title": "x", "occurred_on": "2026-03-01", "unit_id": world["unit"].id})
    assert response.status_code == 403
    assert db.session.scalar(select(db.func.count(AuditTrigger.id))) == 0


def test_trigger_list_query_count_is_constant(world, login, count_queries, make):
    """The list costs the same for 2 and for 12 triggers, each of another unit, site, supplier
    and recorder (so nothing is answered from the identity map)."""
    client = login(world["coordinator"])

    def record_some(count, prefix):
        for i in range(count):
            recorder = make.user(roles=(Role.COORDINATOR,))
            if i % 2:
                subject = {"unit_id": 0, "supplier_id": make.supplier().id}
            else:
                subject = {"unit_id": make.unit(site=make.site()).id, "supplier_id": 0}
            record_trigger({"kind": "incident", "title": f"{prefix} {i}", "occurred_on": dt.date(2026, 3, 1),
                            "programme_id": world["programme"].id, **subject}, actor=recorder, now=NOW)
        db.session.commit()
        db.session.expire_all()

    record_some(2, "First")
    with count_queries() as few:
        assert client.get("/programme/triggers").status_code == 200
    record_some(10, "More")
    with count_queries() as many:
        assert "More 9" in client.get("/programme/triggers").get_data(as_text=True)
    assert few.count == many.count


def test_programme_is_the_active_one_covering_the_deadline_else_today(world):
    """Automatic choice: the active programme holding the deadline, else the one holding today."""
    next_year = Programme(name="Internal audits 2027", period_start=dt.date(2027, 1, 1),
                          period_end=dt.date(2027, 12, 31), status=ProgrammeStatus.ACTIVE)
    db.session.add(next_year)
    db.session.commit()
    late_in_year, _ = _complaint(world, kind="significant_change", title="New ERP", occurred_on=dt.date(2026, 12, 1))
    assert late_in_year.programme == next_year  # due 30 Jan 2027
    next_year.status = ProgrammeStatus.DRAFT
    fallback, _ = _complaint(world, kind="significant_change", title="New MES", occurred_on=dt.date(2026, 12, 2))
    assert fallback.programme == world["programme"]


def test_future_change_does_not_join_an_audit_before_it_takes_effect(world, make):
    """An audit next week cannot judge a change that takes effect in two months."""
    make.audit(site=world["site"], units=[world["unit"]], planned_date=dt.date(2026, 3, 17))
    db.session.commit()
    trigger, joined = _complaint(world, kind="significant_change", title="New press line",
                                 occurred_on=dt.date(2026, 5, 11))
    assert not joined and trigger.audit.planned_date >= dt.date(2026, 5, 11)


def test_certification_body_audit_is_never_joined(world, make):
    """A third-party audit of the unit is the certification body's, not ours to extend."""
    make.audit(site=world["site"], units=[world["unit"]], planned_date=dt.date(2026, 4, 20),
               kind=AuditKind.THIRD_PARTY)
    db.session.commit()
    trigger, joined = _complaint(world)
    assert not joined and trigger.audit.kind is AuditKind.INTERNAL


def test_joined_audits_lead_is_told(world, make):
    """The lead of the audit that takes the trigger on hears of it."""
    from audit.models import TeamRole

    lead = make.user(name="Lea Lead")
    make.audit(site=world["site"], units=[world["unit"]], planned_date=dt.date(2026, 4, 20),
               team=[(lead, TeamRole.LEAD)])
    db.session.commit()
    _, joined = _complaint(world)
    assert joined
    notes = db.session.scalars(select(Notification).where(Notification.user_id == lead.id)).all()
    assert len(notes) == 1 and "now also covers a complaint" in notes[0].title


def test_without_an_active_programme_the_coordinator_must_choose(world):
    """No programme covers the dates: a clear message instead of an audit nobody plans."""
    world["programme"].status = ProgrammeStatus.DRAFT
    with pytest.raises(DomainError, match="No active programme covers") as raised:
        _complaint(world)
    assert raised.value.field == "programme_id"


def test_planner_late_proposal_is_accepted(world, make):
    """A proposal the planner marks late (deadline behind the window) is accepted as proposed."""
    from audit.programme.planner import plan_programme
    from audit.programme.planner_accept import accept_planner_run

    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, world["std"], level=QualificationLevel.LEAD)
    trigger, _ = _complaint(world)
    trigger.audit.due_by = dt.date(2026, 3, 10)  # today: no day after today meets it
    db.session.commit()
    run = plan_programme(world["programme"], now=NOW)
    assert run.proposals[0]["note"].startswith("late")
    assert accept_planner_run(run, actor=world["coordinator"], now=NOW) == 1
    assert trigger.audit.status is AuditStatus.SCHEDULED
