"""Queries shared by the audit list, the programme calendar and the programme page."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.forms import AuditFilterForm
from audit.models import Audit, AuditKind, AuditStatus, AuditTeamMember


def audit_list_query(filters: dict):
    """Audits matching the list/calendar filters, with everything the rows show loaded."""
    stmt = (
        select(Audit)
        .options(joinedload(Audit.site), joinedload(Audit.supplier), joinedload(Audit.programme),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user))
    )
    if filters.get("site"):
        stmt = stmt.where(Audit.site_id == filters["site"])
    if filters.get("auditor"):
        stmt = stmt.where(Audit.id.in_(select(AuditTeamMember.audit_id).where(
            AuditTeamMember.user_id == filters["auditor"])))
    if filters.get("kind"):
        stmt = stmt.where(Audit.kind == AuditKind(filters["kind"]))
    if filters.get("status"):
        stmt = stmt.where(Audit.status == AuditStatus(filters["status"]))
    if filters.get("programme"):
        stmt = stmt.where(Audit.programme_id == filters["programme"])
    if filters.get("standard"):
        stmt = stmt.where(Audit.standards.any(id=filters["standard"]))
    if filters.get("q"):
        # A literal search: the user's % and _ match themselves, not any text.
        needle = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Audit.reference.ilike(needle, escape="\\"), Audit.title.ilike(needle, escape="\\")))
    return stmt


def read_filters(args) -> tuple[AuditFilterForm, dict]:
    """The filter form bound to query-string ``args``, and the cleaned filter values."""
    form = AuditFilterForm(args)
    form.fill_choices()
    filters = {
        "site": args.get("site", type=int) or None,
        "auditor": args.get("auditor", type=int) or None,
        "kind": args.get("kind") if args.get("kind") in {k.value for k in AuditKind} else None,
        "status": args.get("status") if args.get("status") in {s.value for s in AuditStatus} else None,
        "programme": args.get("programme", type=int) or None,
        "standard": args.get("standard", type=int) or None,
        "q": (args.get("q") or "").strip()[:80] or None,
    }
    return form, filters
