"""One calendar rule for every change (issue 14, Found 5): a manual reschedule to a weekend or a
site holiday needs a recorded reason; days outside the programme period are refused."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.dates import date_problems
from audit.audits.services import reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Programme, ProgrammeStatus, SiteHoliday
from audit.trail.services import entries_for

NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)


@pytest.fixture
def berlin_audit(app, make):
    site = make.site(name="Berlin", timezone="Europe/Berlin")
    db.session.add(SiteHoliday(site=site, day=dt.date(2026, 12, 25), name="Christmas Day"))
    programme = Programme(name="2026", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                          status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    return make.audit(site=site, programme=programme, planned_date=dt.date(2026, 12, 14))


def _move(audit, day: dt.date, **kw):
    return reschedule_audit(audit, starts_local=dt.datetime.combine(day, dt.time(9)),
                            ends_local=dt.datetime.combine(day, dt.time(17)), actor=None, now=NOW, **kw)


def test_saturday_and_christmas_in_berlin_are_refused_without_a_reason(berlin_audit):
    """Rescheduling to a Saturday or to 25 December at a Berlin site (a holiday) is refused with
    a message on the reason field; nothing moves."""
    with pytest.raises(DomainError, match="Sat 19 Dec 2026 is a weekend day") as saturday:
        _move(berlin_audit, dt.date(2026, 12, 19))
    assert saturday.value.field == "reason"
    with pytest.raises(DomainError, match="Fri 25 Dec 2026 is a holiday at Berlin"):
        _move(berlin_audit, dt.date(2026, 12, 25))


def test_a_recorded_reason_overrides_a_weekend(berlin_audit):
    """With a reason the Saturday is accepted and the reason is in the trail."""
    _move(berlin_audit, dt.date(2026, 12, 19), reason="Shutdown audit", override_reason="Shutdown audit")
    assert berlin_audit.local_dates() == (dt.date(2026, 12, 19), dt.date(2026, 12, 19))
    entry = entries_for(berlin_audit, limit=1)[0]
    assert entry.changes["override_reason"] == "Shutdown audit"


def test_days_outside_the_programme_period_are_refused_even_with_a_reason(berlin_audit):
    """The programme period is not waivable."""
    with pytest.raises(DomainError, match="runs from 01 Jan 2026 to 31 Dec 2026"):
        _move(berlin_audit, dt.date(2027, 1, 5), override_reason="because")


def test_working_day_inside_the_period_has_no_problem(berlin_audit):
    """A Monday that is no holiday, inside the period, breaks no calendar rule."""
    assert date_problems(berlin_audit, dt.date(2026, 12, 14), dt.date(2026, 12, 14)) == []


def test_the_audit_form_keeps_the_same_calendar_rule(berlin_audit, make, login):
    """Editing an audit's dates on its form onto Christmas is refused with the message on the
    reason field; with a reason it is saved and the reason is trailed."""
    from audit.models import Audit, Role, TrailEntry

    std = make.standard()
    berlin_audit.standards.append(std)
    client = login(make.user(roles=(Role.COORDINATOR,)))
    form = client.get(f"/audits/{berlin_audit.id}/edit").get_data(as_text=True)
    assert 'name="date_override_reason"' in form
    data = {"title": berlin_audit.title, "kind": "internal", "third_party_type": "", "programme_id": berlin_audit.programme_id,
            "site_id": berlin_audit.site_id, "supplier_id": 0, "certificate_id": 0, "certification_body_id": 0,
            "standard_ids": [std.id], "planned_date": "2026-12-14", "planned_days": 1, "checklist_version_id": 0,
            "starts_local": "2026-12-25T09:00", "ends_local": "2026-12-25T17:00", "version": berlin_audit.version_id}
    response = client.post(f"/audits/{berlin_audit.id}/edit", data=data)
    assert response.status_code != 302 and "Fri 25 Dec 2026 is a holiday at Berlin" in response.get_data(as_text=True)
    response = client.post(f"/audits/{berlin_audit.id}/edit", data={**data, "date_override_reason": "Shutdown"})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    db.session.expire_all()
    assert db.session.get(Audit, berlin_audit.id).local_dates()[0] == dt.date(2026, 12, 25)
    entry = db.session.query(TrailEntry).filter_by(object_type="Audit", action="update").order_by(TrailEntry.id.desc()).first()
    assert entry.changes["date_override_reason"] == "Shutdown"
