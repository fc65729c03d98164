"""The travel day between audits in different countries is one rule for the planner and for
every manual change: a team change or a reschedule that breaks it is refused, and a reschedule
may override it with a recorded reason (planning practice, not a norm)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from audit.audits.services import add_team_member, reschedule_audit, update_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import QualificationLevel, TeamRole, TrailEntry

# Thursday 11 and Friday 12 June 2026: two working days in a row; the test clock is in March.
THURSDAY = dt.date(2026, 6, 11)
FRIDAY = THURSDAY + dt.timedelta(days=1)


def _on(make, site, day: dt.date, team=()):
    """An audit at ``site`` on ``day`` (09:00–17:00 there)."""
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


def _form(audit, day: dt.date, **extra) -> dict:
    """The audit's edit form as posted: its scope as it is, its days moved to ``day``."""
    return {"title": audit.title, "kind": "internal", "site_id": audit.site_id,
            "standard_ids": [s.id for s in audit.standards], "unit_ids": [u.id for u in audit.units],
            "starts_local": dt.datetime.combine(day, dt.time(9)),
            "ends_local": dt.datetime.combine(day, dt.time(15)), **extra}


def test_the_edit_form_judges_the_travel_day_only_when_the_days_move(app, make, now, places):
    """The skipped travel day is not reopened by an edit that keeps the days (an earlier end),
    and moving the days onto it again takes the form's own reason, kept in the trail."""
    lead, berlin, _munich, chicago = places
    _on(make, berlin, THURSDAY, team=[(lead, TeamRole.LEAD)])
    abroad = _on(make, chicago, FRIDAY, team=[(lead, TeamRole.LEAD)])  # skipped before, as above
    update_audit(abroad, _form(abroad, FRIDAY), actor=None, now=now, manual=True)  # ends at 15:00 now
    assert abroad.ends_at.astimezone(ZoneInfo("America/Chicago")).hour == 15

    update_audit(abroad, _form(abroad, FRIDAY + dt.timedelta(days=7)), actor=None, now=now, manual=True)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        update_audit(abroad, _form(abroad, FRIDAY), actor=None, now=now, manual=True)
    assert refused.value.field == "date_override_reason"
    assert refused.value.message.endswith("give a reason for the dates to skip the travel day.")
    db.session.rollback()
    abroad = db.session.get(type(abroad), abroad.id)
    update_audit(abroad, _form(abroad, FRIDAY, date_override_reason="Overnight flight booked"),
                 actor=None, now=now, manual=True)
    trail = db.session.scalars(select(TrailEntry).where(
        TrailEntry.object_type == "Audit", TrailEntry.object_id == abroad.id,
        TrailEntry.action == "update").order_by(TrailEntry.id.desc())).first()
    assert trail.changes["date_override_reason"] == "Overnight flight booked"


def test_the_planner_words_the_travel_day_in_its_own_terms(app, make, now, places):
    """Its accept form has no reason field: the refusal points at the reschedule page instead."""
    from audit.programme.planner_accept import PLANNER_TRAVEL_HINT

    lead, berlin, _munich, chicago = places
    _on(make, berlin, THURSDAY, team=[(lead, TeamRole.LEAD)])
    abroad = _on(make, chicago, FRIDAY + dt.timedelta(days=7), team=[(lead, TeamRole.LEAD)])
    with pytest.raises(DomainError) as refused:
        reschedule_audit(abroad, starts_local=dt.datetime.combine(FRIDAY, dt.time(9)),
                         ends_local=dt.datetime.combine(FRIDAY, dt.time(17)), actor=None, now=now,
                         reason="planner", travel_hint=PLANNER_TRAVEL_HINT)
    assert refused.value.message.endswith(PLANNER_TRAVEL_HINT)
    assert "give a reason" not in refused.value.message
