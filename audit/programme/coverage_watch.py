"""Coverage gaps told before they happen (DOMAIN §2 "Coverage"): the coverage matrix's own rule,
run by the scheduler, for the coordinators who plan.

The coverage page shows, clause by clause and unit by unit, when each unit falls due for an audit
of a standard and whether one is planned in time; a page nobody opens warns nobody. The sweep
reads the same matrix (``coverage.coverage_matrix``) and tells the coordinators, per standard,
which units fall due within the warning window or are already past due with nothing planned.
One notice per standard and per set of such units (each with its state and due day) and week:
a changed set (a new unit due, a due one now past due) is told at once, an unchanged one again
each week while nothing is planned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.programme.coverage import WARN_DAYS, coverage_matrix, primary_first

KIND = "coverage_due"
#: Registered by the programme feature (``audit.programme.init_app``).
KINDS = {KIND: "Units falling due for an audit of a standard with nothing planned in time (coordinators)"}
#: Units named in one notice; the rest are counted ("and 4 more").
NAMED = 10


@dataclass(frozen=True)
class UnitToPlan:
    """A unit with at least one clause due (or past due) and no audit planned in time."""

    unit: object
    state: str  #: "gap" (past due or never audited) or "due" (within the warning window)
    due: dt.date  #: the earliest due day of its clauses in that state
    audited: bool = False  #: some clause of the standard was audited in this unit before


def units_to_plan(standard_id: int, *, today: dt.date) -> list[UnitToPlan]:
    """The units the coverage matrix marks "due" or "gap" for the standard, gaps first."""
    matrix = coverage_matrix(today=today, standard_id=standard_id)
    units = {u.id: u for u in matrix["units"]}
    audited = {unit_id for (_clause_id, unit_id), cell in matrix["cells"].items() if cell.last}
    found: dict[int, UnitToPlan] = {}
    for (_clause_id, unit_id), cell in matrix["cells"].items():
        if cell.state not in ("due", "gap"):
            continue
        seen = found.get(unit_id)
        state = "gap" if cell.state == "gap" or (seen and seen.state == "gap") else "due"
        due = min(cell.due, seen.due) if seen else cell.due
        found[unit_id] = UnitToPlan(units[unit_id], state, due, unit_id in audited)
    return sorted(found.values(), key=lambda row: (row.state != "gap", row.due, row.unit.name))


def _line(row: UnitToPlan, today: dt.date) -> str:
    site = f" ({row.unit.site.name})" if row.unit.site is not None else ""
    if row.state == "due":
        return f"{row.unit.name}{site}: due by {row.due:%d %b %Y}"
    if row.due < today:
        return f"{row.unit.name}{site}: overdue since {row.due:%d %b %Y}"
    return f"{row.unit.name}{site}: " + ("some clauses never audited" if row.audited else "never audited")


def send_coverage_warnings(now: dt.datetime) -> int:
    """Tell every active coordinator, per standard, the units to plan an audit for; returns the
    number of notifications queued (none for a set of units already told this week)."""
    today = now.astimezone(dt.UTC).date()
    made = 0
    people = coordinators()
    for standard in primary_first():
        rows = units_to_plan(standard.id, today=today)
        if not rows:
            continue
        # Each unit with its state and due day, in a fixed order: a unit due again in its next
        # cycle, or a different day, is a new set. The week: an unchanged set is told again
        # weekly while nothing is planned (say, after the planned audit was cancelled).
        told = sorted(f"{r.unit.id}:{r.state}:{r.due.isoformat()}" for r in rows)
        week = "{}-W{:02d}".format(*today.isocalendar()[:2])
        fingerprint = hashlib.sha1(",".join([week, *told]).encode()).hexdigest()[:16]
        gaps = sum(1 for r in rows if r.state == "gap")
        lines = [_line(r, today) for r in rows[:NAMED]]
        if len(rows) > NAMED:
            lines.append(f"and {len(rows) - NAMED} more")
        body = (f"What happened: {len(rows)} unit{'' if len(rows) == 1 else 's'} will not be audited against "
                f"{standard.code} within their interval: {gaps} past due or never audited, "
                f"{len(rows) - gaps} due within {WARN_DAYS} days, with no audit planned in time.\n"
                + "\n".join(lines)
                + "\nWhat is expected of you: plan an audit of each (the planner can date and staff it), "
                  "or, for a unit that no longer needs one, take the standard off it (Organisation → Units).")
        for person in people:
            if notify(person, kind=KIND, title=f"{standard.code} coverage: {len(rows)} "
                                               f"unit{'' if len(rows) == 1 else 's'} to plan an audit for",
                      body=body, link=f"/programme/coverage?standard={standard.id}",
                      dedupe_key=f"coverage:{standard.id}:{fingerprint}:{person.id}", now=now):
                made += 1
    return made
