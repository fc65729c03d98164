"""The monthly workload limit is one rule applied end to end: counted in the audit's own month
and zone, shown on the workload page, kept by the planner (its own proposals counted), held
against an edited planner row, and warned about on every manual change that passes it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select

from audit.audits.workload import booked_workload, workload_warnings
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    PlannerRun,
    QualificationLevel,
    Role,
    TeamRole,
)
from audit.programme.planner import plan_programme, propose_plan
from audit.programme.planner_accept import AcceptRefused, accept_planner_run

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # a Tuesday


@pytest.fixture
def setup(app, planning):
    app.config["WORKLOAD_DAYS_PER_MONTH"] = 2
    return planning


def _lead(make, s, name):
    person = make.user(roles=(Role.AUDITOR,), name=name)
    make.qualification(person, s["std"], level=QualificationLevel.LEAD)
    return person


def _booked(make, s, person, day: dt.date, days: int = 1, role=TeamRole.LEAD, site=None):
    """A scheduled audit ``person`` works on from 08:30 local on ``day``."""
    site = site or s["site"]
    start = dt.datetime.combine(day, dt.time(8, 30), tzinfo=zoneinfo.ZoneInfo(site.timezone))
    return make.audit(programme=s["programme"], site=site, planned_date=day, planned_days=days,
                      standards=[s["std"]], team=[(person, role)], status=AuditStatus.SCHEDULED,
                      starts_at=start.astimezone(dt.UTC),
                      ends_at=(start + dt.timedelta(days=days - 1, hours=8)).astimezone(dt.UTC))


def test_days_count_in_the_month_the_audit_starts_where_it_happens(make, setup):
    """08:30 on 1 June in Tokyo is still 31 May in UTC: the audit counts in June, as the site
    lives it; its planned days count, trainees too, cancelled audits and observers not at all."""
    s = setup
    tokyo = make.site(timezone="Asia/Tokyo")
    arne, tina, olga = _lead(make, s, "Arne"), _lead(make, s, "Tina"), _lead(make, s, "Olga")
    audit = _booked(make, s, arne, dt.date(2026, 6, 1), days=2, site=tokyo)
    assert audit.starts_at.date() == dt.date(2026, 5, 31)
    _booked(make, s, tina, dt.date(2026, 6, 3), role=TeamRole.TRAINEE)
    _booked(make, s, olga, dt.date(2026, 6, 4), role=TeamRole.OBSERVER)
    _booked(make, s, arne, dt.date(2026, 6, 8)).status = AuditStatus.CANCELLED
    db.session.flush()
    load = booked_workload(first=dt.date(2026, 5, 1), last=dt.date(2026, 6, 30))
    assert load.days[arne.id] == {dt.date(2026, 6, 1): 2}
    assert load.days[tina.id] == {dt.date(2026, 6, 1): 1}
    assert olga.id not in load.days
    assert load.leads[arne.id] == 1


def test_workload_page_highlights_the_same_count(make, setup, login):
    """The page shows the rule's count and highlights a month past the limit."""
    s = setup
    arne = _lead(make, s, "Arne Auditor")
    _booked(make, s, arne, dt.date(2026, 6, 2), days=2)
    _booked(make, s, arne, dt.date(2026, 6, 9))
    client = login(make.user(roles=(Role.COORDINATOR,)))
    page = client.get("/programme/workload?year=2026").get_data(as_text=True)
    row = page[page.index("Arne Auditor"):]
    row = row[:row.index("</tr>")]
    assert '<td class="cov-gap">3</td>' in row
    assert "more than 2 days in a month" in page


def test_planner_never_proposes_past_the_limit(make, setup):
    """A lead with June full is passed over for June; with the run's own proposals counted, two
    more June audits do not both go to the one lead who has room for one."""
    s = setup
    full, room = _lead(make, s, "Full"), _lead(make, s, "Room")
    _booked(make, s, full, dt.date(2026, 6, 2), days=2)
    _booked(make, s, room, dt.date(2026, 6, 3))
    first = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                       standards=[s["std"]])
    second = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 17),
                        standards=[s["std"]])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    by_audit = {p.audit_id: p for p in proposals}
    june = [p for p in proposals if p.day.month == 6]
    assert [p.lead_id for p in june] == [room.id], "one June audit fits, and only Room has room"
    # The other moves out of June (the window reaches into July) rather than break the limit.
    other = by_audit[second.id] if by_audit[first.id] in june else by_audit[first.id]
    assert other.day.month == 7


