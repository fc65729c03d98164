"""The findings feature's contributions to other pages: the home panel and the audit page.

Registered by ``audit.findings.init_app``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.findings.queries import readable_findings
from audit.models import (
    ActionStatus,
    CorrectiveAction,
    Finding,
    FindingStatus,
    Unit,
    utcnow,
)
from audit.models.audit import audit_units

#: Closed findings stay on the next audit's page this long.
RECENTLY_CLOSED_DAYS = 365
OPEN = [s for s in FindingStatus if s.is_open]


def my_open_findings_panel(user) -> dict | None:
    """Home panel: findings I answer (as owner or unit owner) and actions I own, by due date."""
    if not (user.can(Permission.RESPOND_FINDING) or user.can(Permission.VERIFY_FINDING)
            or user.can(Permission.RESPOND_SCAR)):
        return None
    today = utcnow().date()
    if user.supplier_id is not None:
        who = Finding.supplier_id == user.supplier_id
    else:
        who = or_(Finding.owner_id == user.id,
                  Finding.unit_id.in_(select(Unit.id).where(Unit.owner_id == user.id)))
    findings = db.session.scalars(
        select(Finding).where(who, Finding.status.in_(OPEN)).order_by(
            Finding.closure_due_on.is_(None), Finding.closure_due_on, Finding.id).limit(20)
    ).all()
    actions = db.session.scalars(
        select(CorrectiveAction).join(Finding)
        .where(CorrectiveAction.owner_id == user.id,
               CorrectiveAction.status == ActionStatus.OPEN, Finding.status.in_(OPEN))
        .options(joinedload(CorrectiveAction.finding))
        .order_by(CorrectiveAction.due_on).limit(20)
    ).all() if user.supplier_id is None else []
    findings.sort(key=lambda f: (f.current_due_on() or dt.date.max, f.id))
    return {"title": "My open findings and actions", "template": "findings/_home_panel.html",
            "context": {"findings": findings, "actions": actions, "today": today,
                        "endpoint": "scar.detail" if user.supplier_id else "findings.detail"}}


def audit_findings_section(audit, user) -> dict | None:
    """Audit page: this audit's findings plus the units' open and recently closed findings."""
    since = utcnow() - dt.timedelta(days=RECENTLY_CLOSED_DAYS)
    unit_ids = select(audit_units.c.unit_id).where(audit_units.c.audit_id == audit.id)
    relevant = Finding.status.in_(OPEN) | (
        (Finding.status == FindingStatus.CLOSED) & (Finding.closed_at >= since))
    same_subject = Finding.unit_id.in_(unit_ids)
    if audit.supplier_id is not None:
        same_subject = same_subject | (Finding.supplier_id == audit.supplier_id)
    stmt = (
        select(Finding)
        .where(or_(Finding.audit_id == audit.id, same_subject & relevant), readable_findings(user))
        .order_by(Finding.raised_at.desc(), Finding.id.desc())
        .limit(100)
    )
    findings = db.session.scalars(stmt).all()
    return {"title": "Findings: this audit, and open or recently closed for its units",
            "template": "findings/_audit_section.html",
            "context": {"findings": findings, "audit_id": audit.id}}

