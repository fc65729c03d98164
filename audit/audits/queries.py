"""Queries shared by the audit list, the programme calendar and the programme page."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.forms import AuditFilterForm
from audit.extensions import db
from audit.models import Audit, AuditKind, AuditStatus, AuditTeamMember, Site, Supplier, TeamRole, Unit
from audit.models.types import UTCDateTime


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
    if filters.get("lead"):
        stmt = stmt.where(Audit.id.in_(select(AuditTeamMember.audit_id).where(
            AuditTeamMember.user_id == filters["lead"], AuditTeamMember.role == TeamRole.LEAD)))
    if filters.get("date_from") or filters.get("date_to"):
        stmt = stmt.where(_in_dates(filters.get("date_from"), filters.get("date_to")))
    if filters.get("q"):
        # A literal search: the user's % and _ match themselves, not any text.
        needle = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def like(column):
            return column.ilike(needle, escape="\\")

        stmt = stmt.where(or_(like(Audit.reference), like(Audit.title), Audit.units.any(like(Unit.name)),
                              Audit.site.has(like(Site.name)), Audit.supplier.has(like(Supplier.name))))
    return stmt


def _in_dates(first: dt.date | None, last: dt.date | None):
    """Audits whose first local day (its planned date while undated) lies in [first, last].

    "Local" is the audit's own zone, as the list shows it: the day boundaries are computed per
    zone in use (one small query) and picked in SQL by the audit's zone, so the filter stays
    one condition and exact across zones and DST.
    """
    zone = func.coalesce(select(Site.timezone).where(Site.id == Audit.site_id).scalar_subquery(),
                         select(Supplier.timezone).where(Supplier.id == Audit.supplier_id).scalar_subquery(),
                         "UTC")
    zones = set(db.session.scalars(select(Site.timezone).union(select(Supplier.timezone)))) | {"UTC"}

    def boundary(day: dt.date):
        # Typed as the column, so SQLite compares the same naive-UTC text it stores.
        by_zone = {z: literal(dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(z)), UTCDateTime())
                   for z in sorted(zones) if z}
        return case(by_zone, value=zone, else_=by_zone["UTC"])

    dated, undated = [Audit.starts_at.is_not(None)], [Audit.starts_at.is_(None)]
    if first is not None:
        dated.append(Audit.starts_at >= boundary(first))
        undated.append(Audit.planned_date >= first)
    if last is not None:
        dated.append(Audit.starts_at < boundary(last + dt.timedelta(days=1)))
        undated.append(Audit.planned_date <= last)
    return or_(and_(*dated), and_(*undated))


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
        "lead": args.get("lead", type=int) or None,
        "date_from": form.date_from.data if form.date_from.validate(form) else None,
        "date_to": form.date_to.data if form.date_to.validate(form) else None,
        "q": (args.get("q") or "").strip()[:80] or None,
    }
    return form, filters