def test_unplaceable_says_the_limit_is_why(make, setup):
    """When the limit is what stops every candidate, the reason says so."""
    s = setup
    s["programme"].period_end = dt.date(2026, 6, 30)
    only = _lead(make, s, "Only")
    _booked(make, s, only, dt.date(2026, 6, 1), days=2)
    make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
               standards=[s["std"]])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert proposals == []
    assert "at their workload limit (2 audit-days a month)" in unplaced[0]["reasons"][0]


def test_an_edited_planner_row_is_held_to_the_limit(make, setup):
    """The coordinator swaps in a lead whose month is full: the accept refuses that row, names
    the person, the month and the way to do it knowingly; nothing is applied."""
    s = setup
    full, room = _lead(make, s, "Fiona Full"), _lead(make, s, "Room")
    _booked(make, s, full, dt.date(2026, 6, 2), days=2)
    audit = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                       standards=[s["std"]])
    run = plan_programme(s["programme"], now=NOW)
    db.session.commit()
    assert run.proposals[0]["lead_id"] == room.id
    with pytest.raises(AcceptRefused) as refused:
        accept_planner_run(run, actor=None, now=NOW, edits={audit.id: {"lead_id": full.id}})
    message = refused.value.rows[audit.id]
    assert "Fiona Full has 3 audit-days in June 2026 with this audit" in message
    assert "on the audit's page" in message
    db.session.rollback()
    assert db.session.get(Audit, audit.id).lead is None
    run = db.session.scalars(select(PlannerRun)).one()
    assert accept_planner_run(run, actor=None, now=NOW) == 1


def _weekday(year: int, month: int, day: int) -> dt.date:
    """That day, or the next working day after a weekend."""
    found = dt.date(year, month, day)
    while found.weekday() >= 5:
        found += dt.timedelta(days=1)
    return found


