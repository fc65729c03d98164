"""Keeping the certificate alive (review "certificate", defects 1, 2 and 4): a renewed
certificate is judged on its new cycle alone, a computed step is never quoted as a planned
audit, and a suspended or withdrawn certificate is treated as the certification body decided
(the status notice: tests/organisation/test_certificate_edits.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from audit.audits.services import create_audit, reschedule_audit
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Certificate,
    CertificateStatus,
    Programme,
    ProgrammeStatus,
    Role,
    ThirdPartyType,
)
from audit.organisation.services import default_expiry, update_certificate
from audit.programme.deadlines import cycle_warnings, send_certification_warnings
from audit.programme.generation import generate_programme
from audit.programme.rules import add_rule

D = dt.date
S, R = ThirdPartyType.SURVEILLANCE, ThirdPartyType.RECERTIFICATION


def certificate(make, decision, expiry=None, **kw):
    """Our certificate decided on ``decision`` (expiry by the CB convention unless given)."""
    std = make.standard()
    cert = Certificate(standard_id=std.id, scope="All", decision_date=decision,
                       expiry_date=expiry or default_expiry(decision), number="Q-1", **kw)
    db.session.add(cert)
    db.session.flush()
    return cert, std


def held(make, cert, std, site, day, type_):
    """A third-party audit of ``cert`` held (report issued) on ``day``."""
    start = dt.datetime.combine(day, dt.time(7), dt.UTC)
    return make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=type_, certificate_id=cert.id,
                      site=site, standards=[std], planned_date=day, status=AuditStatus.REPORT_ISSUED,
                      starts_at=start, ends_at=start + dt.timedelta(hours=8))


def test_a_renewed_certificate_is_judged_on_its_new_cycle_alone(app, make):
    """The previous cycle's audits stand in for none of the new cycle's steps: the renewed
    certificate warns exactly as a certificate decided on the same day with no audit."""
    cert, std = certificate(make, D(2023, 3, 15))
    site = make.site()
    audits = [held(make, cert, std, site, day, t)
              for day, t in ((D(2024, 2, 15), S), (D(2025, 2, 14), S), (D(2025, 12, 10), R))]
    update_certificate(cert, {"standard_id": std.id, "scope": "All", "decision_date": D(2026, 2, 1),
                              "expiry_date": D(2029, 1, 31), "cycle_number": 2}, actor=None,
                       now=dt.datetime(2026, 2, 2, tzinfo=dt.UTC))
    fresh, _ = certificate(make, D(2026, 2, 1), D(2029, 1, 31))
    renewed = cycle_warnings(cert, audits, today=D(2026, 3, 10))
    assert renewed == cycle_warnings(fresh, [], today=D(2026, 3, 10))
    assert renewed == ["Surveillance 1 is not planned yet: due by 01 Feb 2027."]


def test_a_step_not_planned_is_never_quoted_as_an_audit_date(app, make):
    """Surveillance 1 is within the horizon with no audit, surveillance 2 beyond it: the
    warning says surveillance 1 is not planned yet, and no computed date is called late."""
    cert, _std = certificate(make, D(2026, 2, 1))
    warnings = cycle_warnings(cert, [], today=D(2026, 3, 10))
    assert warnings == ["Surveillance 1 is not planned yet: due by 01 Feb 2027."]
    assert not any("later than" in w or "No surveillance audit planned" in w for w in warnings)


def test_a_step_held_early_does_not_make_the_next_computed_one_late(app, make):
    """Surveillance 1 held six weeks early (20 Dec 2025) moves surveillance 2's deadline to
    31 Dec 2026, a day before its computed date: that date is no audit, so it is not "later
    than" anything, and beyond the horizon it is not reported at all."""
    cert, std = certificate(make, D(2025, 2, 1))
    early = held(make, cert, std, make.site(), D(2025, 12, 20), S)
    assert cycle_warnings(cert, [early], today=D(2025, 12, 21), horizon_months=6) == []


def test_a_suspended_certificate_is_still_swept(app, make):
    """Missing a surveillance is what turns a suspension into a withdrawal: a suspended
    certificate's surveillance deadline is warned about as an active one's is."""
    make.user(roles=(Role.COORDINATOR,))
    certificate(make, D(2025, 4, 1), status=CertificateStatus.SUSPENDED)  # S1 due 1 Apr 2026
    assert send_certification_warnings(now=dt.datetime(2026, 3, 25, 6, tzinfo=dt.UTC)) > 0


def test_a_withdrawn_certificate_generates_no_cycle_audit(app, make):
    """A withdrawn certificate's certification rule generates nothing; a suspended one's does."""
    programme = Programme(name="P", period_start=D(2026, 1, 1), period_end=D(2027, 12, 31),
                          status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    db.session.flush()
    now = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    made = {}
    for status in (CertificateStatus.WITHDRAWN, CertificateStatus.EXPIRED, CertificateStatus.SUSPENDED):
        cert, _std = certificate(make, D(2025, 6, 1), status=status)
        add_rule(programme, {"kind": "certification", "title": f"cycle {status.value}",
                             "certificate_id": cert.id, "site_id": make.site().id}, actor=None, now=now)
        generate_programme(programme, actor=None, now=now)
        made[status] = db.session.scalar(select(func.count(Audit.id)).where(Audit.certificate_id == cert.id))
    assert made[CertificateStatus.WITHDRAWN] == 0
    assert made[CertificateStatus.EXPIRED] == 0
    assert made[CertificateStatus.SUSPENDED] > 0


def test_the_cycles_page_shows_a_suspension(app, make, login):
    """The pill says what the certification body decided, not what the dates alone say."""
    coord = make.user(roles=(Role.COORDINATOR,))
    certificate(make, D(2025, 4, 1), status=CertificateStatus.SUSPENDED)
    html = login(coord).get("/programme/cycles").get_data(as_text=True)
    assert 'pill ok">valid' not in html
    assert 'pill bad">suspended' in html



def test_a_surveillance_entered_by_hand_must_happen_by_its_cycle_deadline(app, make):
    """Generated cycle audits carried "must happen by"; one entered on the audit form did not, so
    a reschedule past the surveillance deadline was accepted and only the sweep warned after."""
    cert, std = certificate(make, D(2025, 4, 1))  # surveillance 1 due by 1 Apr 2026
    site = make.site(timezone="UTC")
    now = dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)
    audit = create_audit({"title": "Surveillance 1", "kind": AuditKind.THIRD_PARTY,
                          "third_party_type": ThirdPartyType.SURVEILLANCE, "certificate_id": cert.id,
                          "site_id": site.id, "standard_ids": [std.id], "planned_date": D(2026, 3, 20)},
                         actor=None, now=now, manual=True)
    assert audit.due_by == D(2026, 4, 1)
    with pytest.raises(DomainError, match="must happen by 01 Apr 2026"):
        reschedule_audit(audit, starts_local=dt.datetime(2026, 6, 16, 9),
                         ends_local=dt.datetime(2026, 6, 16, 17), actor=None, now=now)
    # A surveillance date typed on the form stays the coordinator's.
    typed = create_audit({"title": "Surveillance 2", "kind": AuditKind.THIRD_PARTY,
                          "third_party_type": ThirdPartyType.SURVEILLANCE, "certificate_id": cert.id,
                          "site_id": site.id, "standard_ids": [std.id], "planned_date": D(2027, 3, 20),
                          "due_by": D(2027, 6, 30)}, actor=None, now=now, manual=True)
    assert typed.due_by == D(2027, 6, 30)
