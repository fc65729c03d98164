"""Risk-based intervals, supplier intervals, RRULE expansion across DST, and rule generation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Audit,
    AuditStatus,
    Certificate,
    CertificateStatus,
    Finding,
    Grade,
    Programme,
    ProgrammeStatus,
    RiskClass,
    RuleKind,
)
from audit.programme.generation import extend_horizons, generate_programme
from audit.programme.intervals import (
    expand_rrule,
    history_level,
    risk_interval_months,
    risk_score,
    supplier_interval,
)
from audit.programme.rules import add_rule

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("score", "months"), [(9, 6), (6, 6), (5, 12), (3, 12), (2, 24), (1, 24)])
def test_risk_interval_from_score(score, months):
    """score ≥ 6 → 6 months, 3..5 → 12 months, ≤ 2 → 24 months."""
    assert risk_interval_months(score) == months


def test_risk_score_sums_factors():
    """importance + change + history + maturity."""
    assert risk_score(3, 2, 3, 1) == 9 and risk_score(1, 0, 0, 0) == 1


@pytest.mark.parametrize(("grades", "level"), [
    ([], 0),
    ([(1, Grade.GOOD_PRACTICE)], 0),
    ([(1, Grade.OFI), (1, Grade.OBSERVATION)], 1),
    ([(1, Grade.MINOR), (1, Grade.OFI)], 2),
    ([(1, Grade.MINOR), (2, Grade.MINOR)], 3),  # repeated NC across audits
    ([(1, Grade.MAJOR)], 3),
])
def test_history_level(grades, level):
    """0 clean, 1 OFIs, 2 minor NC, 3 major or repeated NC."""
    assert history_level(grades) == level


def test_supplier_interval_by_risk_status_and_certificate(app, make):
    """High risk 12 months, halved on probation; a valid accredited certificate adds 12 months;
    an expired one brings the next audit forward."""
    std = make.standard()
    today = dt.date(2026, 3, 10)
    s = make.supplier(risk_class=RiskClass.HIGH, approval_status=ApprovalStatus.APPROVED)
    assert supplier_interval(s, [], std.id, today, None).months == 12
    s.approval_status = ApprovalStatus.ON_PROBATION
    assert supplier_interval(s, [], std.id, today, None).months == 6
    low = make.supplier(risk_class=RiskClass.LOW, approval_status=ApprovalStatus.APPROVED)
    valid = Certificate(standard_id=std.id, scope="x", decision_date=dt.date(2025, 1, 1),
                        expiry_date=dt.date(2027, 12, 31), status=CertificateStatus.ACTIVE, is_accredited=True,
                        number="V-1")
    plan = supplier_interval(low, [valid], std.id, today, None)
    assert plan.months == 48 and plan.bring_forward_to is None and "V-1" in plan.reason
    expired = Certificate(standard_id=std.id, scope="x", decision_date=dt.date(2022, 1, 1),
                          expiry_date=dt.date(2025, 12, 31), status=CertificateStatus.ACTIVE, number="E-1")
    plan = supplier_interval(low, [expired], std.id, today, last_audit=dt.date(2024, 5, 1))
    assert plan.months == 36 and plan.bring_forward_to == dt.date(2026, 4, 9)
    assert "expired" in plan.reason
    assert supplier_interval(low, [expired], std.id, today, last_audit=dt.date(2026, 1, 20)).bring_forward_to is None


@pytest.mark.parametrize(("zone", "before", "after"), [
    # 09:00 local, weekly, across the spring change: the UTC hour moves, the wall clock stays.
    ("Europe/Berlin", dt.datetime(2026, 3, 23, 8, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)),
    ("America/Chicago", dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC)),
    ("Asia/Shanghai", dt.datetime(2026, 3, 23, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 30, 1, 0, tzinfo=dt.UTC)),
])
def test_rrule_across_spring_dst(app, zone, before, after):
    """A weekly 09:00 RRULE keeps 09:00 local across the spring DST change in each demo site's zone."""
    first = before.astimezone(__import__("zoneinfo").ZoneInfo(zone)).date()
    occ = expand_rrule("FREQ=WEEKLY;COUNT=2", first, dt.time(9, 0), zone, dt.date(2026, 12, 31))
    assert [start for _, start in occ] == [before, after]


