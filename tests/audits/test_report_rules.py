"""Issuing the report is the report page's job; its due date follows configuration."""

import datetime as dt

import pytest

from audit.audits.services import allowed_transitions, change_status, reschedule_audit
from audit.core.errors import DomainError
from audit.models import AuditKind, AuditStatus, Role


def _granted(audit, user) -> set[str]:
    return {d.action for d in allowed_transitions(audit, user) if d.allowed}


def test_manual_status_change_cannot_issue_our_own_report(app, make, now):
    """The status form refuses 'report issued' for internal audits and does not offer it."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    audit = make.audit(status=AuditStatus.FIELDWORK_COMPLETE)
    assert AuditStatus.REPORT_ISSUED.value not in _granted(audit, coordinator)
    with pytest.raises(DomainError, match="report page"):
        change_status(audit, AuditStatus.REPORT_ISSUED, manual=True, actor=coordinator, now=now)
    assert audit.status is AuditStatus.FIELDWORK_COMPLETE and audit.report_issued_at is None


def test_certification_body_report_can_be_recorded_by_hand(app, make, now):
    """A third-party audit's report comes from the CB, so the status form may record it."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    audit = make.audit(status=AuditStatus.FIELDWORK_COMPLETE, kind=AuditKind.THIRD_PARTY)
    assert AuditStatus.REPORT_ISSUED.value in _granted(audit, coordinator)
    change_status(audit, AuditStatus.REPORT_ISSUED, manual=True, actor=coordinator, now=now)
    assert audit.report_issued_at == now


def test_report_due_date_follows_configuration(app, make, now):
    """REPORT_DUE_DAYS sets the report due date after the audit's last local day."""
    app.config["REPORT_DUE_DAYS"] = 10
    audit = make.audit(site=make.site(timezone="Asia/Shanghai"))
    reschedule_audit(audit, starts_local=dt.datetime(2026, 4, 7, 9, 0),
                     ends_local=dt.datetime(2026, 4, 8, 17, 0), actor=None, now=now)
    assert audit.report_due_on == dt.date(2026, 4, 18)