def test_manual_changes_past_the_limit_are_warned_on_the_audit_page(make, setup, login):
    """Adding a full person, moving an audit into a full month, or a bulk lead assignment: allowed
    (the coordinator decides), but each names who passes the limit, and the audit page keeps
    saying it until the plan changes."""
    s = setup
    year = dt.datetime.now(dt.UTC).year + 1  # the pages refuse dates in the past of the real clock
    s["programme"].period_end = dt.date(year, 12, 31)
    full = _lead(make, s, "Fiona Full")
    _booked(make, s, full, _weekday(year, 6, 2), days=2)
    june = make.audit(programme=s["programme"], site=s["site"], planned_date=_weekday(year, 6, 16),
                      standards=[s["std"]])
    july = _booked(make, s, full, _weekday(year, 7, 7))
    client = login(make.user(roles=(Role.COORDINATOR,)))

    response = client.post(f"/audits/{june.id}/team", data={"user_id": full.id, "role": "lead"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Fiona Full added to the team." in page
    warning = f"Fiona Full has 3 audit-days in June {year} with this audit: more than the limit of 2 a month."
    assert page.count(warning) == 2  # the flash, and the team panel that keeps it in view
    assert 'id="team-workload"' in page

    moved = _weekday(year, 6, 23)
    response = client.post(f"/audits/{july.id}/reschedule", follow_redirects=True, data={
        "starts_local": f"{moved}T08:30", "ends_local": f"{moved}T16:30"})
    page = response.get_data(as_text=True)
    assert "Audit rescheduled." in page
    assert f"Fiona Full has 4 audit-days in June {year} with this audit" in page

    other = _lead(make, s, "Otto Other")
    _booked(make, s, other, _weekday(year, 9, 1), days=2)
    september = make.audit(programme=s["programme"], site=s["site"], planned_date=_weekday(year, 9, 15),
                           standards=[s["std"]])
    db.session.commit()
    response = client.post("/audits/bulk", follow_redirects=True, data={
        "ids": [september.id], "action": "assign_lead", "lead_id": other.id})
    page = response.get_data(as_text=True)
    assert f"{september.reference}: Otto Other has 3 audit-days in September {year}" in page

    # The audit's form: two days planned instead of one.
    response = client.post(f"/audits/{june.id}/edit", follow_redirects=True, data={
        "title": june.title, "kind": "internal", "third_party_type": "", "programme_id": s["programme"].id,
        "site_id": s["site"].id, "supplier_id": 0, "certificate_id": 0, "certification_body_id": 0,
        "standard_ids": [s["std"].id], "planned_date": june.planned_date.isoformat(), "planned_days": 2,
        "checklist_version_id": 0, "version": june.version_id})
    page = response.get_data(as_text=True)
    assert "Audit saved." in page and f"Fiona Full has 5 audit-days in June {year} with this audit" in page


def test_no_warning_within_the_limit(make, setup, login):
    """At the limit exactly, nothing is said: the limit is a ceiling, not a target."""
    s = setup
    arne = _lead(make, s, "Arne")
    _booked(make, s, arne, dt.date(2026, 6, 2))
    audit = _booked(make, s, arne, dt.date(2026, 6, 9))
    assert workload_warnings(audit) == []
    page = login(make.user(roles=(Role.COORDINATOR,))).get(f"/audits/{audit.id}").get_data(as_text=True)
    assert 'id="team-workload"' not in page


def test_an_observer_with_a_full_month_does_not_stop_the_planner(make, setup):
    """An observer's days are not audit-days: a full month of auditing elsewhere does not keep
    the audit they observe out of that month."""
    s = setup
    watcher, lead = _lead(make, s, "Watcher"), _lead(make, s, "Lead")
    _booked(make, s, watcher, dt.date(2026, 6, 2), days=2)
    audit = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                       standards=[s["std"]], team=[(watcher, TeamRole.OBSERVER)])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    assert (proposals[0].audit_id, proposals[0].lead_id, proposals[0].day.month) == (audit.id, lead.id, 6)


def test_an_audit_left_unplaced_keeps_its_people_booked(make, setup):
    """A dated audit nobody can lead stays where it is, and so does its auditor: the next audit
    is not given that auditor on the same day."""
    s = setup
    other_std = make.standard(code="ISO 14001")
    xavier = _lead(make, s, "Xavier")
    stuck = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                       standards=[other_std], team=[(xavier, TeamRole.AUDITOR)],
                       starts_at=dt.datetime(2026, 6, 16, 6, 30, tzinfo=dt.UTC),
                       ends_at=dt.datetime(2026, 6, 16, 14, 30, tzinfo=dt.UTC))
    wanted = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                        standards=[s["std"]])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert [u["audit_id"] for u in unplaced] == [stuck.id]
    assert proposals[0].audit_id == wanted.id and proposals[0].lead_id == xavier.id
    assert proposals[0].day != dt.date(2026, 6, 16)


def test_an_audit_moved_out_of_a_month_by_the_run_no_longer_counts_there(make, setup):
    """Accepted together, an audit the run moves from June to July frees its June days for the
    row that needs them, whatever order the rows are applied in."""
    s = setup
    x, lea = _lead(make, s, "Xena"), _lead(make, s, "Lea")
    _booked(make, s, x, dt.date(2026, 6, 2))
    moved = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 19),
                       standards=[s["std"]], team=[(lea, TeamRole.LEAD), (x, TeamRole.AUDITOR)])
    added = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 25),
                       standards=[s["std"]])
    run = PlannerRun(programme_id=s["programme"].id, created_at=NOW, unplaced=[], duration=0, proposals=[
        {"audit_id": added.id, "reference": added.reference, "day": "2026-06-25", "lead_id": x.id,
         "auditor_ids": [], "note": "", "late": False, "revision": added.revision or 0},
        {"audit_id": moved.id, "reference": moved.reference, "day": "2026-07-01", "lead_id": None,
         "auditor_ids": [], "note": "", "late": False, "revision": moved.revision or 0}])
    db.session.add(run)
    db.session.flush()
    assert accept_planner_run(run, actor=None, now=NOW) == 2
    assert booked_workload(first=dt.date(2026, 6, 1), last=dt.date(2026, 7, 31)).days[x.id] == {
        dt.date(2026, 6, 1): 2, dt.date(2026, 7, 1): 1}


