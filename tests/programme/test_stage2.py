"""The stage-2 six-month rule (issue 14, Found 8): a major NC at stage 2 shows its verification
deadline on the finding, the audit and the cycles page; the sweep warns 30 and 7 days before and
says "repeat stage 2" after."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.models import (
    AuditKind,
    AuditStatus,
    Finding,
    FindingStatus,
    Grade,
    Notification,
    Role,
    ThirdPartyType,
)
from audit.programme.stage2 import send_stage2_warnings, stage2_state

D = dt.date


@pytest.fixture
def major(app, make):
    site = make.site(timezone="Europe/Berlin")
    stage2 = make.audit(kind=AuditKind.THIRD_PARTY, third_party_type=ThirdPartyType.STAGE2, site=site,
                        status=AuditStatus.REPORT_ISSUED, planned_date=D(2026, 3, 12),
                        starts_at=dt.datetime(2026, 3, 12, 7, tzinfo=dt.UTC),
                        ends_at=dt.datetime(2026, 3, 13, 15, tzinfo=dt.UTC))
    finding = Finding(reference="CA-F1", audit_id=stage2.id, grade=Grade.MAJOR, statement="No internal audits",
                      status=FindingStatus.AWAITING_RESPONSE, raised_at=dt.datetime(2026, 3, 13, 12, tzinfo=dt.UTC))
    db.session.add(finding)
    db.session.flush()
    return finding


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(6), dt.UTC)


def _count() -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "stage2_major_nc"))


def test_deadline_is_six_months_after_the_last_day_of_stage_2(major):
    """Stage 2 ended 13 Mar 2026: verify by 13 Sep 2026; afterwards stage 2 is repeated; a
    verification in time settles it."""
    assert stage2_state(major, D(2026, 5, 1))["deadline"] == D(2026, 9, 13)
    assert stage2_state(major, D(2026, 5, 1))["state"] == "open"
    assert stage2_state(major, D(2026, 8, 20))["state"] == "due_soon"
    late = stage2_state(major, D(2026, 9, 14))
    assert late["state"] == "repeat_stage2" and "stage 2 must be repeated" in late["message"]
    major.verified_at = dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC)
    assert stage2_state(major, D(2026, 10, 1))["state"] == "verified"


def test_sweep_warns_30_and_7_days_before_and_once_after(major, make):
    """Nothing 31 days before; one warning at 30 days, one at 7, one "repeat stage 2" after;
    running any of them twice adds nothing."""
    make.user(roles=(Role.COORDINATOR,))
    assert send_stage2_warnings(now=_at(D(2026, 8, 13))) == 0
    assert send_stage2_warnings(now=_at(D(2026, 8, 14))) == 1
    assert send_stage2_warnings(now=_at(D(2026, 8, 20))) == 0
    assert send_stage2_warnings(now=_at(D(2026, 9, 6))) == 1
    assert send_stage2_warnings(now=_at(D(2026, 9, 14))) == 1
    assert send_stage2_warnings(now=_at(D(2026, 9, 20))) == 0
    titles = db.session.scalars(select(Notification.title).order_by(Notification.id)).all()
    assert titles[-1] == "CA-F1: stage 2 must be repeated" and _count() == 3


def test_deadline_on_finding_audit_and_cycles_pages(major, make, login):
    """The finding page, the stage-2 audit's page and the cycles page show the deadline."""
    client = login(make.user(roles=(Role.COORDINATOR,)))
    finding_page = client.get(f"/findings/{major.id}").get_data(as_text=True)
    assert 'id="stage2-deadline"' in finding_page
    assert "13 Sep 2026" in finding_page
    for page in (f"/audits/{major.audit_id}", "/programme/cycles"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="stage2-deadline' in html and "CA-F1" in html, page