def test_rrule_across_autumn_dst_monthly(app):
    """Monthly on the last Friday at 09:00 Berlin: 07:00 UTC in October, 08:00 UTC in November."""
    occ = expand_rrule("RRULE:FREQ=MONTHLY;BYDAY=-1FR", dt.date(2026, 10, 1), dt.time(9, 0), "Europe/Berlin",
                       dt.date(2026, 11, 30))
    assert occ == [(dt.date(2026, 10, 30), dt.datetime(2026, 10, 30, 8, 0, tzinfo=dt.UTC)),
                   (dt.date(2026, 11, 27), dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC))]
    occ = expand_rrule("FREQ=MONTHLY;BYDAY=-1FR", dt.date(2026, 9, 1), dt.time(9, 0), "Europe/Berlin",
                       dt.date(2026, 9, 30))
    assert occ == [(dt.date(2026, 9, 25), dt.datetime(2026, 9, 25, 7, 0, tzinfo=dt.UTC))]


def test_invalid_rrule_is_refused(app):
    """A malformed RRULE gives a clear message on the field."""
    from audit.core.errors import DomainError

    with pytest.raises(DomainError, match="not a valid RRULE"):
        expand_rrule("FREQ=SOMETIMES", dt.date(2026, 1, 1), dt.time(9), "UTC", dt.date(2026, 2, 1))


@pytest.fixture
def programme(app):
    p = Programme(name="P", period_start=dt.date(2026, 1, 1), period_end=dt.date(2027, 12, 31),
                  status=ProgrammeStatus.ACTIVE, audit_client="CEO")
    db.session.add(p)
    db.session.flush()
    return p


def test_rrule_rule_generates_real_audits_idempotently(make, programme):
    """An RRULE rule generates dated audits over its horizon; running again adds nothing, and a
    rescheduled audit keeps its originally planned date."""
    site = make.site(timezone="America/Chicago")
    rule = add_rule(programme, {"kind": "rrule", "title": "Monthly 5S walk", "site_id": site.id,
                                "rrule": "FREQ=MONTHLY;BYMONTHDAY=15", "starts_on": dt.date(2026, 3, 1),
                                "start_time": "10:00", "horizon_months": 3}, actor=None, now=NOW)
    assert generate_programme(programme, actor=None, now=NOW) == 3
    assert generate_programme(programme, actor=None, now=NOW) == 0
    audits = db.session.scalars(select(Audit).where(Audit.rule_id == rule.id).order_by(Audit.planned_date)).all()
    assert [a.planned_date for a in audits] == [dt.date(2026, 3, 15), dt.date(2026, 4, 15), dt.date(2026, 5, 15)]
    assert audits[0].starts_at == dt.datetime(2026, 3, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 CDT
    from audit.audits.services import reschedule_audit

    reschedule_audit(audits[0], starts_local=dt.datetime(2026, 3, 17, 10), ends_local=dt.datetime(2026, 3, 17, 18),
                     actor=None, now=NOW)
    assert generate_programme(programme, actor=None, now=NOW) == 0
    assert audits[0].planned_date == dt.date(2026, 3, 15)


def test_risk_rule_interval_follows_findings(make, programme):
    """A unit's next audit follows its risk interval and moves sooner when findings raise its history."""
    std = make.standard()
    unit = make.unit(importance=2, change_level=1, maturity_risk=0)  # score 3 → 12 months
    unit.standards.append(std)
    past = make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=dt.date(2026, 1, 12),
                      starts_at=dt.datetime(2026, 1, 12, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 1, 12, 16, tzinfo=dt.UTC))
    rule = add_rule(programme, {"kind": RuleKind.RISK_INTERNAL, "title": "Unit audit", "unit_id": unit.id},
                    actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW)
    planned = db.session.scalars(select(Audit).where(Audit.rule_id == rule.id, Audit.status == AuditStatus.PLANNED)).all()
    assert [a.planned_date for a in planned] == [dt.date(2027, 1, 12)]
    # A major NC on the unit: history 3 → score 6 → every 6 months; the untouched audit moves.
    db.session.add(Finding(reference="F-1", audit_id=past.id, grade=Grade.MAJOR, statement="x", unit_id=unit.id,
                           raised_at=dt.datetime(2026, 1, 12, 12, tzinfo=dt.UTC)))
    db.session.flush()
    extend_horizons(now=NOW)
    planned = db.session.scalars(select(Audit).where(Audit.rule_id == rule.id, Audit.status == AuditStatus.PLANNED)
                                 .order_by(Audit.planned_date)).all()
    # 12 July 2026 is a Sunday: generated days are working days (the Monday after)
    assert [a.planned_date for a in planned] == [dt.date(2026, 7, 13), dt.date(2027, 1, 12)]