def test_the_planner_and_the_accept_count_the_same_days(make, setup):
    """A dated one-day audit planned as two days counts two, in the planner as on accept: the
    planner does not propose a lead the accept would refuse."""
    s = setup
    busy = _lead(make, s, "Busy")
    _booked(make, s, busy, dt.date(2026, 6, 2))
    make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16), planned_days=2,
               standards=[s["std"]], starts_at=dt.datetime(2026, 6, 16, 6, 30, tzinfo=dt.UTC),
               ends_at=dt.datetime(2026, 6, 16, 14, 30, tzinfo=dt.UTC))
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert proposals == []
    assert "at their workload limit (2 audit-days a month)" in unplaced[0]["reasons"][0]


def test_people_the_coordinator_put_in_the_team_do_not_block_the_planner(make, setup):
    """Xena is already past the limit in June and the coordinator kept her on this audit (she
    was warned then); the programme ends in June: the planner still dates it in June with a lead
    of its own choosing, and the accept holds only that lead to the limit."""
    s = setup
    s["programme"].period_end = dt.date(2026, 6, 30)
    x, lea = _lead(make, s, "Xena"), _lead(make, s, "Lea")
    _booked(make, s, x, dt.date(2026, 6, 2), days=2)
    audit = make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 6, 16),
                       standards=[s["std"]], team=[(x, TeamRole.AUDITOR)])
    run = plan_programme(s["programme"], now=NOW)
    assert run.unplaced == []
    assert (run.proposals[0]["lead_id"], run.proposals[0]["day"][:7]) == (lea.id, "2026-06")
    assert accept_planner_run(run, actor=None, now=NOW) == 1
    assert workload_warnings(audit) == [
        "Xena has 3 audit-days in June 2026 with this audit: more than the limit of 2 a month."]


def test_the_coordinators_home_counts_who_is_over_the_limit(make, setup, login):
    """Programme health counts the auditor-months past the limit in the coming months, by the
    same rule, and links to the workload page; within the limit it says 0."""
    s = setup
    today = dt.datetime.now(dt.UTC).date()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    s["programme"].period_end = next_month + dt.timedelta(days=60)
    arne = _lead(make, s, "Arne")
    _booked(make, s, arne, next_month + dt.timedelta(days=1), days=2)
    client = login(make.user(roles=(Role.COORDINATOR,)))
    page = client.get("/").get_data(as_text=True)
    assert "Auditors over the workload limit (auditor-months, next 3)</dt><dd>0</dd>" in page
    _booked(make, s, arne, next_month + dt.timedelta(days=8))
    page = client.get("/").get_data(as_text=True)
    assert '<a class="pill warn" href="/programme/workload">1</a>' in page


def test_days_that_keep_the_coordinators_choice_within_the_limit_come_first(make, setup):
    """Xena (put in the team by the coordinator) has July full; the audit is planned on Saturday
    1 Aug: Friday 31 Jul and Monday 3 Aug are equally near, and Monday keeps her within it."""
    s = setup
    x, lea = _lead(make, s, "Xena"), _lead(make, s, "Lea")
    _booked(make, s, x, dt.date(2026, 7, 7), days=2)
    make.audit(programme=s["programme"], site=s["site"], planned_date=dt.date(2026, 8, 1),
               standards=[s["std"]], team=[(x, TeamRole.AUDITOR)])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    assert (proposals[0].day, proposals[0].lead_id) == (dt.date(2026, 8, 3), lea.id)


def test_the_health_count_is_the_workload_pages_people(make, setup):
    """A deactivated auditor still in a team is not on the workload page, nor in its count."""
    from audit.audits.workload import over_limit_months

    s = setup
    gone, here = _lead(make, s, "Gone"), _lead(make, s, "Here")
    for person in (gone, here):
        _booked(make, s, person, dt.date(2026, 6, 2), days=3)
    assert over_limit_months(first=dt.date(2026, 6, 1), months=3) == 2
    gone.is_active = False
    db.session.flush()
    assert over_limit_months(first=dt.date(2026, 6, 1), months=3) == 1
