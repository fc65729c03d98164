"""The monthly workload limit: audit-days per auditor per month (``WORKLOAD_DAYS_PER_MONTH``).

One rule, one count, used everywhere it matters: the workload page shows it, the planner never
proposes past it (``programme.pool``), an accepted planner row that would pass it is refused,
and a coordinator who adds someone to a team or moves an audit on the audit's page is warned,
with the person and the month named (a deliberate decision stays possible: the limit is the
organisation's capacity guideline, not a norm).

What counts: the planned days of every live audit (cancelled and postponed ones occupy nobody)
a person leads, audits or trains on; technical experts, observers and guides are not auditing.
An audit's days count in the month it starts, in its site's (or supplier's) time zone; an audit
without dates counts on its planned date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import Select, select

from audit.extensions import db
from audit.models import Audit, AuditStatus, AuditTeamMember, Role, Site, Supplier, TeamRole, User, UserRole
from audit.models.audit import audit_zone, local_dates

#: The roles whose days count: the people doing the auditing (ISO 19011 7.2).
COUNTED_ROLES = (TeamRole.LEAD, TeamRole.AUDITOR, TeamRole.TRAINEE)


def monthly_limit() -> int:
    """The organisation's limit of audit-days per auditor per month."""
    return int(current_app.config["WORKLOAD_DAYS_PER_MONTH"])


def month_of(day: dt.date) -> dt.date:
    """The first day of ``day``'s month: the key every count uses."""
    return day.replace(day=1)


@dataclass
class Workload:
    """Audit-days per person and month, and how many of those audits each person leads."""

    days: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    leads: Counter = field(default_factory=Counter)
    #: audit id → [(person, month, days)]: what each audit adds, so a planner run can move it
    by_audit: dict[int, list[tuple[int, dt.date, int]]] = field(default_factory=lambda: defaultdict(list))

    def over(self, user_id: int, month: dt.date, extra: int = 0, *, limit: int) -> int | None:
        """The days ``user_id`` would hold in ``month`` with ``extra`` more, when past ``limit``."""
        total = self.days[user_id][month] + extra
        return total if total > limit else None


def audit_start_day(audit: Audit) -> dt.date | None:
    """The local day an audit's days count on: its first day, else its planned date."""
    span = audit.local_dates()
    return span[0] if span else audit.planned_date


def booked_workload(*, first: dt.date, last: dt.date, user_ids=None, exclude_audit_ids=()) -> Workload:
    """Audit-days per person and month for live audits starting in [first, last] (one query).

    ``user_ids`` (ids, or a statement selecting them) limits it to those people;
    ``exclude_audit_ids`` leaves audits out (the audit a warning is about counts on the days it
    is being given)."""
    # A day's margin either side of the UTC window: the local start day decides, in any zone.
    lo = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
    stmt = (
        select(AuditTeamMember.user_id, AuditTeamMember.role, Audit.id, Audit.planned_date,
               Audit.planned_days, Audit.starts_at, Audit.ends_at, Audit.site_id, Audit.supplier_id,
               Site.timezone.label("site_zone"), Supplier.timezone.label("supplier_zone"))
        .join(Audit, AuditTeamMember.audit_id == Audit.id)
        .outerjoin(Site, Site.id == Audit.site_id).outerjoin(Supplier, Supplier.id == Audit.supplier_id)
        .where(Audit.status.not_in(AuditStatus.inactive()), AuditTeamMember.role.in_(COUNTED_ROLES),
               ((Audit.starts_at >= lo) & (Audit.starts_at < hi))
               | (Audit.starts_at.is_(None) & (Audit.planned_date >= first) & (Audit.planned_date <= last)))
    )
    if user_ids is not None:
        people = user_ids if isinstance(user_ids, Select) else list(user_ids)
        stmt = stmt.where(AuditTeamMember.user_id.in_(people))
    if exclude_audit_ids:
        stmt = stmt.where(Audit.id.not_in(list(exclude_audit_ids)))
    found = Workload()
    for row in db.session.execute(stmt):
        if row.starts_at is not None:
            zone = audit_zone(row.site_id is not None, row.site_zone, row.supplier_id is not None,
                              row.supplier_zone)
            day = local_dates(row.starts_at, row.ends_at, zone)[0]
        else:
            day = row.planned_date
        if not first <= day <= last:
            continue
        found.days[row.user_id][month_of(day)] += row.planned_days or 1
        found.by_audit[row.id].append((row.user_id, month_of(day), row.planned_days or 1))
        if row.role is TeamRole.LEAD:
            found.leads[row.user_id] += 1
    return found


def active_auditors() -> Select:
    """The ids of the active auditors: the people the workload page lists and the planner places."""
    return (select(User.id).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.AUDITOR, User.is_active.is_(True)))


def over_limit_months(*, first: dt.date, months: int) -> int:
    """How many (active auditor, month) pairs hold more audit-days than the limit in the
    ``months`` months from ``first`` (a month's first day): the coordinator's count to act on,
    each one a highlighted cell of the workload page (one query)."""
    last = first + relativedelta(months=months) - dt.timedelta(days=1)
    limit = monthly_limit()
    booked = booked_workload(first=first, last=last, user_ids=active_auditors())
    return sum(1 for per_month in booked.days.values() for days in per_month.values() if days > limit)


def workload_warnings(audit: Audit, only=None) -> list[str]:
    """The audit's team members (or those of them in ``only``) whose month (the audit's) holds
    more audit-days than the limit, this audit included, in plain words; empty for a closed or
    set-aside audit (one query)."""
    day = audit_start_day(audit)
    members = [m for m in audit.team if m.role in COUNTED_ROLES and (only is None or m.user_id in only)]
    if day is None or not members or not audit.is_open:
        return []
    month = month_of(day)
    last = month + relativedelta(months=1) - dt.timedelta(days=1)
    load = booked_workload(first=month, last=last, user_ids={m.user_id for m in members},
                           exclude_audit_ids=[audit.id] if audit.id else ())
    limit, own = monthly_limit(), audit.planned_days or 1
    warnings = []
    for member in members:
        total = load.over(member.user_id, month, own, limit=limit)
        if total is not None:
            warnings.append(f"{member.user.name} has {total} audit-days in {month:%B %Y} with this audit: "
                            f"more than the limit of {limit} a month.")
    return warnings