def test_certification_rule_generates_cycle_audits(make, programme):
    """A certification rule creates the cycle's surveillance audits within its 15-month horizon."""
    std = make.standard()
    site = make.site()
    cert = Certificate(standard_id=std.id, scope="All", decision_date=dt.date(2025, 6, 2),
                       expiry_date=dt.date(2028, 6, 1), number="Q-1")
    db.session.add(cert)
    db.session.flush()
    add_rule(programme, {"kind": "certification", "title": "ISO 9001 cycle", "certificate_id": cert.id,
                         "site_id": site.id}, actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW)
    audits = db.session.scalars(select(Audit).order_by(Audit.planned_date)).all()
    assert [(a.third_party_type.value, a.planned_date) for a in audits] == [
        # 2 May 2026 is a Saturday and 2 May 2027 a Sunday: each on the Monday after
        ("surveillance", dt.date(2026, 5, 4)), ("surveillance", dt.date(2027, 5, 3))]
    assert audits[0].certificate_id == cert.id and audits[0].kind.value == "third_party"


def test_surveillance_focus_covers_core_and_rotates_the_rest():
    """Each surveillance covers the DOMAIN §3 core; between them they cover every main clause."""
    from audit.programme.cycle import SURVEILLANCE_CORE, surveillance_focus

    main = ["4.1", "4.2", "5.1", "6.1", "6.2", "7.1", "8.1", "8.2", "9.1", "9.2", "9.3", "10.2", "10.3"]
    first, second = surveillance_focus(main, 1, 2), surveillance_focus(main, 2, 2)
    assert set(SURVEILLANCE_CORE) <= set(first) and set(SURVEILLANCE_CORE) <= set(second)
    assert set(first) | set(second) == set(main)
    rest_first, rest_second = set(first) - set(SURVEILLANCE_CORE), set(second) - set(SURVEILLANCE_CORE)
    assert not rest_first & rest_second and abs(len(rest_first) - len(rest_second)) <= 1
    assert first == sorted(first, key=main.index)  # document order kept


def test_certification_surveillances_get_their_clause_focus(make, programme, library):
    """Generated surveillances are narrowed to the core plus their share of ISO 9001's clauses."""
    site = make.site()
    std = library["ISO 9001"]
    cert = Certificate(standard_id=std.id, scope="All", decision_date=dt.date(2025, 6, 2),
                       expiry_date=dt.date(2028, 6, 1), number="Q-2")
    db.session.add(cert)
    db.session.flush()
    add_rule(programme, {"kind": "certification", "title": "ISO 9001 cycle", "certificate_id": cert.id,
                         "site_id": site.id}, actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW)
    s1, s2 = db.session.scalars(select(Audit).order_by(Audit.planned_date)).all()
    first, second = {c.number for c in s1.clauses}, {c.number for c in s2.clauses}
    assert {"9.2", "9.3", "10.2", "6.2", "8.1", "10.3"} <= first & second
    main = {c.number for c in std.clauses if c.depth == 1}
    assert first | second == main and first != second


def test_rule_validation_messages(programme):
    """Rules say what they are missing."""
    from audit.core.errors import DomainError

    with pytest.raises(DomainError, match="A risk-based internal audit rule needs a unit"):
        add_rule(programme, {"kind": "risk_internal", "title": "x"}, actor=None, now=NOW)
    with pytest.raises(DomainError, match="not a valid RRULE"):
        add_rule(programme, {"kind": "rrule", "title": "x", "rrule": "FREQ=NOPE", "site_id": 1}, actor=None, now=NOW)
