"""The automatic planner: places the demo programme with no rule broken, explains what it cannot
place, avoids weekends and site holidays, spreads load; the coordinator accepts or edits."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.audits.team import team_problems
from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    PlannerRun,
    Programme,
    QualificationLevel,
    Role,
    SiteHoliday,
    TeamRole,
)
from audit.programme.planner import plan_programme, propose_plan
from audit.programme.planner_accept import accept_planner_run

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # a Tuesday


def test_planner_places_demo_programme_without_breaking_rules(app):
    """Every undated/unstaffed audit of the demo programme is placed; accepted, no rule is broken."""
    seed_demo(now=NOW)
    db.session.commit()
    programme = db.session.scalars(select(Programme)).first()
    run = plan_programme(programme, now=NOW)
    assert run.unplaced == [] and len(run.proposals) >= 3
    for p in run.proposals:
        assert dt.date.fromisoformat(p["day"]).weekday() < 5
    accept_planner_run(run, actor=None, now=NOW)
    db.session.commit()
    for audit in db.session.scalars(select(Audit)).all():
        if audit.is_open:
            assert team_problems(audit, today=NOW.date()) == [], audit
    placed = [db.session.get(Audit, p["audit_id"]) for p in run.proposals]
    assert all(a.status is AuditStatus.SCHEDULED and a.starts_at is not None for a in placed)
    assert all(a.lead is not None for a in placed if a.kind is not AuditKind.THIRD_PARTY)


@pytest.fixture
def setup(planning):
    return planning


def _audit(make, s, planned, **kw):
    return make.audit(programme=s["programme"], site=s["site"], planned_date=planned, standards=[s["std"]], **kw)


def test_unplaceable_audit_is_explained(make, setup):
    """Without any qualified lead the planner says why instead of placing the audit."""
    s = setup
    _audit(make, s, dt.date(2026, 4, 15))
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert proposals == []
    assert len(unplaced) == 1
    assert unplaced[0]["reasons"][0].startswith("No lead auditor for ISO 9001 on any working day near 15 Apr 2026")


def test_planner_avoids_weekends_and_site_holidays(make, setup):
    """A planned Saturday next to a site holiday moves to the nearest working day."""
    s = setup
    lead = make.user(roles=(Role.AUDITOR,))
    make.qualification(lead, s["std"], level=QualificationLevel.LEAD)
    db.session.add(SiteHoliday(site=s["site"], day=dt.date(2026, 5, 1), name="Labour Day"))  # Friday
    _audit(make, s, dt.date(2026, 5, 2))  # Saturday
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    assert proposals[0].day == dt.date(2026, 4, 30)  # Thursday: Fri holiday, Sat/Sun weekend, Mon further


def test_planner_respects_impartiality_and_spreads_load(make, setup):
    """The owner of the unit is never proposed; two audits in one month go to two leads."""
    s = setup
    owner, other, third = (make.user(roles=(Role.AUDITOR,), name=n) for n in ("Owner", "Other", "Third"))
    for person in (owner, other, third):
        make.qualification(person, s["std"], level=QualificationLevel.LEAD)
    unit = make.unit(site=s["site"], owner=owner)
    _audit(make, s, dt.date(2026, 6, 9), units=[unit])
    _audit(make, s, dt.date(2026, 6, 10), units=[unit])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    leads = [p.lead_id for p in proposals]
    assert owner.id not in leads and len(set(leads)) == 2


def test_planner_skips_busy_leads(make, setup):
    """A lead already booked that day is not proposed for it."""
    s = setup
    busy = make.user(roles=(Role.AUDITOR,), name="Busy")
    make.qualification(busy, s["std"], level=QualificationLevel.LEAD)
    _audit(make, s, dt.date(2026, 6, 9), team=[(busy, TeamRole.LEAD)],
           starts_at=dt.datetime(2026, 6, 9, 6, 30, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 6, 9, 14, 30, tzinfo=dt.UTC),
           status=AuditStatus.SCHEDULED)
    _audit(make, s, dt.date(2026, 6, 9))
    proposals, _ = propose_plan(s["programme"], now=NOW)
    assert proposals[0].lead_id == busy.id and proposals[0].day != dt.date(2026, 6, 9)


def test_coordinator_edits_and_accepts_through_page(make, setup, login):
    """The planner page proposes; the coordinator changes the date and accepts; rules re-checked."""
    s = setup
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, s["std"], level=QualificationLevel.LEAD)
    today = dt.datetime.now(dt.UTC).date()  # the page plans from the real clock
    s["programme"].period_end = today + dt.timedelta(days=400)
    planned = today + dt.timedelta(days=28 - today.weekday())  # a Monday four weeks ahead
    edited = planned + dt.timedelta(days=2)  # that Wednesday
    audit = _audit(make, s, planned)
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    client = login(coordinator)
    assert client.post(f"/programme/{s['programme'].id}/planner/run").status_code == 302
    page = client.get(f"/programme/{s['programme'].id}/planner").get_data(as_text=True)
    assert audit.reference in page and "Lea Lead" in page
    run = db.session.scalars(select(PlannerRun)).one()
    response = client.post(f"/programme/{s['programme'].id}/planner/{run.id}/accept",
                           data={f"take-{audit.id}": "on", f"day-{audit.id}": edited.isoformat(), f"lead-{audit.id}": lead.id})
    assert response.status_code == 302
    db.session.expire_all()
    audit = db.session.get(Audit, audit.id)
    assert audit.local_dates() == (edited, edited)
    assert audit.lead.id == lead.id and audit.status is AuditStatus.SCHEDULED
    assert audit.planned_date == planned


def test_programme_views_render(app, client):
    """Coverage, workload, cycles, rules and planner pages render for the demo coordinator."""
    seed_demo(now=NOW)
    db.session.commit()
    client.post("/login", data={"email": "coordinator@example.com", "password": DEMO_PASSWORD})
    programme = db.session.scalars(select(Programme)).first()
    for page in ["/programme/coverage", "/programme/workload", "/programme/cycles",
                 f"/programme/{programme.id}/rules", f"/programme/{programme.id}/planner",
                 "/programme/planner/preview",
                 "/notifications/", "/notifications/preferences"]:
        response = client.get(page)
        assert response.status_code == 200, page
    assert client.get("/admin/scheduler/").status_code == 200  # coordinators see the scheduler (issue 14)
    assert "Nothing was stored" in client.get("/programme/planner/preview").get_data(as_text=True)
    cycles = client.get("/programme/cycles").get_data(as_text=True)
    assert "QM-2024-0815" in cycles and "Surveillance 2" in cycles


def test_accepting_with_an_unknown_lead_is_a_message(make, setup):
    """A forged or stale lead id in the accept form is refused with a message, nothing applied."""
    from audit.core.errors import DomainError

    s = setup
    lead = make.user(roles=(Role.AUDITOR,))
    make.qualification(lead, s["std"], level=QualificationLevel.LEAD)
    audit = _audit(make, s, dt.date(2026, 6, 9))
    run = plan_programme(s["programme"], now=NOW)
    with pytest.raises(DomainError, match="lead auditor does not exist"):
        accept_planner_run(run, actor=None, now=NOW, edits={audit.id: {"lead_id": 999_999}})


def test_the_pool_read_from_rows_books_what_the_audits_say(make, setup):
    """The pool reads bookings as plain rows (issue 16): each person's days, countries, places
    and loads are those ``Audit.local_dates`` and ``audit_country`` give for the audits, for a
    site in its zone, a supplier with a recorded country and one without; coordinators are known."""
    from audit.audits.dates import audit_country
    from audit.programme.pool import audit_place, load_pool

    s = setup
    lead = make.user(roles=(Role.AUDITOR, Role.COORDINATOR), name="Lead")
    auditor = make.user(roles=(Role.AUDITOR,), name="Auditor")
    make.qualification(lead, s["std"], level=QualificationLevel.LEAD, valid_until=dt.date(2027, 1, 1))
    sydney = make.site(timezone="Australia/Sydney")
    abroad = make.supplier(timezone="Europe/Paris", country="IT")
    unrecorded = make.supplier(timezone="America/New_York")
    starts = dt.datetime(2026, 6, 8, 22, 30, tzinfo=dt.UTC)  # already the 9th in Sydney
    audits = [
        make.audit(site=sydney, team=[(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR)],
                   starts_at=starts, ends_at=starts + dt.timedelta(hours=30), status=AuditStatus.SCHEDULED),
        make.audit(site=None, site_id=None, supplier=abroad, kind=AuditKind.SECOND_PARTY,
                   team=[(lead, TeamRole.LEAD)], status=AuditStatus.SCHEDULED,
                   starts_at=dt.datetime(2026, 7, 1, 7, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 7, 1, 15, tzinfo=dt.UTC)),
        make.audit(site=None, site_id=None, supplier=unrecorded, kind=AuditKind.SECOND_PARTY,
                   team=[(auditor, TeamRole.AUDITOR)], status=AuditStatus.SCHEDULED,
                   starts_at=dt.datetime(2026, 8, 3, 13, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 8, 3, 21, tzinfo=dt.UTC)),
    ]
    db.session.flush()
    pool = load_pool(dt.date(2026, 1, 1), dt.date(2026, 12, 31))

    expected_busy: dict = {lead.id: {}, auditor.id: {}}
    expected_where: dict = {lead.id: {}, auditor.id: {}}
    for audit in audits:
        first, last = audit.local_dates()
        for member in audit.team:
            day = first
            while day <= last:
                expected_busy[member.user_id][day] = audit_country(audit)
                expected_where[member.user_id][day] = audit_place(audit)
                day += dt.timedelta(days=1)
    assert {uid: dict(days) for uid, days in pool.busy.items()} == expected_busy
    assert {uid: dict(days) for uid, days in pool.where.items()} == expected_where
    assert expected_busy[lead.id][dt.date(2026, 6, 9)] == "AU" and dt.date(2026, 6, 8) not in expected_busy[lead.id]
    assert expected_busy[lead.id][dt.date(2026, 7, 1)] == "IT" and expected_busy[auditor.id][dt.date(2026, 8, 3)] == "US"
    assert pool.load == {lead.id: 2, auditor.id: 2} and pool.lead_load == {lead.id: 2}
    assert pool.coordinators == {lead.id}
    assert pool.users[lead.id].name == "Lead" and pool.leads_for([s["std"].id]) == [lead.id]
    assert pool.rank_on(lead.id, s["std"].id, dt.date(2026, 6, 1), dt.date(2026, 6, 2)) == QualificationLevel.LEAD.rank
    assert pool.rank_on(lead.id, s["std"].id, dt.date(2027, 6, 1), dt.date(2027, 6, 2)) == -1
