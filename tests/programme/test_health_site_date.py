"""The coordinator's "Programme health" panel counts days at each audit's site, as the sweeps
do: an audit is overdue when the overdue sweep escalates it (its end has passed or, undated, its
planned day is over where it happens), a report is late once its due day is over there, and "no
lead, due within 45 days" counts from the site's today. Near midnight at the site, UTC's date says
otherwise: Chicago is still on 12 December at 01:00 UTC on the 13th, Shanghai already on the 13th
at 16:30 UTC on the 12th."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from audit.audits.reminders import send_overdue_audits, send_report_reminders
from audit.extensions import db
from audit.models import AuditStatus, Role
from audit.programme import panels
from audit.programme.panels import programme_health

DAY = dt.date(2026, 12, 12)

#: (site zone, instant, is the 12th over at the site?)
NEAR_MIDNIGHT = [
    pytest.param("America/Chicago", dt.datetime(2026, 12, 13, 1, 0, tzinfo=dt.UTC), False,
                 id="chicago-19h-on-the-day"),
    pytest.param("America/Chicago", dt.datetime(2026, 12, 13, 6, 30, tzinfo=dt.UTC), True,
                 id="chicago-0h30-the-day-after"),
    pytest.param("Asia/Shanghai", dt.datetime(2026, 12, 12, 15, 30, tzinfo=dt.UTC), False,
                 id="shanghai-23h30-on-the-day"),
    pytest.param("Asia/Shanghai", dt.datetime(2026, 12, 12, 16, 30, tzinfo=dt.UTC), True,
                 id="shanghai-0h30-the-day-after"),
]


@pytest.fixture
def coordinator(make):
    return make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")


def _panel_overdue(login, user, monkeypatch, now: dt.datetime) -> str:
    """The "Overdue" figure of the home page's health panel at ``now``."""
    monkeypatch.setattr(panels, "utcnow", lambda: now)
    home = login(user).get("/").text
    return re.search(r"Overdue \(planned date passed\)</dt><dd>(.*?)</dd>", home).group(1)


@pytest.mark.parametrize(("zone", "now", "over"), NEAR_MIDNIGHT)
def test_an_undated_audit_is_overdue_when_the_sweep_escalates_it(app, make, login, monkeypatch, coordinator,
                                                                 zone, now, over):
    make.audit(site=make.site(timezone=zone), status=AuditStatus.PLANNED, planned_date=DAY)
    db.session.commit()
    health = programme_health(now=now)
    assert health["overdue"] == (1 if over else 0)
    assert health["unstaffed_soon"] == (0 if over else 1)  # no lead, and its day is still ahead or today
    assert ("pill bad" in _panel_overdue(login, coordinator, monkeypatch, now)) is over
    assert send_overdue_audits(now=now) == (1 if over else 0)


@pytest.mark.parametrize(("zone", "now", "over"), NEAR_MIDNIGHT)
def test_a_report_is_late_when_the_sweep_escalates_it(app, make, coordinator, zone, now, over):
    make.audit(site=make.site(timezone=zone), status=AuditStatus.FIELDWORK_COMPLETE,
               planned_date=DAY - dt.timedelta(days=20), report_due_on=DAY,
               starts_at=dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC),
               ends_at=dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC))
    db.session.commit()
    assert programme_health(now=now)["reports_late"] == (1 if over else 0)
    assert send_report_reminders(now=now) == (1 if over else 0)  # no lead: only the escalation


@pytest.mark.parametrize(("minutes", "over"), [(-30, False), (30, True)])
def test_a_dated_audit_is_overdue_once_it_should_have_ended_as_for_the_sweep(app, make, coordinator,
                                                                             minutes, over):
    """Chicago, 12 Dec 08:00-16:00 (14:00-22:00 UTC), never started: overdue from 16:00 there, on
    its own day, when the sweep escalates it, not only from the next (UTC) day."""
    ends_at = dt.datetime(2026, 12, 12, 22, 0, tzinfo=dt.UTC)
    make.audit(site=make.site(timezone="America/Chicago"), status=AuditStatus.SCHEDULED, planned_date=DAY,
               starts_at=ends_at - dt.timedelta(hours=8), ends_at=ends_at)
    db.session.commit()
    now = ends_at + dt.timedelta(minutes=minutes)
    assert programme_health(now=now)["overdue"] == (1 if over else 0)
    assert send_overdue_audits(now=now) == (1 if over else 0)
