"""A certificate's calendar feed shows the cycle deadlines the cycles page and the sweep use
(review "certificate", defect 3): computed from the real date of the earlier surveillance."""

from __future__ import annotations

import datetime as dt

from audit.calendar.feeds import certification_deadlines
from audit.extensions import db
from audit.models import AuditKind, AuditStatus, Certificate, ThirdPartyType
from audit.programme.deadlines import cycle_status


def held_surveillance(make, cert, day):
    """Surveillance of ``cert`` held (report issued) on ``day``."""
    start = dt.datetime.combine(day, dt.time(7), dt.UTC)
    return make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=ThirdPartyType.SURVEILLANCE,
                      certificate_id=cert.id, site=make.site(), standards=[cert.standard],
                      planned_date=day, status=AuditStatus.REPORT_ISSUED, starts_at=start,
                      ends_at=start + dt.timedelta(hours=8))


def test_feed_deadlines_are_the_pages(app, make, cal):
    """Surveillance 1 held in November 2024 puts surveillance 2's deadline at the end of 2025,
    on the page and in the feed alike (not the one computed from the planned dates)."""
    cert = cal.certificate(decision=dt.date(2024, 3, 15))
    audit = held_surveillance(make, cert, dt.date(2024, 11, 20))
    page = {f"{r['item'].type.value}{r['item'].number}": r["due"] for r in cycle_status(cert, [audit])}
    feed = {key: day for key, day, _label in certification_deadlines(cert)}
    assert page["surveillance2"] == dt.date(2025, 12, 31)
    assert {key: feed[key] for key in page} == page


def test_feed_deadlines_cost_the_same_statements_whatever_the_number_of_sites(app, make, cal, count_queries):
    """Each audit's day is read in its site's zone: the sites come with the audits."""
    cert = cal.certificate(decision=dt.date(2024, 3, 15))
    held_surveillance(make, cert, dt.date(2024, 11, 20))

    def statements() -> int:
        db.session.expire_all()
        with count_queries() as counted:
            certification_deadlines(db.session.get(Certificate, cert.id))
        return counted.count

    few = statements()
    for month in (1, 2, 3, 4):
        held_surveillance(make, cert, dt.date(2025, month, 10))
    assert statements() == few
