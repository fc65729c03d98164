"""Generation inside the programme period (issue 14, Found 1 and 2): first occurrences from the
unit's last real audit, clipped into the period; no unit or certification step planned twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Certificate,
    Programme,
    ProgrammeStatus,
    RuleKind,
    ThirdPartyType,
)
from audit.programme.generation import generate_programme
from audit.programme.intervals import interval_slots
from audit.programme.rules import add_rule

NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
D = dt.date


def _programme(start: dt.date, end: dt.date, name: str = "P") -> Programme:
    p = Programme(name=name, period_start=start, period_end=end, status=ProgrammeStatus.DRAFT)
    db.session.add(p)
    db.session.flush()
    return p


@pytest.fixture
def next_year(app):
    return _programme(D(2027, 1, 1), D(2027, 12, 31), "2027")


def _rule_audits(rule):
    return db.session.scalars(select(Audit).where(Audit.rule_id == rule.id, Audit.status != AuditStatus.CANCELLED)
                              .order_by(Audit.planned_date)).all()


def test_interval_slots_clip_into_period_and_respect_other_audits():
    """The first slot is the last audit + interval clipped to the period; an audit planned
    elsewhere within the interval covers its slot and the count restarts from it."""
    assert [s["day"] for s in interval_slots([D(2026, 3, 1)], 12, start=D(2027, 1, 1), until=D(2027, 12, 31))] \
        == [D(2027, 3, 1)]
    assert [s["day"] for s in interval_slots([D(2025, 3, 1)], 12, start=D(2027, 1, 1), until=D(2027, 12, 31))] \
        == [D(2027, 1, 1)]
    assert [s["day"] for s in interval_slots([D(2026, 3, 1), D(2027, 2, 1)], 12, start=D(2027, 1, 1),
                                             until=D(2027, 12, 31))] == []
    assert [s["day"] for s in interval_slots([D(2026, 9, 1), D(2027, 2, 1)], 6, start=D(2027, 1, 1),
                                             until=D(2027, 12, 31))] == [D(2027, 8, 1)]


def test_next_years_risk_audits_fall_in_its_period_with_its_year(make, next_year):
    """Generating in November for next year dates the audit after the unit's last audit +
    interval, inside next year, with next year's reference; a blank first occurrence of a
    never-audited unit starts the period, never today."""
    std = make.standard()
    audited = make.unit(importance=2, change_level=1, maturity_risk=0)  # score 3 → 12 months
    never = make.unit(importance=2, change_level=1, maturity_risk=0)
    for unit in (audited, never):
        unit.standards.append(std)
    make.audit(units=[audited], standards=[std], status=AuditStatus.CLOSED, planned_date=D(2026, 4, 14),
               starts_at=dt.datetime(2026, 4, 14, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 4, 14, 16, tzinfo=dt.UTC))
    r1 = add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": "A", "unit_id": audited.id}, actor=None, now=NOW)
    r2 = add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": "B", "unit_id": never.id}, actor=None, now=NOW)
    generate_programme(next_year, actor=None, now=NOW)
    (a1,), (a2,) = _rule_audits(r1), _rule_audits(r2)
    assert a1.planned_date == D(2027, 4, 14) and a1.reference.startswith("IA-2027-")
    assert a2.planned_date == D(2027, 1, 1) and a2.reference.startswith("IA-2027-")


def test_undated_planned_audit_in_another_programme_is_the_last_audit(make, next_year):
    """An undated, unstaffed audit planned in this year's programme for January counts: next
    year's rule does not plan the unit again in January, and re-running adds nothing."""
    std = make.standard()
    unit = make.unit(importance=2, change_level=1, maturity_risk=0)
    unit.standards.append(std)
    this_year = _programme(D(2026, 1, 1), D(2027, 3, 31), "2026")
    make.audit(units=[unit], standards=[std], programme=this_year, planned_date=D(2027, 1, 19))
    rule = add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": "U", "unit_id": unit.id}, actor=None, now=NOW)
    assert generate_programme(next_year, actor=None, now=NOW) == 0
    assert _rule_audits(rule) == []
    assert generate_programme(next_year, actor=None, now=NOW) == 0


