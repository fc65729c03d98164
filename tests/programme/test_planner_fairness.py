"""A fair, travel-aware planner (issue 14, Found 3 and 4): combined audits staffed by a team,
load balanced with ties never broken by id, the coordinator not preferred, no country change on
consecutive working days, nothing outside the period, and a refused accept that keeps edits."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.models import PlannerRun, Programme, ProgrammeStatus, QualificationLevel, Role
from audit.programme.planner import propose_plan

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)
LEAD = QualificationLevel.LEAD


@pytest.fixture
def world(app, make):
    q, e, s = (make.standard(c) for c in ("ISO 9001", "ISO 14001", "ISO 45001"))
    programme = Programme(name="P", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                          status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    db.session.flush()
    return {"9001": q, "14001": e, "45001": s, "programme": programme,
            "berlin": make.site(name="Berlin", timezone="Europe/Berlin"),
            "chicago": make.site(name="Chicago", timezone="America/Chicago"),
            "warsaw": make.site(name="Warsaw", timezone="Europe/Warsaw")}


def _person(make, name, *quals, roles=(Role.AUDITOR,)):
    person = make.user(name=name, roles=roles)
    for std, level in quals:
        make.qualification(person, std, level=level)
    return person


def _audit(make, w, day, *stds, site="berlin", **kw):
    return make.audit(programme=w["programme"], site=w[site], planned_date=day,
                      standards=[w[s] for s in stds], **kw)


def test_combined_audit_gets_a_team_covering_every_standard(make, world):
    """Nobody holds all three standards: the planner proposes a lead plus auditors who together
    cover ISO 9001, 14001 and 45001."""
    w = world
    priya = _person(make, "Priya", (w["14001"], LEAD))
    jonas = _person(make, "Jonas", (w["9001"], LEAD))
    carlos = _person(make, "Carlos", (w["45001"], LEAD))
    _audit(make, w, dt.date(2026, 6, 9), "9001", "14001", "45001")
    proposals, unplaced = propose_plan(w["programme"], now=NOW)
    assert unplaced == []
    team = {proposals[0].lead_id, *proposals[0].auditor_ids}
    assert team == {priya.id, jonas.id, carlos.id}


def test_load_is_balanced_and_ties_do_not_go_to_the_lowest_id_or_the_coordinator(make, world):
    """Six audits for three equally qualified leads (the coordinator created first, so with the
    lowest id): two each, and the first tie does not go to the coordinator."""
    w = world
    maria = _person(make, "Maria", (w["9001"], LEAD), roles=(Role.AUDITOR, Role.COORDINATOR))
    others = [_person(make, n, (w["9001"], LEAD)) for n in ("Jonas", "Ana")]
    for i in range(6):
        _audit(make, w, dt.date(2026, 6, 1) + dt.timedelta(days=7 * i), "9001")
    proposals, _ = propose_plan(w["programme"], now=NOW)
    loads = Counter(p.lead_id for p in proposals)
    assert sorted(loads.values()) == [2, 2, 2] and set(loads) == {maria.id, *(o.id for o in others)}
    assert proposals[0].lead_id != maria.id
    assert propose_plan(w["programme"], now=NOW)[0] == proposals  # deterministic


def test_nobody_crosses_countries_on_consecutive_working_days(make, world):
    """One lead, audits in Berlin on Monday and Chicago on Tuesday: Chicago moves so that a
    working day lies between them."""
    w = world
    _person(make, "Solo", (w["9001"], LEAD))
    _audit(make, w, dt.date(2026, 6, 8), "9001", site="berlin")
    chicago = _audit(make, w, dt.date(2026, 6, 9), "9001", site="chicago")
    proposals, unplaced = propose_plan(w["programme"], now=NOW)
    assert unplaced == []
    days = {p.audit_id: p.day for p in proposals}
    berlin_day = next(d for a, d in days.items() if a != chicago.id)
    assert abs((days[chicago.id] - berlin_day).days) >= 2
    assert {p.zone for p in proposals} == {"Europe/Berlin", "America/Chicago"}


def test_proposals_stay_inside_the_programme_period(make, world):
    """An audit planned just before the period ends is placed on or before its last day."""
    w = world
    _person(make, "Solo", (w["9001"], LEAD))
    _audit(make, w, dt.date(2026, 12, 31), "9001", planned_days=2)
    proposals, unplaced = propose_plan(w["programme"], now=NOW)
    assert unplaced == [] and proposals[0].day <= dt.date(2026, 12, 30)


def test_refused_accept_keeps_edits_and_marks_the_failing_row(make, world, login):
    """A date moved outside the period is refused: nothing applied, the page shows the
    coordinator's other edits and the reason beside the failing row; lead lists offer only
    qualified leads; each row shows title, site and zone."""
    w = world
    _person(make, "Lea Lead", (w["9001"], LEAD))
    _person(make, "Otto Only-Auditor", (w["9001"], QualificationLevel.AUDITOR))
    today = dt.datetime.now(dt.UTC).date()  # the page plans from the real clock
    w["programme"].period_start, w["programme"].period_end = today, today + dt.timedelta(days=120)
    monday = today + dt.timedelta(days=28 - today.weekday())
    a1 = _audit(make, w, monday, "9001", title="Design audit")
    a2 = _audit(make, w, monday + dt.timedelta(days=14), "9001", title="HR audit")
    coordinator = make.user(roles=(Role.COORDINATOR,))
    client = login(coordinator)
    client.post(f"/programme/{w['programme'].id}/planner/run")
    page = client.get(f"/programme/{w['programme'].id}/planner").get_data(as_text=True)
    assert "Design audit" in page and "Berlin" in page and "Europe/Berlin" in page
    assert "Lea Lead" in page and "Otto Only-Auditor" not in page
    run = db.session.scalars(select(PlannerRun)).one()
    kept = (monday + dt.timedelta(days=16)).isoformat()
    outside = (today + dt.timedelta(days=200)).isoformat()
    response = client.post(f"/programme/{w['programme'].id}/planner/{run.id}/accept", data={
        f"take-{a1.id}": "on", f"day-{a1.id}": outside, f"take-{a2.id}": "on", f"day-{a2.id}": kept})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="failed-{a1.id}"' in html and "choose days inside that period" in html
    assert f'value="{kept}"' in html and f'id="failed-{a2.id}"' not in html
    db.session.expire_all()
    assert db.session.get(type(a2), a2.id).starts_at is None


def test_audits_at_one_site_cluster_for_their_lead(make, world):
    """Two Chicago audits planned a few days apart, one lead: the second lands on the working
    day next to the first, one trip instead of two."""
    w = world
    _person(make, "Solo", (w["9001"], LEAD))
    first = _audit(make, w, dt.date(2026, 6, 9), "9001", site="chicago")  # Tuesday
    second = _audit(make, w, dt.date(2026, 6, 12), "9001", site="chicago")  # Friday
    proposals, unplaced = propose_plan(w["programme"], now=NOW)
    days = {p.audit_id: p.day for p in proposals}
    assert unplaced == [] and days[first.id] == dt.date(2026, 6, 9)
    assert days[second.id] in (dt.date(2026, 6, 8), dt.date(2026, 6, 10))
