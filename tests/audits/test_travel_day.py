"""The travel day between audits in different countries is one rule for the planner and for
every manual change: a team change or a reschedule that breaks it is refused, and a reschedule
may override it with a recorded reason (planning practice, not a norm)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.audits.services import add_team_member, reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import QualificationLevel, TeamRole, TrailEntry

# Thursday 11 and Friday 12 June 2026: two working days in a row; the test clock is in March.
THURSDAY = dt.date(2026, 6, 11)
FRIDAY = THURSDAY + dt.timedelta(days=1)


def _on(make, site, day: dt.date, team=()):
    """An audit at ``site`` on ``day`` (09:00–17:00 there)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(site.timezone)
    starts = dt.datetime.combine(day, dt.time(9), tzinfo=zone).astimezone(dt.UTC)
    audit = make.audit(site=site, starts_at=starts, ends_at=starts + dt.timedelta(hours=8), team=list(team))
    audit.standards = [make.standard()]
    db.session.flush()
    return audit


@pytest.fixture
def places(make):
    lead = make.user(name="Carla Lead")
    make.qualification(lead, level=QualificationLevel.LEAD)
    berlin = make.site(name="Berlin", timezone="Europe/Berlin")
    munich = make.site(name="Munich", timezone="Europe/Berlin")
    chicago = make.site(name="Chicago", timezone="America/Chicago")
    return lead, berlin, munich, chicago


def test_a_team_change_leaves_a_travel_day_between_countries(app, make, now, places):
    lead, berlin, munich, chicago = places
    _on(make, berlin, THURSDAY, team=[(lead, TeamRole.LEAD)])
    abroad = _on(make, chicago, FRIDAY)
    with pytest.raises(DomainError) as refused:
        add_team_member(abroad, lead, TeamRole.LEAD, actor=None, now=now)
    assert "leave a travel day between audits in different countries (US here)" in refused.value.message
    assert "in DE on Thu 11 Jun 2026" in refused.value.message
    # the same country the next day is no journey at all
    add_team_member(_on(make, munich, FRIDAY), lead, TeamRole.LEAD, actor=None, now=now)


def test_a_reschedule_breaking_it_is_refused_unless_a_reason_is_recorded(app, make, now, places):
    lead, berlin, _munich, chicago = places
    _on(make, berlin, THURSDAY, team=[(lead, TeamRole.LEAD)])
    abroad = _on(make, chicago, FRIDAY + dt.timedelta(days=7), team=[(lead, TeamRole.LEAD)])
    friday = dict(starts_local=dt.datetime.combine(FRIDAY, dt.time(9)),
                  ends_local=dt.datetime.combine(FRIDAY, dt.time(17)))
    db.session.commit()  # the refused attempt is rolled back to here
    with pytest.raises(DomainError) as refused:
        reschedule_audit(abroad, **friday, actor=None, now=now)  # as the planner's accept calls it
    assert refused.value.field == "reason"
    assert refused.value.message.endswith("Choose other days, or give a reason to skip the travel day.")
    db.session.rollback()

    abroad = db.session.get(type(abroad), abroad.id)
    reschedule_audit(abroad, **friday, actor=None, now=now, override_reason="Overnight flight booked")
    trail = db.session.scalars(select(TrailEntry).where(
        TrailEntry.object_type == "Audit", TrailEntry.object_id == abroad.id,
        TrailEntry.action == "reschedule")).one()
    assert trail.changes["override_reason"] == "Overnight flight booked"
    assert abroad.local_dates() == (FRIDAY, FRIDAY)
