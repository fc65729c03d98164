"""Audit status groups and status CSS classes: defined once, consistent, and styled."""

from __future__ import annotations

import re

from audit import PROJECT_ROOT
from audit.models import AuditStatus, StandardStatus, VersionStatus

CSS = (PROJECT_ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")


def test_groups_partition_the_life_cycle():
    """Every status is exactly one of live, reported or inactive; the other groups are made of them."""
    live, reported, inactive = set(AuditStatus.live()), set(AuditStatus.reported()), set(AuditStatus.inactive())
    assert live | reported | inactive == set(AuditStatus)
    assert not (live & reported or live & inactive or reported & inactive)
    assert set(AuditStatus.not_started()) | set(AuditStatus.fieldwork()) == live
    assert set(AuditStatus.audited()) == reported | {AuditStatus.FIELDWORK_COMPLETE}
    assert set(AuditStatus.fieldwork_ahead()) == live - {AuditStatus.FIELDWORK_COMPLETE}
    assert AuditStatus.PLANNED not in AuditStatus.plan_issued() and AuditStatus.IN_PROGRESS in AuditStatus.plan_issued()


def test_every_audit_status_has_a_styled_class_for_pills_and_calendar():
    """AuditStatus.css names a class app.css styles both as a pill and as a calendar entry."""
    for status in AuditStatus:
        assert re.search(rf"\.pill\.{status.css}\b", CSS), status
        assert re.search(rf"\.cal-audit\.{status.css}\b", CSS), status
    assert AuditStatus.PLAN_ISSUED.css == AuditStatus.SCHEDULED.css
    assert AuditStatus.CANCELLED.css != AuditStatus.POSTPONED.css


def test_library_status_pills():
    """Published versions are ok and drafts a warning; withdrawn standards are bad."""
    assert (VersionStatus.PUBLISHED.css, VersionStatus.DRAFT.css, VersionStatus.RETIRED.css) == ("ok", "warn", "")
    assert (StandardStatus.CURRENT.css, StandardStatus.DRAFT.css, StandardStatus.WITHDRAWN.css) == ("", "warn", "bad")


def test_local_today_is_the_date_at_the_audit_site(app, make):
    """Audit.local_today gives the site's calendar date, which differs from UTC's near midnight."""
    import datetime as dt

    now = dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)
    auckland = make.audit(site=make.site(timezone="Pacific/Auckland"))
    berlin = make.audit(site=make.site(timezone="Europe/Berlin"))
    assert auckland.local_today(now) == dt.date(2026, 3, 11)
    assert berlin.local_today(now) == dt.date(2026, 3, 10)
