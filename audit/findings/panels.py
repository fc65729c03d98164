"""The findings feature's contributions to other pages: the home panel and the audit page.

Registered by ``audit.findings.init_app``.
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from sqlalchemy import or_, select

from audit.auth.permissions import Permission
from audit.conduct.checklist_read import previous_audit_of
from audit.core.todo import ToDo, waiting_count, waiting_items
from audit.extensions import db
from audit.findings.queries import readable_findings
from audit.findings.waiting import waiting_for
from audit.models import (
    Finding,
    FindingStatus,
    utcnow,
)
from audit.models.audit import audit_units

#: Closed findings stay on the next audit's page this long.
RECENTLY_CLOSED_DAYS = 365
OPEN = [s for s in FindingStatus if s.is_open]
#: The home panel lists this many items; the "Waiting for me" page lists them all.
PANEL_ROWS = 15


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """The findings' share of "waiting for me" (``core.todo``): ``findings.waiting`` items as
    to-dos, linked to the page where the person acts (supplier contacts: the SCAR page)."""
    todos = []
    for item in waiting_for(user, now):
        finding = item.finding
        subject = item.action.description if item.action else finding.statement
        todos.append(ToDo("findings", item.step, item.label, finding.reference, subject,
                          url_for(item.endpoint, finding_id=finding.id), item.due_on, item.due_label,
                          item.overdue, (finding.grade.css, finding.grade.label)))
    return todos


def waiting_badge(user) -> int:
    """Navigation badge: how many items wait for ``user`` (every source)."""
    return waiting_count(user)


def waiting_panel(user) -> dict | None:
    """Home panel "Waiting for me": every item any feature waits for from ``user``, with its
    deadline; people who take part in no workflow and have nothing waiting get no panel."""
    items = waiting_items(user)
    if not items and not any(user.can(p) for p in (
            Permission.RESPOND_FINDING, Permission.VERIFY_FINDING, Permission.RESPOND_SCAR,
            Permission.MANAGE_PROGRAMME)):
        return None
    return {"title": f"Waiting for me ({len(items)})", "template": "findings/_waiting_panel.html",
            "context": {"items": items[:PANEL_ROWS], "more": max(len(items) - PANEL_ROWS, 0)}}


def audit_findings_section(audit, user) -> dict | None:
    """Audit page: this audit's findings plus the units' open and recently closed findings.

    "Recently" reaches back to the start of the units' previous audit when that is longer ago
    than ``RECENTLY_CLOSED_DAYS``: a unit audited every two or three years still sees, on its
    next audit, the findings of the last one and how they were closed (surveillance looks at
    the actions taken on earlier nonconformities)."""
    since = utcnow() - dt.timedelta(days=RECENTLY_CLOSED_DAYS)
    previous = previous_audit_of(audit)
    if previous is not None and previous.starts_at < since:
        since = previous.starts_at
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

