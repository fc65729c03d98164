"""The planner's proposals against what accept will do: a stale proposal never undoes a manual
reschedule, experts and observers cover no standard, and the earliest day is the site's."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.services import reschedule_audit
from audit.audits.team import team_problems, uncovered_standards
from audit.extensions import db
from audit.models import AuditStatus, Programme, QualificationLevel, Role, TeamRole
from audit.programme.planner import plan_programme, propose_plan
from audit.programme.planner_accept import AcceptRefused, accept_planner_run

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # a Tuesday


@pytest.fixture
def setup(planning, make):
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, planning["std"], level=QualificationLevel.LEAD)
    return {**planning, "lead": lead}


def _audit(make, s, planned, **kw):
    kw.setdefault("site", s["site"])
    kw.setdefault("standards", [s["std"]])
    return make.audit(programme=s["programme"], planned_date=planned, **kw)


def test_a_stale_proposal_does_not_undo_a_manual_reschedule(make, setup):
    """Rescheduled by hand after the run, the audit's row is refused by name ("run the planner
    again"); the audit keeps the coordinator's dates; the other row is not blamed."""
    s = setup
    moved = _audit(make, s, dt.date(2026, 6, 9))
    other = _audit(make, s, dt.date(2026, 7, 7))
    run = plan_programme(s["programme"], now=NOW)
    assert {p["audit_id"] for p in run.proposals} == {moved.id, other.id}
    reschedule_audit(moved, starts_local=dt.datetime(2026, 6, 17, 9, 0),
                     ends_local=dt.datetime(2026, 6, 17, 17, 0),
                     actor=None, now=NOW + dt.timedelta(hours=1), reason="the plant asked")
    db.session.commit()  # the run and the manual reschedule came from two earlier requests
    with pytest.raises(AcceptRefused) as refused:
        accept_planner_run(run, actor=None, now=NOW + dt.timedelta(hours=2))
    assert set(refused.value.rows) == {moved.id}
    assert refused.value.rows[moved.id] == (f"{moved.reference} changed since this proposal was made: "
                                           "run the planner again, or leave this row out.")
    db.session.rollback()
    assert moved.local_dates() == (dt.date(2026, 6, 17), dt.date(2026, 6, 17))
    # Left out, the rest of the run still applies.
    assert accept_planner_run(run, actor=None, now=NOW + dt.timedelta(hours=2), skip={moved.id}) == 1


def test_a_run_stored_without_revisions_compares_the_audit_edit_time(make, setup):
    """A run stored before proposals kept the audit's revision: an audit edited after the run
    is refused all the same."""
    s = setup
    moved = _audit(make, s, dt.date(2026, 6, 9))
    run = plan_programme(s["programme"], now=NOW)
    run.proposals = [{k: v for k, v in p.items() if k != "revision"} for p in run.proposals]
    reschedule_audit(moved, starts_local=dt.datetime(2026, 6, 17, 9, 0),
                     ends_local=dt.datetime(2026, 6, 17, 17, 0),
                     actor=None, now=NOW + dt.timedelta(hours=1))
    with pytest.raises(AcceptRefused, match="changed since this proposal was made"):
        accept_planner_run(run, actor=None, now=NOW + dt.timedelta(hours=2))


@pytest.mark.parametrize("role", [TeamRole.TECHNICAL_EXPERT, TeamRole.OBSERVER])
def test_experts_and_observers_cover_no_standard_for_the_planner(make, setup, role):
    """The lead covers ISO 9001; the expert (or observer) already in the team holds an ISO 14001
    qualification but does not audit: the planner adds an ISO 14001 auditor, as accept requires."""
    s = setup
    env = make.standard("ISO 14001")
    expert, auditor = make.user(name="Ed Expert"), make.user(name="Abe Auditor")
    make.qualification(expert, env)
    make.qualification(auditor, env)
    audit = _audit(make, s, dt.date(2026, 6, 9), standards=[s["std"], env], team=[(expert, role)])
    proposals, unplaced = propose_plan(s["programme"], now=NOW)
    assert unplaced == []
    assert proposals[0].lead_id == s["lead"].id and proposals[0].auditor_ids == [auditor.id]
    run = plan_programme(s["programme"], now=NOW)
    assert accept_planner_run(run, actor=None, now=NOW) == 1
    assert audit.status is AuditStatus.SCHEDULED
    assert uncovered_standards(audit, today=NOW.date()) == [] and team_problems(audit, today=NOW.date()) == []


def test_the_earliest_day_is_the_day_after_the_sites_today(make, setup):
    """At 22:30 UTC on Tuesday it is already Wednesday morning in Tokyo: an audit there planned
    for Wednesday goes to Thursday, not to the site's today; a Berlin audit may take Wednesday."""
    s = setup
    late_evening = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)
    tokyo = _audit(make, s, dt.date(2026, 3, 11), site=make.site(timezone="Asia/Tokyo"))
    other = make.user(roles=(Role.AUDITOR,))
    make.qualification(other, s["std"], level=QualificationLevel.LEAD)
    berlin = _audit(make, s, dt.date(2026, 3, 11))
    proposals, unplaced = propose_plan(s["programme"], now=late_evening)
    assert unplaced == []
    days = {p.audit_id: p.day for p in proposals}
    assert days[tokyo.id] == dt.date(2026, 3, 12)
    assert days[berlin.id] == dt.date(2026, 3, 11)


def test_the_earliest_day_is_never_before_the_programme_period(make, setup):
    """Next year's programme starts on its first day, whatever the site's today."""
    s = setup
    s["programme"].period_start, s["programme"].period_end = dt.date(2027, 1, 4), dt.date(2027, 12, 31)
    audit = _audit(make, s, dt.date(2026, 12, 28), site=make.site(timezone="Asia/Tokyo"))
    proposals, _ = propose_plan(s["programme"], now=NOW)
    assert [(p.audit_id, p.day) for p in proposals] == [(audit.id, dt.date(2027, 1, 4))]


def test_the_proposals_cost_the_same_statements_whatever_the_number_of_staffed_audits(
        app, make, setup, count_queries):
    """Coverage counts each audit's team by the services' rule, which reads the members and
    their qualifications: loaded with the audits, not one audit at a time."""
    s = setup

    def add(n: int) -> None:
        for i in range(n):
            auditor = make.user(roles=(Role.AUDITOR,), name=f"Aud {i}")
            make.qualification(auditor, s["std"], level=QualificationLevel.AUDITOR)
            _audit(make, s, dt.date(2026, 6, 9) + dt.timedelta(days=7 * i),
                   team=[(auditor, TeamRole.AUDITOR)])
        db.session.commit()

    def statements() -> int:
        db.session.expire_all()
        with count_queries() as counted:
            propose_plan(db.session.get(Programme, s["programme"].id), now=NOW)
        return counted.count

    add(2)
    few = statements()
    add(6)
    assert statements() == few
