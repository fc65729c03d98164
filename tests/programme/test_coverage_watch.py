"""Coverage gaps are told before they happen: the scheduler's sweep reads the coverage matrix's
rule and tells the coordinators, per standard, the units to plan an audit for; the same set is
told once, a changed set again, and planning the audit ends it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.models import AuditStatus, Notification, Role
from audit.programme.coverage_watch import KIND, units_to_plan
from tests.journey import at, notice_titles, run_job

TODAY = dt.date(2026, 3, 10)
JOB = "coverage_gaps"


def _audited(make, unit, std, day: dt.date):
    return make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=day,
                      starts_at=dt.datetime.combine(day, dt.time(8), dt.UTC),
                      ends_at=dt.datetime.combine(day, dt.time(16), dt.UTC))


def test_coordinators_hear_of_units_falling_due_with_nothing_planned(app, make, library):
    """Machining was audited on 1 Apr 2024 (24-month interval): due 1 Apr 2026, nothing planned,
    it is told on 10 Mar; Assembly has its audit planned, Painting was audited in January."""
    std = library["ISO 9001"]
    cora = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    plant = make.site(name="Chicago plant", timezone="America/Chicago")
    machining, assembly, painting = (make.unit(name=name, site=plant)
                                     for name in ("Machining", "Assembly", "Painting"))
    for unit in (machining, assembly, painting):
        unit.standards.append(std)
    _audited(make, machining, std, dt.date(2024, 4, 1))  # a low-risk unit: every 24 months
    make.audit(units=[assembly], standards=[std], planned_date=dt.date(2026, 4, 20))
    _audited(make, painting, std, dt.date(2026, 1, 12))
    db.session.flush()
    assert [(r.unit.name, r.state, r.due) for r in units_to_plan(std.id, today=TODAY)] == [
        ("Machining", "due", dt.date(2026, 4, 1))]

    run_job(app, at(TODAY), job=JOB)
    assert notice_titles(cora, kind=KIND) == ["ISO 9001 coverage: 1 unit to plan an audit for"]
    note = db.session.scalars(select(Notification).where(Notification.kind == KIND)).one()
    assert "Machining (Chicago plant): due by 01 Apr 2026" in note.body
    assert note.link == f"/programme/coverage?standard={std.id}"

    # The same set the next day: not told again; the next week, still unplanned: told again.
    run_job(app, at(TODAY + dt.timedelta(days=1)), job=JOB)
    assert len(notice_titles(cora, kind=KIND)) == 1
    run_job(app, at(TODAY + dt.timedelta(days=7)), job=JOB)
    assert len(notice_titles(cora, kind=KIND)) == 2
    # Past its due day (a Thursday) with still nothing planned: the set changed, told at once.
    run_job(app, at(dt.date(2026, 4, 2)), job=JOB)
    assert len(notice_titles(cora, kind=KIND)) == 3
    assert "Machining (Chicago plant): overdue since 01 Apr 2026" in db.session.scalars(
        select(Notification.body).where(Notification.kind == KIND).order_by(Notification.id.desc())).first()
    # Planned: nothing more to tell.
    make.audit(units=[machining], standards=[std], planned_date=dt.date(2026, 4, 20))
    db.session.commit()
    assert units_to_plan(std.id, today=dt.date(2026, 4, 13)) == []
    run_job(app, at(dt.date(2026, 4, 13)), job=JOB)
    assert len(notice_titles(cora, kind=KIND)) == 3


def test_a_unit_due_again_in_its_next_cycle_is_told_again(app, make, library):
    """Told in March 2026, audited, due again two years on: the new due day is a new notice."""
    std = library["ISO 9001"]
    cora = make.user(roles=(Role.COORDINATOR,))
    unit = make.unit(name="Machining")
    unit.standards.append(std)
    _audited(make, unit, std, dt.date(2024, 4, 1))
    run_job(app, at(TODAY), job=JOB)
    _audited(make, unit, std, dt.date(2026, 3, 20))
    run_job(app, at(dt.date(2028, 3, 1)), job=JOB)
    assert len(notice_titles(cora, kind=KIND)) == 2


def test_a_unit_never_audited_is_named_as_such(app, make, library):
    """A unit with the standard and no audit at all is a gap today: "never audited"; one audited
    on part of the standard only has "some clauses never audited"."""
    std = library["ISO 9001"]
    cora = make.user(roles=(Role.COORDINATOR,))
    unit = make.unit(name="Warehouse")
    unit.standards.append(std)
    run_job(app, at(TODAY), job=JOB)
    assert notice_titles(cora, kind=KIND) == ["ISO 9001 coverage: 1 unit to plan an audit for"]
    body = db.session.scalars(select(Notification.body).where(Notification.kind == KIND)).one()
    assert f"{unit.name} ({unit.site.name}): never audited" in body
    partly = make.unit(name="Stores")
    partly.standards.append(std)
    partial_audit = _audited(make, partly, std, dt.date(2026, 1, 12))
    partial_audit.clauses.append(next(c for c in std.clauses if c.number == "8.5"))
    db.session.flush()
    assert [(r.unit.name, r.audited) for r in units_to_plan(std.id, today=TODAY)] == [
        ("Stores", True), ("Warehouse", False)]
