"""Coverage matrix (clauses × units) and auditor workload, each built from a fixed number of queries.

A cell says when the unit was last audited against the clause (an audit of the unit whose scope
lists the clause, or, with no clauses listed, covers its whole standard), the worst finding
then, and whether the next audit is due: ``ok``, ``planned`` (an audit is planned before the
due date), ``due`` (due within the warning window, nothing planned) or ``gap`` (overdue or never
audited and nothing planned): gaps are visible before they happen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.workload import booked_workload, monthly_limit
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    Clause,
    Finding,
    Grade,
    Role,
    Standard,
    Unit,
    User,
    UserRole,
)
from audit.models.organisation import unit_standards
from audit.programme.intervals import HISTORY_MONTHS, unit_history, unit_interval

#: DEFAULT coverage cycle (DOMAIN.md §2), configurable up to 36 months.
COVERAGE_MONTHS = 12
WARN_DAYS = 60
GRADE_ORDER = {Grade.MAJOR: 0, Grade.MINOR: 1, Grade.OBSERVATION: 2, Grade.OFI: 3, Grade.GOOD_PRACTICE: 4}


@dataclass
class Cell:
    last: dt.date | None = None
    result: str = ""  #: worst grade label at the last audit, or "conform"
    next_planned: dt.date | None = None
    due: dt.date | None = None
    state: str = "gap"


def _day(audit: Audit) -> dt.date | None:
    return audit.starts_at.date() if audit.starts_at else audit.planned_date


def coverage_matrix(*, today: dt.date, standard_id: int | None = None, site_id: int | None = None,
                    months: int = COVERAGE_MONTHS) -> dict:
    """Rows = main clauses (depth 0..1 of clauses 4–10) of the chosen standard; columns = units."""
    standards = primary_first()
    if not standards:
        return {"standards": [], "standard": None, "clauses": [], "units": [], "cells": {}}
    standard = next((s for s in standards if s.id == standard_id), standards[0])
    clauses = [c for c in db.session.scalars(select(Clause).where(Clause.standard_id == standard.id)
                                             .order_by(Clause.position))
               if c.depth <= 1 and c.number.split(".")[0].isdigit() and int(c.number.split(".")[0]) >= 4]
    unit_stmt = (select(Unit).where(Unit.is_active.is_(True), Unit.standards.any(Standard.id == standard.id))
                 .options(selectinload(Unit.site)).order_by(Unit.name))
    if site_id:
        unit_stmt = unit_stmt.where(Unit.site_id == site_id)
    units = list(db.session.scalars(unit_stmt))
    unit_ids = {u.id for u in units}
    clause_ids = {c.id for c in clauses}
    # Sub-clauses count for their nearest listed ancestor ("7.1.5.1" → "7.1").
    listed = {c.number: c.id for c in clauses}
    top_of: dict[int, int] = {}
    for cid, number in db.session.execute(select(Clause.id, Clause.number).where(Clause.standard_id == standard.id)):
        parts = number.split(".")
        for n in range(len(parts), 0, -1):
            prefix = ".".join(parts[:n])
            if prefix in listed:
                top_of[cid] = listed[prefix]
                break
    audits = list(db.session.scalars(
        select(Audit).where(Audit.units.any(Unit.id.in_(unit_ids)), Audit.standards.any(Standard.id == standard.id),
                            Audit.status.in_(AuditStatus.audited() + AuditStatus.fieldwork_ahead()))
        .options(selectinload(Audit.units), selectinload(Audit.clauses))))
    findings = db.session.execute(
        select(Finding.audit_id, Finding.unit_id, Finding.grade, Clause.id)
        .join(Finding.clauses).where(Finding.unit_id.in_(unit_ids), Clause.standard_id == standard.id)).all()
    worst: dict[tuple, Grade] = {}
    for audit_id, unit_id, grade, clause_id in findings:
        key = (audit_id, unit_id, top_of.get(clause_id, clause_id))
        if key not in worst or GRADE_ORDER[grade] < GRADE_ORDER[worst[key]]:
            worst[key] = grade
    last: dict[tuple, tuple[dt.date, int]] = {}
    nxt: dict[tuple, dt.date] = {}
    for audit in audits:
        day = _day(audit)
        if day is None:
            continue
        covered = {top_of.get(c.id, c.id) for c in audit.clauses if c.standard_id == standard.id} or clause_ids
        for unit in audit.units:
            if unit.id not in unit_ids:
                continue
            for cid in covered & clause_ids:
                key = (cid, unit.id)
                if audit.status in AuditStatus.audited() and day <= today:
                    if key not in last or day > last[key][0]:
                        last[key] = (day, audit.id)
                elif audit.status in AuditStatus.fieldwork_ahead() and day >= today and (key not in nxt or day < nxt[key]):
                    nxt[key] = day
    intervals = unit_months(units, today=today, default=months)
    cells: dict[tuple, Cell] = {}
    for clause in clauses:
        for unit in units:
            key = (clause.id, unit.id)
            cell = Cell()
            if key in last:
                cell.last, audit_id = last[key]
                grade = worst.get((audit_id, unit.id, clause.id))
                cell.result = grade.label if grade else "conform"
                cell.due = cell.last + relativedelta(months=intervals[unit.id])
            else:
                cell.due = today  # never audited: due now
            cell.next_planned = nxt.get(key)
            warn = today + dt.timedelta(days=WARN_DAYS)
            if cell.next_planned and cell.next_planned <= max(cell.due, warn):
                # Planned in time, or (when already due or never audited) planned soon: not a gap.
                cell.state = "planned" if cell.due <= warn else "ok"
            elif cell.due > warn:
                cell.state = "ok"
            elif cell.due >= today:
                cell.state = "due" if cell.last else "gap"
            else:
                cell.state = "gap"
            cells[key] = cell
    return {"standards": standards, "standard": standard, "clauses": clauses, "units": units, "cells": cells,
            "intervals": intervals}


def primary_first() -> list[Standard]:
    """Standards, the organisation's primary one first: the one most units apply (ties by code)."""
    from sqlalchemy import func


    counts = dict(db.session.execute(select(unit_standards.c.standard_id, func.count())
                                     .group_by(unit_standards.c.standard_id)).all())
    standards = db.session.scalars(select(Standard)).all()
    return sorted(standards, key=lambda s: (-counts.get(s.id, 0), s.code, s.edition or ""))


def unit_months(units, *, today: dt.date, default: int = COVERAGE_MONTHS) -> dict[int, int]:
    """Each unit's own coverage interval: its risk-based audit interval (6, 12 or 24 months),
    the same one the programme's rules plan by (two queries for all units)."""

    ids = {u.id for u in units}
    if not ids:
        return {}
    since = dt.datetime.combine(today - relativedelta(months=HISTORY_MONTHS), dt.time(), dt.UTC)
    history = unit_history(ids, since)
    return {u.id: unit_interval(u, history.get(u.id, 0))[1] if u.importance else default for u in units}


def workload(*, first: dt.date, last: dt.date) -> dict:
    """Audit-days per auditor and month in [first, last], counted by the one workload rule
    (``audit.audits.workload``) the planner and the team changes keep."""
    months = []
    day = first.replace(day=1)
    while day <= last:
        months.append(day)
        day += relativedelta(months=1)
    auditors = list(db.session.scalars(select(User).join(UserRole).where(UserRole.role == Role.AUDITOR,
                                                                          User.is_active.is_(True))
                                       .order_by(User.name)))
    booked = booked_workload(first=first, last=last)
    return {"months": months, "auditors": auditors, "days": booked.days, "leads": booked.leads,
            "limit": monthly_limit()}
