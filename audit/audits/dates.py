"""One calendar rule for every change of an audit's days: the planner, accepting its proposals
and a coordinator's manual reschedule all ask ``date_problems``.

The rule: audits happen on working days (Monday–Friday), not on the site's holidays, inside
their programme's period, and never start before the site's today. A coordinator may override a
weekend or a holiday with a recorded reason (a shutdown audit on a Saturday is real); the period
and the past are not waivable: move the audit to the programme that covers those days instead,
or to a day still ahead. Double booking is the team's rule
(``audit.audits.team``), checked with the team.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from audit.audits.team import Problem

#: Problems a recorded reason may override.
WAIVABLE = frozenset({"weekend", "holiday"})
#: What a person may do about a weekend or a holiday where the form has a reason field.
OVERRIDE_HINT = "Choose working days, or give a reason to audit on those days."


def _fmt(day: dt.date) -> str:
    return day.strftime("%a %d %b %Y")


def audit_holidays(audit) -> set[dt.date]:
    """The closed days of the audit's site (none for a supplier's premises)."""
    return {h.day for h in audit.site.holidays} if audit.site is not None else set()


def date_problems(audit, first: dt.date, last: dt.date, *, holidays: set[dt.date] | None = None,
                  override_reason: str | None = None, today: dt.date | None = None) -> list[Problem]:
    """Every calendar rule the local days [first, last] break for ``audit``.

    ``holidays`` may be passed in by callers that checked many days (the planner loads them once).
    With ``override_reason`` weekend and holiday problems are waived (the caller records it).
    ``today`` is the site's local date: a start before it is refused (an audit "scheduled" in the
    past is overdue the moment it is saved). None skips that check, for callers that do not know
    the clock.
    """
    holidays = audit_holidays(audit) if holidays is None else holidays
    problems: list[Problem] = []
    if today is not None and first < today:
        problems.append(Problem("past", f"{_fmt(first)} is in the past (today is {_fmt(today)} at the site): "
                                         "choose today or a later day."))
    day = first
    while day <= last:
        if day.weekday() >= 5:
            problems.append(Problem("weekend", f"{_fmt(day)} is a weekend day."))
        elif day in holidays:
            problems.append(Problem("holiday", f"{_fmt(day)} is a holiday at {audit.site.name}."))
        day += dt.timedelta(days=1)
    if (override_reason or "").strip():
        problems = [p for p in problems if p.rule not in WAIVABLE]
    if problems and any(p.rule in WAIVABLE for p in problems):
        problems.append(Problem("override", OVERRIDE_HINT))
    programme = audit.programme
    if programme is not None and (first < programme.period_start or last > programme.period_end):
        problems.append(Problem(
            "period", f"{audit.reference} belongs to {programme.name}, which runs from "
                      f"{programme.period_start:%d %b %Y} to {programme.period_end:%d %b %Y}: "
                      "choose days inside that period or move the audit to another programme."))
    return problems


def is_working_day(day: dt.date, holidays: set[dt.date]) -> bool:
    """Monday–Friday and not a site holiday."""
    return day.weekday() < 5 and day not in holidays


def previous_working_day(day: dt.date) -> dt.date:
    """The working day before ``day`` (Friday before a Monday)."""
    day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def next_working_day(day: dt.date) -> dt.date:
    """The working day after ``day`` (Monday after a Friday)."""
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO 3166 country code, from the tz database's zone.tab (read once)."""
    from importlib import resources

    try:
        text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        text = Path("/usr/share/zoneinfo/zone.tab").read_text(encoding="utf-8")
    result = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, zone, *_ = line.split("\t")
            result[zone] = code
    return result


def country_of_zone(zone: str) -> str:
    """The country a site's IANA zone lies in (``DE`` for Europe/Berlin); an unknown zone stands
    for itself, so two unknown zones count as different countries (the cautious answer)."""
    return _zone_countries().get(zone, zone)


def audit_country(audit) -> str:
    """Where the audit happens: its supplier's recorded country, else its zone's country."""
    supplier = audit.supplier
    return country_where(audit.site is not None, supplier.country if supplier is not None else None,
                         audit.timezone)


def country_where(at_site: bool, supplier_country: str | None, zone: str) -> str:
    """``audit_country`` from plain values: an audit away from a site happens in its supplier's
    recorded country, anything else in the country of its zone."""
    if not at_site and supplier_country:
        return supplier_country
    return country_of_zone(zone)