def test_overlapping_programmes_do_not_plan_a_unit_twice(make, next_year):
    """Two programmes with a rule for the same unit: the second one's generation finds the
    first one's audit and plans nothing for that need."""
    std = make.standard()
    unit = make.unit(importance=2, change_level=1, maturity_risk=0)
    unit.standards.append(std)
    make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=D(2026, 2, 1),
               starts_at=dt.datetime(2026, 2, 2, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 2, 2, 16, tzinfo=dt.UTC))
    overlapping = _programme(D(2026, 7, 1), D(2027, 6, 30), "Overlap")
    first = add_rule(overlapping, {"kind": RuleKind.RISK_INTERNAL, "title": "U", "unit_id": unit.id},
                     actor=None, now=NOW)
    second = add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": "U", "unit_id": unit.id},
                      actor=None, now=NOW)
    generate_programme(overlapping, actor=None, now=NOW)
    generate_programme(next_year, actor=None, now=NOW)
    generate_programme(overlapping, actor=None, now=NOW)
    days = [a.planned_date for a in _rule_audits(first) + _rule_audits(second)]
    assert days == [D(2027, 2, 2)]


def test_certification_step_is_never_created_twice(make, next_year):
    """A held surveillance 1 (reported, in another programme) is not created again, the
    upcoming surveillance 2 is created once, and a second programme's rule for the same
    certificate adds nothing."""
    std = make.standard()
    site = make.site()
    cert = Certificate(standard_id=std.id, scope="All", decision_date=D(2025, 9, 30),
                       expiry_date=D(2028, 9, 29), number="Q-1")
    db.session.add(cert)
    db.session.flush()
    make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=ThirdPartyType.SURVEILLANCE, certificate_id=cert.id,
               standards=[std], status=AuditStatus.REPORT_ISSUED, planned_date=D(2026, 8, 31), site=site,
               starts_at=dt.datetime(2026, 8, 31, 7, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 9, 1, 15, tzinfo=dt.UTC))
    add_rule(next_year, {"kind": "certification", "title": "cycle", "certificate_id": cert.id, "site_id": site.id},
             actor=None, now=NOW - dt.timedelta(days=200))
    generate_programme(next_year, actor=None, now=NOW - dt.timedelta(days=200))
    generate_programme(next_year, actor=None, now=NOW)
    other = _programme(D(2027, 1, 1), D(2028, 12, 31), "Cycle")
    add_rule(other, {"kind": "certification", "title": "again", "certificate_id": cert.id, "site_id": site.id},
             actor=None, now=NOW)
    generate_programme(other, actor=None, now=NOW)
    live = db.session.scalars(select(Audit).where(Audit.certificate_id == cert.id,
                                                  Audit.status != AuditStatus.CANCELLED)
                              .order_by(Audit.planned_date)).all()
    steps = [(a.third_party_type, a.planned_date.year) for a in live]
    assert steps == [(ThirdPartyType.SURVEILLANCE, 2026), (ThirdPartyType.SURVEILLANCE, 2027)]
    assert live[1].programme_id == next_year.id and live[1].generation_key.endswith(":surveillance:2")


def test_rules_are_edited_disabled_and_deleted_with_trail_and_reasons(make, next_year, login):
    """Through the pages: the rules page explains the interval; editing, disabling and deleting
    a rule are trailed, and deleting cancels its untouched audits; an approved programme is then
    "changed since approval"; the generated audit's page says why it was planned."""
    from audit.models import ProgrammeRule, Role, TrailEntry

    std = make.standard()
    unit = make.unit(name="Welding", importance=2, change_level=1, maturity_risk=0)
    unit.standards.append(std)
    rule = add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": "Welding", "unit_id": unit.id},
                    actor=None, now=NOW)
    generate_programme(next_year, actor=None, now=NOW)
    next_year.approved_version = next_year.content_version
    client = login(make.user(roles=(Role.COORDINATOR,)))
    page = client.get(f"/programme/{next_year.id}/rules").get_data(as_text=True)
    assert "Risk score 3 = importance 2 + change 1 + history 0 + maturity 0: every 12 months." in page
    (audit,) = _rule_audits(rule)
    assert "Risk score 3" in client.get(f"/audits/{audit.id}").get_data(as_text=True)
    response = client.post(f"/programme/{next_year.id}/rules/{rule.id}/edit", data={
        "kind": "risk_internal", "title": "Welding cell", "unit_id": unit.id, "supplier_id": 0,
        "certificate_id": 0, "site_id": 0, "standard_id": 0, "rrule": "", "starts_on": "",
        "start_time": "09:00", "planned_days": 2, "horizon_months": 15})
    assert response.status_code == 302
    client.post(f"/programme/{next_year.id}/rules/{rule.id}/disable")
    db.session.expire_all()
    assert db.session.get(ProgrammeRule, rule.id).is_active is False
    assert db.session.get(Programme, next_year.id).changed_since_approval
    client.post(f"/programme/{next_year.id}/rules/{rule.id}/delete")
    db.session.expire_all()
    assert db.session.get(ProgrammeRule, rule.id) is None
    assert db.session.get(Audit, audit.id).status is AuditStatus.CANCELLED
    actions = db.session.scalars(select(TrailEntry.action).where(TrailEntry.object_type == "ProgrammeRule")
                                 .order_by(TrailEntry.id)).all()
    assert actions == ["create", "update", "disable", "delete"]


