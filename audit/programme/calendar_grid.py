"""Month and year grids of audits for the programme calendar (pure: audits in, rows out)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field


def audit_span(audit) -> tuple[dt.date, dt.date] | None:
    """Local first and last day of an audit, or its planned days when not dated yet."""
    local = audit.local_dates()
    if local:
        return local
    if audit.planned_date:
        return audit.planned_date, audit.planned_date + dt.timedelta(days=max(audit.planned_days - 1, 0))
    return None


@dataclass
class Day:
    day: dt.date
    in_month: bool
    audits: list = field(default_factory=list)


def month_grid(year: int, month: int, audits) -> list[list[Day]]:
    """Weeks (Monday first) of the month, each day with the audits happening on it."""
    cal = calendar.Calendar(firstweekday=0)
    weeks = [[Day(d, d.month == month) for d in week] for week in cal.monthdatescalendar(year, month)]
    index = {d.day: d for week in weeks for d in week}
    for audit in audits:
        span = audit_span(audit)
        if not span:
            continue
        day = span[0]
        while day <= span[1]:
            if day in index:
                index[day].audits.append(audit)
            day += dt.timedelta(days=1)
    return weeks


def year_grid(year: int, audits) -> list[tuple[dt.date, list]]:
    """Twelve (first day of month, audits starting that month) pairs."""
    months = {m: [] for m in range(1, 13)}
    for audit in audits:
        span = audit_span(audit)
        if span and span[0].year == year:
            months[span[0].month].append(audit)
    return [(dt.date(year, m, 1), sorted(months[m], key=lambda a: audit_span(a)[0])) for m in range(1, 13)]


def window(year: int, month: int | None) -> tuple[dt.date, dt.date]:
    """The first and last day shown (whole weeks around a month, or the year)."""
    if month is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    weeks = calendar.Calendar(0).monthdatescalendar(year, month)
    return weeks[0][0], weeks[-1][-1]
