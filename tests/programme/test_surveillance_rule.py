"""One surveillance rule (issue 14, Found 8): planning, ``check_cycle`` and the sweep agree."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.models import AuditKind, AuditStatus, Certificate, Notification, Role, ThirdPartyType
from audit.organisation.services import default_expiry
from audit.programme.cycle import check_cycle, surveillance_deadline
from audit.programme.deadlines import send_certification_warnings

D = dt.date
S, R = ThirdPartyType.SURVEILLANCE, ThirdPartyType.RECERTIFICATION


def test_the_rule():
    """Surveillance 1 by decision + 12 months; each later one by the end of the calendar year
    after the previous one."""
    assert surveillance_deadline(D(2024, 3, 15), 1, None) == D(2025, 3, 15)
    assert surveillance_deadline(D(2024, 3, 15), 2, D(2025, 3, 1)) == D(2026, 12, 31)


def test_surveillance_2_late_in_the_following_year_passes_check_and_sweep(app, make):
    """S1 March 2025, S2 held 14 Dec 2026 (later than decision + 24 months, inside the calendar
    year): check_cycle has no warning and the sweep, run in November and December 2026, never
    calls surveillance 2 overdue."""
    decision = D(2024, 3, 15)
    expiry = default_expiry(decision)
    assert check_cycle(decision, expiry, [(S, D(2025, 3, 3)), (S, D(2026, 12, 14)), (R, D(2027, 1, 11))]) == []
    make.user(roles=(Role.COORDINATOR,))
    std = make.standard()
    site = make.site()
    cert = Certificate(standard_id=std.id, scope="All", decision_date=decision, expiry_date=expiry, number="Q-7")
    db.session.add(cert)
    db.session.flush()

    def held(day, type_, status=AuditStatus.REPORT_ISSUED):
        start = dt.datetime.combine(day, dt.time(7), dt.UTC)
        return make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=type_, certificate_id=cert.id, site=site,
                          standards=[std], planned_date=day, status=status, starts_at=start,
                          ends_at=start + dt.timedelta(hours=8))

    held(D(2025, 3, 3), S)
    held(D(2026, 12, 14), S, status=AuditStatus.SCHEDULED)
    held(D(2027, 1, 11), R, status=AuditStatus.SCHEDULED)
    for day in (D(2026, 3, 16), D(2026, 11, 2), D(2026, 12, 1)):
        send_certification_warnings(now=dt.datetime.combine(day, dt.time(6), dt.UTC))
    titles = db.session.scalars(select(Notification.title)).all()
    assert not [t for t in titles if "Surveillance 2" in t and "overdue" in t], titles
    assert any("Surveillance 2 is due by 31 Dec 2026" in t for t in titles), titles