def test_never_audited_units_are_spread_over_the_year_highest_risk_first(make, next_year):
    """Twenty never-audited units do not all start on 1 January: their first audits are spread
    over the year (no month holds more than ceil(N/12) + 1), the highest risk scores come first,
    every day is a working day off the site's holidays, and re-running changes nothing."""
    from audit.audits.dates import is_working_day
    from audit.models import SiteHoliday

    std = make.standard()
    site = make.site()
    # 1 January 2027 is a Friday and a holiday here: the first audit moves to Monday 4 January.
    db.session.add(SiteHoliday(site=site, day=D(2027, 1, 1), name="New Year"))
    units = []
    for n in range(20):
        unit = make.unit(name=f"Unit {n:02d}", site=site, importance=1 + n % 3, change_level=n % 2,
                         maturity_risk=(n // 3) % 2)
        unit.standards.append(std)
        units.append(unit)
    rules = {add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": u.name, "unit_id": u.id},
                      actor=None, now=NOW).id: u for u in units}
    generate_programme(next_year, actor=None, now=NOW)
    audits = db.session.scalars(select(Audit).where(Audit.rule_id.in_(list(rules)))
                                .order_by(Audit.planned_date, Audit.id)).all()
    first = {}
    for audit in audits:
        first.setdefault(audit.rule_id, audit.planned_date)
    assert len(first) == 20
    days = sorted(first.values())
    assert days[0] == D(2027, 1, 4)
    assert all(is_working_day(d, {D(2027, 1, 1)}) and d.year == 2027 for d in days)
    per_month: dict[int, int] = {}
    for d in days:
        per_month[d.month] = per_month.get(d.month, 0) + 1
    assert max(per_month.values()) <= -(-20 // 12) + 1, per_month
    assert len(per_month) >= 10, per_month  # spread, not packed at the start
    scores = {rid: u.importance + u.change_level + u.maturity_risk for rid, u in rules.items()}
    by_day = sorted(first, key=lambda rid: (first[rid], rid))
    assert [scores[r] for r in by_day] == sorted((scores[r] for r in by_day), reverse=True)
    assert generate_programme(next_year, actor=None, now=NOW) == 0
    again = db.session.scalars(select(Audit).where(Audit.rule_id.in_(list(rules)))
                               .order_by(Audit.planned_date, Audit.id)).all()
    assert [(a.rule_id, a.planned_date) for a in again] == [(a.rule_id, a.planned_date) for a in audits]


def test_dating_one_spread_audit_moves_none_of_the_others(make, next_year):
    """Once the coordinator dates and staffs the first never-audited unit's audit, re-running
    generation leaves every other unit's first audit where it was (no re-spacing, no trail)."""
    from audit.models import AuditTeamMember, TeamRole, TrailEntry

    std = make.standard()
    site = make.site()
    units = []
    for n in range(6):
        unit = make.unit(name=f"Unit {n}", site=site, importance=3 - n // 2)
        unit.standards.append(std)
        units.append(unit)
    rules = [add_rule(next_year, {"kind": RuleKind.RISK_INTERNAL, "title": u.name, "unit_id": u.id},
                      actor=None, now=NOW) for u in units]
    generate_programme(next_year, actor=None, now=NOW)
    before = {r.id: [a.planned_date for a in _rule_audits(r)] for r in rules}
    first = _rule_audits(rules[0])[0]
    first.starts_at = dt.datetime.combine(first.planned_date, dt.time(8), tzinfo=dt.UTC)
    db.session.add(AuditTeamMember(audit=first, user=make.user(), role=TeamRole.LEAD))
    db.session.flush()
    trail_before = db.session.scalar(select(func.count()).select_from(TrailEntry))
    generate_programme(next_year, actor=None, now=NOW)
    after = {r.id: [a.planned_date for a in _rule_audits(r)] for r in rules}
    assert after == before
    assert db.session.scalar(select(func.count()).select_from(TrailEntry)) == trail_before
