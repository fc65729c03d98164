"""The findings feature's contributions to other pages: the home panel and the audit page.

Registered by ``audit.findings.init_app``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.findings.queries import readable_findings
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


def waiting_items(user) -> list:
    """What waits for ``user`` now, computed once per request (the navigation badge, the home
    panel and the "Waiting for me" page share it)."""
    from flask import has_request_context, request

    from audit.findings.waiting import waiting_for

    if not has_request_context():
        return waiting_for(user, utcnow())
    # Kept in the request's environ: ``g`` belongs to the application context, which can
    # outlive one request (tests, CLI), and a stale list must never be shown.
    cache = request.environ.setdefault("audit.findings_waiting", {})
    if user.id not in cache:
        cache[user.id] = waiting_for(user, utcnow())
    return cache[user.id]


def waiting_badge(user) -> int:
    """Navigation badge: how many items wait for ``user``."""
    return len(waiting_items(user))


def waiting_panel(user) -> dict | None:
    """Home panel "Waiting for me": every item the workflow waits for from ``user``, with its
    deadline; people who never take part in findings get no panel."""
    if not any(user.can(p) for p in (Permission.RESPOND_FINDING, Permission.VERIFY_FINDING,
                                      Permission.RESPOND_SCAR, Permission.MANAGE_PROGRAMME)):
        return None
    items = waiting_items(user)
    return {"title": f"Waiting for me ({len(items)})", "template": "findings/_waiting_panel.html",
            "context": {"items": items[:PANEL_ROWS], "more": max(len(items) - PANEL_ROWS, 0)}}


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

