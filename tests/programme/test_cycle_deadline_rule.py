"""The certification-cycle deadline is one rule applied everywhere (review "planning", defect 1):
generated cycle audits carry it as ``due_by``, so the planner keeps before it and a manual
reschedule or an edited planner row past it is refused; the certification sweep warns as soon
as the covering audit is dated after it, also for audits generated before they carried it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.audits.services import reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Certificate,
    Notification,
    Programme,
    ProgrammeStatus,
    Role,
    ThirdPartyType,
    TrailEntry,
)
from audit.organisation.services import default_expiry
from audit.programme.deadlines import send_certification_warnings
from audit.programme.generation import generate_programme
from audit.programme.planner import plan_programme
from audit.programme.planner_accept import AcceptRefused, accept_planner_run
from audit.programme.rules import add_rule

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)
DECISION = dt.date(2026, 3, 10)
S1_DUE = dt.date(2027, 3, 10)  # NORM: surveillance 1 within 12 months of the decision


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(6), dt.UTC)


@pytest.fixture
def cert(app, make):
    std = make.standard("ISO 14001")
    cert = Certificate(standard_id=std.id, scope="All", decision_date=DECISION,
                       expiry_date=default_expiry(DECISION), number="EM-2026-0001")
    db.session.add(cert)
    db.session.flush()
    return cert


def _cycle_programme(make, cert, last_day: dt.date, **generation) -> Programme:
    """A programme from 2026 to ``last_day`` with the certificate's cycle rule, generated."""
    programme = Programme(name="P", period_start=dt.date(2026, 1, 1), period_end=last_day,
                          status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    db.session.flush()
    add_rule(programme, {"kind": "certification", "title": "ISO 14001 cycle", "certificate_id": cert.id,
                         "site_id": make.site().id}, actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW, **generation)
    return programme


@pytest.fixture
def surveillance(make, cert):
    """Surveillance 1 as a certification rule generates it for a 2026–2027 programme."""
    _cycle_programme(make, cert, dt.date(2027, 12, 31))
    return db.session.scalars(select(Audit).where(Audit.third_party_type == ThirdPartyType.SURVEILLANCE)).one()


def test_a_generated_surveillance_carries_its_cycle_deadline(surveillance):
    """Surveillance 1 is planned a month ahead of its deadline and must happen by it."""
    assert surveillance.planned_date == dt.date(2027, 2, 10)
    assert surveillance.due_by == S1_DUE


def test_planner_and_accept_keep_the_deadline(surveillance):
    """The planner proposes a day by the deadline; an accepted row edited past it is refused
    with the deadline's message and nothing is applied."""
    run = plan_programme(surveillance.programme, now=NOW)
    (proposal,) = run.proposals
    assert dt.date.fromisoformat(proposal["day"]) <= S1_DUE
    with pytest.raises(AcceptRefused) as refused:
        accept_planner_run(run, actor=None, now=NOW, edits={surveillance.id: {"day": dt.date(2027, 4, 15)}})
    assert "must happen by 10 Mar 2027" in refused.value.rows[surveillance.id]
    assert surveillance.starts_at is None and surveillance.status is AuditStatus.PLANNED


def test_a_manual_reschedule_past_the_deadline_is_refused(surveillance):
    """Moving surveillance 1 to 3 May 2027 by hand is refused on the start field."""
    with pytest.raises(DomainError, match="must happen by 10 Mar 2027") as refused:
        reschedule_audit(surveillance, starts_local=dt.datetime(2027, 5, 3, 8, 30),
                         ends_local=dt.datetime(2027, 5, 3, 16, 30), actor=None, now=NOW)
    assert refused.value.field == "starts_local"


def test_regeneration_gives_an_untouched_older_audit_its_deadline(surveillance):
    """An untouched surveillance generated before cycle steps carried a deadline gets it on the
    next run, with a trail entry."""
    surveillance.due_by = None
    generate_programme(surveillance.programme, actor=None, now=NOW)
    assert surveillance.due_by == S1_DUE
    entry = db.session.scalars(select(TrailEntry).where(TrailEntry.action == "regenerate")).one()
    assert "must happen by 10 Mar 2027" in entry.summary


def test_a_scheduled_surveillance_takes_a_sooner_cycle_deadline_never_a_later_one(make, cert):
    """Surveillance 2 is scheduled by hand (a person owns it now); surveillance 1 then moves into
    2026, so surveillance 2 is due by the end of 2027, not 2028: regeneration gives the touched
    audit that sooner deadline (trailed), and a reschedule past it is refused. When surveillance 1
    moves back into 2027, the later deadline is the coordinator's to relax: it is kept."""
    programme = _cycle_programme(make, cert, dt.date(2028, 12, 31), horizon_months=36)
    s1, s2 = db.session.scalars(select(Audit).where(Audit.third_party_type == ThirdPartyType.SURVEILLANCE)
                                .order_by(Audit.planned_date)).all()
    assert (s1.due_by, s2.due_by) == (S1_DUE, dt.date(2028, 12, 31))
    reschedule_audit(s2, starts_local=dt.datetime(2027, 11, 8, 8, 30), ends_local=dt.datetime(2027, 11, 8, 16, 30),
                     actor=None, now=NOW)
    reschedule_audit(s1, starts_local=dt.datetime(2026, 12, 7, 8, 30), ends_local=dt.datetime(2026, 12, 7, 16, 30),
                     actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW, horizon_months=36)
    assert s2.due_by == dt.date(2027, 12, 31)
    assert db.session.scalar(select(TrailEntry.summary).where(
        TrailEntry.object_id == s2.id, TrailEntry.action == "regenerate")).endswith("must happen by 31 Dec 2027 "
                                                                                     "(rule “ISO 14001 cycle”)")
    with pytest.raises(DomainError, match="must happen by 31 Dec 2027"):
        reschedule_audit(s2, starts_local=dt.datetime(2028, 2, 7, 8, 30),
                         ends_local=dt.datetime(2028, 2, 7, 16, 30), actor=None, now=NOW)

    reschedule_audit(s1, starts_local=dt.datetime(2027, 2, 8, 8, 30), ends_local=dt.datetime(2027, 2, 8, 16, 30),
                     actor=None, now=NOW)
    generate_programme(programme, actor=None, now=NOW, horizon_months=36)
    assert s2.due_by == dt.date(2027, 12, 31)


def _bodies() -> list[str]:
    return db.session.scalars(select(Notification.body).where(Notification.kind == "certification_deadline")
                              .order_by(Notification.id)).all()


def test_the_sweep_warns_when_the_covering_audit_is_after_the_deadline(make, cert):
    """A surveillance without ``due_by`` (made before the rule was applied) scheduled on 3 May
    2027: the December sweep warns at once, though the deadline is three months off; the same
    date is not warned twice, a new late date is; the countdown warnings say it too."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    start = dt.datetime(2027, 5, 3, 6, 30, tzinfo=dt.UTC)
    audit = make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=ThirdPartyType.SURVEILLANCE,
                       certificate_id=cert.id, planned_date=dt.date(2027, 2, 10), status=AuditStatus.SCHEDULED,
                       starts_at=start, ends_at=start + dt.timedelta(hours=8))
    assert audit.due_by is None
    assert send_certification_warnings(now=_at(dt.date(2026, 12, 3))) == 1
    late = f"audit {audit.reference} is scheduled on 03 May 2027, after the deadline."
    assert _bodies() == [f"Certificate EM-2026-0001: surveillance 1 is due by 10 Mar 2027; {late}"]
    notice = db.session.scalars(select(Notification)).one()
    assert notice.user_id == coordinator.id and notice.link == f"/audits/{audit.id}"
    assert send_certification_warnings(now=_at(dt.date(2026, 12, 4))) == 0
    audit.starts_at, audit.ends_at = start + dt.timedelta(days=1), audit.ends_at + dt.timedelta(days=1)
    assert send_certification_warnings(now=_at(dt.date(2026, 12, 5))) == 1
    assert "scheduled on 04 May 2027, after the deadline" in _bodies()[-1]
    assert send_certification_warnings(now=_at(dt.date(2027, 1, 15))) == 1  # 60 days left
    assert "after the deadline" in _bodies()[-1]


def test_the_sweep_stays_quiet_for_an_audit_on_time(make, cert):
    """Dated before its deadline and far from it: no warning; near it: the usual countdown."""
    make.user(roles=(Role.COORDINATOR,))
    start = dt.datetime(2027, 2, 10, 7, 30, tzinfo=dt.UTC)
    audit = make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=ThirdPartyType.SURVEILLANCE,
                       certificate_id=cert.id, planned_date=dt.date(2027, 2, 10), status=AuditStatus.SCHEDULED,
                       starts_at=start, ends_at=start + dt.timedelta(hours=8))
    assert send_certification_warnings(now=_at(dt.date(2026, 12, 3))) == 0
    assert send_certification_warnings(now=_at(dt.date(2027, 1, 15))) == 1
    assert _bodies() == [f"Certificate EM-2026-0001: surveillance 1 is due by 10 Mar 2027; "
                         f"audit {audit.reference} is scheduled."]
