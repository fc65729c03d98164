"""The calendar rule never dates an audit in the past (review "planning", defect 4), and the
planner's refusal of a weekend does not promise a reason field it has not got (defect 6).

``date_problems`` is the one rule: a manual reschedule, the audit form and the planner's accept
all refuse a start before the site's today, and no reason waives it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.dates import OVERRIDE_HINT, date_problems
from audit.audits.services import reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import AuditStatus, QualificationLevel, Role
from audit.programme.planner import plan_programme
from audit.programme.planner_accept import AcceptRefused, accept_planner_run

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # Tuesday 10 March 2026
MONDAY_BEFORE = dt.date(2026, 3, 9)


@pytest.fixture
def programme(app, make):
    return make.programme(name="2026")


def _move(audit, day: dt.date, *, now=NOW, **kw):
    return reschedule_audit(audit, starts_local=dt.datetime.combine(day, dt.time(9)),
                            ends_local=dt.datetime.combine(day, dt.time(17)), actor=None, now=now, **kw)


def test_the_rule_refuses_a_start_before_today_and_no_reason_waives_it(make, programme):
    """A start before ``today`` is a "past" problem, kept with an override reason; today itself
    is fine; without ``today`` (a caller that does not know the clock) nothing is checked."""
    audit = make.audit(programme=programme, planned_date=dt.date(2026, 4, 1))
    problems = date_problems(audit, MONDAY_BEFORE, MONDAY_BEFORE, today=NOW.date(), override_reason="Shutdown")
    assert [p.rule for p in problems] == ["past"]
    assert "Mon 09 Mar 2026 is in the past" in problems[0].message
    assert date_problems(audit, NOW.date(), NOW.date(), today=NOW.date()) == []
    assert date_problems(audit, MONDAY_BEFORE, MONDAY_BEFORE) == []


def test_a_reschedule_into_the_past_is_refused_and_nothing_moves(make, programme):
    """Moving a scheduled audit to last Monday is refused on the start field, even with a
    reason; the audit keeps its dates and revision."""
    start = dt.datetime(2026, 4, 1, 7, tzinfo=dt.UTC)
    audit = make.audit(programme=programme, planned_date=dt.date(2026, 4, 1), status=AuditStatus.SCHEDULED,
                       starts_at=start, ends_at=start + dt.timedelta(hours=8))
    db.session.commit()
    with pytest.raises(DomainError, match="Mon 09 Mar 2026 is in the past") as refused:
        _move(audit, MONDAY_BEFORE, reason="Already held", override_reason="Already held")
    assert refused.value.field == "starts_local"
    db.session.rollback()
    db.session.refresh(audit)
    assert audit.local_dates() == (dt.date(2026, 4, 1), dt.date(2026, 4, 1)) and audit.revision == 0


def test_the_sites_today_counts_not_utc(make, programme):
    """At 03:00 UTC on 10 March it is still 9 March in Chicago: that day is today there, and
    may be chosen; in Berlin it is already yesterday."""
    early = dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC)
    chicago = make.audit(programme=programme, site=make.site(timezone="America/Chicago"),
                         planned_date=dt.date(2026, 4, 1))
    _move(chicago, MONDAY_BEFORE, now=early)
    assert chicago.local_dates()[0] == MONDAY_BEFORE
    berlin = make.audit(programme=programme, planned_date=dt.date(2026, 4, 1))
    with pytest.raises(DomainError, match="is in the past"):
        _move(berlin, MONDAY_BEFORE, now=early)


def test_an_audit_under_way_may_still_be_extended(make, programme):
    """Only a moved start is checked against today: an audit that started yesterday can get one
    more day without a "past" refusal."""
    start = dt.datetime(2026, 3, 9, 7, tzinfo=dt.UTC)
    audit = make.audit(programme=programme, planned_date=MONDAY_BEFORE, status=AuditStatus.IN_PROGRESS,
                       starts_at=start, ends_at=start + dt.timedelta(hours=8))
    reschedule_audit(audit, starts_local=dt.datetime(2026, 3, 9, 8), ends_local=dt.datetime(2026, 3, 10, 17),
                     actor=None, now=NOW)
    assert audit.local_dates() == (MONDAY_BEFORE, NOW.date())


def _form(audit_or_site, std, day: str) -> dict:
    return {"title": "Assembly audit", "kind": "internal", "third_party_type": "", "site_id": audit_or_site.id,
            "programme_id": 0, "supplier_id": 0, "certificate_id": 0, "certification_body_id": 0,
            "checklist_version_id": 0, "standard_ids": [std.id], "planned_days": 1,
            "starts_local": f"{day}T09:00", "ends_local": f"{day}T17:00"}


def test_the_audit_form_refuses_a_past_start(make, login, monkeypatch):
    """Creating an audit on last Monday through the form is refused with the message; nothing
    is stored. Editing an audit's start onto that day is refused the same way."""
    from audit.models import Audit

    monkeypatch.setattr("audit.audits.views.utcnow", lambda: NOW)
    site, std = make.site(), make.standard()
    client = login(make.user(roles=(Role.COORDINATOR,)))
    response = client.post("/audits/new", data=_form(site, std, "2026-03-09"))
    assert response.status_code == 422
    assert "Mon 09 Mar 2026 is in the past" in response.get_data(as_text=True)
    assert db.session.query(Audit).count() == 0
    assert client.post("/audits/new", data=_form(site, std, "2026-03-16")).status_code == 302
    audit = db.session.query(Audit).one()
    response = client.post(f"/audits/{audit.id}/edit",
                           data={**_form(site, std, "2026-03-09"), "version": audit.version_id})
    assert response.status_code == 422 and "is in the past" in response.get_data(as_text=True)


@pytest.fixture
def planned_run(make, programme):
    """A run proposing one internal audit in April, with a qualified lead."""
    std = make.standard()
    lead = make.user(roles=(Role.AUDITOR,))
    make.qualification(lead, std, level=QualificationLevel.LEAD)
    audit = make.audit(programme=programme, planned_date=dt.date(2026, 4, 15), standards=[std])
    run = plan_programme(programme, now=NOW)
    assert [p["audit_id"] for p in run.proposals] == [audit.id]
    return run, audit


def test_the_planners_accept_refuses_an_edited_day_in_the_past(planned_run):
    """A row edited to last Monday is refused beside that row; nothing is applied."""
    run, audit = planned_run
    with pytest.raises(AcceptRefused) as refused:
        accept_planner_run(run, actor=None, now=NOW, edits={audit.id: {"day": MONDAY_BEFORE}})
    assert "Mon 09 Mar 2026 is in the past" in refused.value.rows[audit.id]
    assert audit.starts_at is None and audit.status is AuditStatus.PLANNED


def test_the_planners_weekend_refusal_points_to_the_reschedule_page(planned_run):
    """The accept form has no reason field: its refusal of a Saturday sends the coordinator to
    the audit's reschedule page; the manual reschedule keeps offering the reason."""
    run, audit = planned_run
    saturday = dt.date(2026, 3, 28)
    with pytest.raises(AcceptRefused) as refused:
        accept_planner_run(run, actor=None, now=NOW, edits={audit.id: {"day": saturday}})
    message = refused.value.rows[audit.id]
    assert "Sat 28 Mar 2026 is a weekend day." in message
    assert "reschedule page" in message and "give a reason" not in message
    with pytest.raises(DomainError, match=OVERRIDE_HINT):
        _move(audit, saturday)
