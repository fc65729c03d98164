"""Generated audits are planned on working days: the calendar rule the planner and every manual
change keep (weekends and the site's holidays) applies to the days generation picks, so no
audit shows on the programme or in an auditee's feed on a Saturday."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.models import Audit, AuditStatus, Programme, ProgrammeStatus, RuleKind, SiteHoliday
from audit.programme.generation import generate_programme
from audit.programme.rules import add_rule

NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
D = dt.date


def test_an_interval_ending_on_a_weekend_and_a_holiday_moves_to_the_next_working_day(app, make):
    programme = Programme(name="2027", period_start=D(2027, 1, 1), period_end=D(2027, 12, 31),
                          status=ProgrammeStatus.DRAFT)
    db.session.add(programme)
    std = make.standard()
    site = make.site()
    db.session.add(SiteHoliday(site=site, day=D(2027, 3, 15), name="Plant shutdown"))
    unit = make.unit(site=site, importance=2, change_level=1, maturity_risk=0)  # every 12 months
    unit.standards.append(std)
    # Last audited Friday 13 March 2026: twelve months on is Saturday 13 March 2027.
    make.audit(units=[unit], standards=[std], site=site, status=AuditStatus.CLOSED, planned_date=D(2026, 3, 13),
               starts_at=dt.datetime(2026, 3, 13, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2026, 3, 13, 16, tzinfo=dt.UTC))
    rule = add_rule(programme, {"kind": RuleKind.RISK_INTERNAL, "title": "Unit", "unit_id": unit.id},
                    actor=None, now=NOW)

    generate_programme(programme, actor=None, now=NOW)
    (audit,) = db.session.scalars(select(Audit).where(Audit.rule_id == rule.id)).all()
    assert audit.planned_date == D(2027, 3, 16)  # not Sat 13, Sun 14, nor the shutdown on Mon 15
    assert generate_programme(programme, actor=None, now=NOW) == 0  # the same day on every run
    assert db.session.scalar(select(Audit.planned_date).where(Audit.rule_id == rule.id)) == D(2027, 3, 16)
