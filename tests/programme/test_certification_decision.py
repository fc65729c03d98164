"""After the recertification (or stage 2) audit: the certification decision waits for the
coordinators until it is recorded on the certificate, and the certificate's expiry is warned of
meanwhile (every cycle step is done, so no step warns any more)."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.extensions import db
from audit.models import (
    AuditKind,
    AuditStatus,
    Certificate,
    CertificateStatus,
    Role,
    ThirdPartyType,
)
from audit.organisation.services import default_expiry, update_certificate
from audit.programme.waiting import waiting_source
from tests.journey import at, notice_titles, run_job, waiting_items

D = dt.date
S, R, STAGE2 = ThirdPartyType.SURVEILLANCE, ThirdPartyType.RECERTIFICATION, ThirdPartyType.STAGE2
JOB = "certification_deadlines"


def certificate(make, decision, expiry=None, **kw):
    """A certificate decided on ``decision`` (ours unless ``supplier_id`` is given)."""
    std = make.standard()
    cert = Certificate(standard_id=std.id, scope="All", decision_date=decision,
                       expiry_date=expiry or default_expiry(decision), number=f"Q-{std.id}", **kw)
    db.session.add(cert)
    db.session.flush()
    return cert, std


def held(make, cert, std, day, type_):
    """A third-party audit of ``cert`` held (report issued) on ``day``."""
    start = dt.datetime.combine(day, dt.time(7), dt.UTC)
    return make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=type_, certificate_id=cert.id,
                      standards=[std], planned_date=day, status=AuditStatus.REPORT_ISSUED,
                      starts_at=start, ends_at=start + dt.timedelta(hours=8))


@pytest.fixture
def people(app, make):
    """Two coordinators, and people the decision is not the turn of."""
    people = {"cora": make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator"),
              "cody": make.user(roles=(Role.COORDINATOR,), name="Cody Coordinator"),
              "admin": make.user(roles=(Role.ADMIN,), name="Adam Admin"),
              "auditor": make.user(roles=(Role.AUDITOR,), name="Ari Auditor")}
    db.session.commit()
    return people


def _recertified(make):
    """Our certificate decided 15 Mar 2023 (expiry 14 Mar 2026), its whole cycle held: the
    recertification on 10 Dec 2025."""
    cert, std = certificate(make, D(2023, 3, 15))
    for day, type_ in ((D(2024, 2, 15), S), (D(2025, 2, 14), S), (D(2025, 12, 10), R)):
        recert = held(make, cert, std, day, type_)
    db.session.commit()
    return cert, std, recert


def _decision_notices(user) -> list[str]:
    return [t for t in notice_titles(user, kind="certification_deadline") if "decision" in t]


def test_expiry_is_warned_until_the_new_decision_is_recorded(app, make, people):
    """Recertification held, no new decision: 60 and 14 days before expiry every coordinator is
    warned once per stage; the decision waits for them, due on the expiry; recorded, both stop."""
    cert, std, recert = _recertified(make)
    run_job(app, at(D(2026, 1, 5)), job=JOB)  # 68 days before expiry: not yet
    assert _decision_notices(people["cora"]) == []
    items = waiting_items(app, people["cora"], at(D(2026, 1, 5)), step="record_decision")
    assert [(i.key, i.due_on, i.due_label, i.overdue, i.url) for i in items] == [
        (cert.number, D(2026, 3, 14), "Expiry", False, f"/organisation/certificates/{cert.id}")]
    assert recert.reference in items[0].title

    run_job(app, at(D(2026, 1, 14)), job=JOB)  # 59 days before expiry
    run_job(app, at(D(2026, 1, 15)), job=JOB)  # the same stage: not again
    expected = [f"{std.code} certificate expires on 14 Mar 2026: no new certification decision recorded"]
    assert _decision_notices(people["cora"]) == expected
    assert _decision_notices(people["cody"]) == expected
    run_job(app, at(D(2026, 3, 1)), job=JOB)  # 13 days before expiry
    assert len(_decision_notices(people["cora"])) == 2
    for other in ("admin", "auditor"):
        assert _decision_notices(people[other]) == []
        assert waiting_items(app, people[other], at(D(2026, 3, 1)), step="record_decision") == []

    update_certificate(cert, {"standard_id": std.id, "scope": "All", "decision_date": D(2026, 3, 2),
                              "expiry_date": D(2029, 3, 14), "cycle_number": 2},
                       actor=None, now=at(D(2026, 3, 2)))
    db.session.commit()
    assert waiting_items(app, people["cora"], at(D(2026, 3, 3)), step="record_decision") == []
    run_job(app, at(D(2026, 3, 3)), job=JOB)
    assert len(_decision_notices(people["cora"])) == 2


def test_a_decision_still_missing_after_expiry_is_overdue(app, make, people):
    """Past the expiry with no decision recorded: the item stays, overdue (restoration is still
    possible, DOMAIN.md §3)."""
    cert, _std, _recert = _recertified(make)
    items = waiting_items(app, people["cora"], at(D(2026, 3, 20)), step="record_decision")
    assert [(i.due_on, i.overdue) for i in items] == [(D(2026, 3, 14), True)]


def test_after_stage_2_the_decision_is_due_within_six_months(app, make, people):
    """A stage 2 held on 2 Feb 2026 for a certificate long expired: its decision waits for the
    coordinators, due six months after stage 2's last day (its majors' corrections must be
    verified by then, or stage 2 is repeated); an audit before the recorded decision, or a
    supplier's certificate, waits for nobody."""
    cert, std = certificate(make, D(2020, 1, 10), status=CertificateStatus.EXPIRED)
    held(make, cert, std, D(2019, 12, 2), STAGE2)  # decided on 10 Jan 2020
    stage2 = held(make, cert, std, D(2026, 2, 2), STAGE2)
    supplier_cert, supplier_std = certificate(make, D(2023, 3, 15), supplier_id=make.supplier().id)
    held(make, supplier_cert, supplier_std, D(2025, 12, 10), R)
    db.session.commit()
    items = waiting_items(app, people["cora"], at(D(2026, 3, 10)), step="record_decision")
    assert [(i.key, i.due_on, i.due_label, i.overdue) for i in items] == [
        (cert.number, D(2026, 8, 2), "Stage 2 + 6 months", False)]
    assert stage2.reference in items[0].title
    later = waiting_items(app, people["cora"], at(D(2026, 8, 3)), step="record_decision")
    assert [i.overdue for i in later] == [True]
    run_job(app, at(D(2026, 3, 10)), job=JOB)  # an expired certificate's cycle no longer runs
    assert _decision_notices(people["cora"]) == []


def test_the_decisions_cost_one_query_whatever_the_number_of_certificates(app, make, people, count_queries):
    """One certificate awaiting its decision or three: the coordinator's programme items send
    the same number of queries."""
    def add(n):
        for _ in range(n):
            cert, std = certificate(make, D(2023, 3, 15))
            held(make, cert, std, D(2025, 12, 10), R)
        db.session.commit()

    add(1)
    db.session.expire_all()
    with app.test_request_context(), count_queries() as few:
        assert len(waiting_source(people["cora"], at(D(2026, 1, 5)))) == 1
    add(2)
    db.session.expire_all()
    with app.test_request_context(), count_queries() as many:
        assert len(waiting_source(people["cora"], at(D(2026, 1, 5)))) == 3
    assert many.count == few.count, many.statements
