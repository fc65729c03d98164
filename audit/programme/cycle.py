"""Certification-cycle dates and checks (ISO/IEC 17021-1:2015, DOMAIN.md §3). Pure functions.

Month arithmetic uses ``relativedelta``, which clamps to the month's last day: a decision on
31 January has its first surveillance due on 31 January a year later, a decision on 29 February
on 28 February.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from audit.models import ThirdPartyType
from audit.organisation.services import default_expiry as expiry

#: NORM: surveillance 1 no later than 12 months after the certification decision.
SURVEILLANCE_1_MONTHS = 12
#: PRACTICE (configurable): plan surveillance a month before it is due, recertification at month 33.
SURVEILLANCE_MARGIN_MONTHS = 1
RECERTIFICATION_MONTH = 33
#: PRACTICE: leave the CB this many days between the recertification audit and expiry for its decision.
DECISION_DAYS = 30
#: NORM: corrections of major NCs at stage 2 verified within 6 months; restoration within 6 months.
MAJOR_NC_MONTHS = 6
RESTORATION_MONTHS = 6


@dataclass(frozen=True)
class CycleAudit:
    """One audit the cycle needs: when to plan it and the latest date the rules allow."""

    type: ThirdPartyType
    number: int  #: 1, 2, ... for surveillances; 1 for recertification
    planned: dt.date
    due: dt.date

    @property
    def label(self) -> str:
        if self.type is ThirdPartyType.SURVEILLANCE:
            return f"Surveillance {self.number}"
        return self.type.label


def surveillance_deadline(decision: dt.date, number: int, previous: dt.date | None) -> dt.date:
    """THE surveillance rule, used by planning, ``check_cycle`` and the sweep alike (NORM,
    17021-1 9.6.2): surveillance 1 no later than 12 months after the certification decision;
    every later one by the end of the calendar year after the previous surveillance (``previous``:
    its real date once held or dated, else its planned date), so no calendar year goes without."""
    if number <= 1 or previous is None:
        return decision + relativedelta(months=SURVEILLANCE_1_MONTHS)
    return dt.date(previous.year + 1, 12, 31)


def default_expiry(decision: dt.date) -> dt.date:
    """Decision + 3 years − 1 day (CB convention; the organisation module's rule)."""

    return expiry(decision)


def certification_cycle(decision: dt.date, expiry: dt.date | None = None, *,
                        margin_months: int = SURVEILLANCE_MARGIN_MONTHS,
                        recert_month: int = RECERTIFICATION_MONTH) -> list[CycleAudit]:
    """The audits of one 3-year cycle: surveillances covering every calendar year up to the
    recertification year, then recertification before expiry."""
    expiry = expiry or default_expiry(decision)
    s1_due = decision + relativedelta(months=SURVEILLANCE_1_MONTHS)
    recert_planned = min(decision + relativedelta(months=recert_month),
                         expiry - dt.timedelta(days=DECISION_DAYS + 1))
    items = [CycleAudit(ThirdPartyType.SURVEILLANCE, 1,
                        decision + relativedelta(months=SURVEILLANCE_1_MONTHS - margin_months), s1_due)]
    number = 1
    while True:
        number += 1
        planned = decision + relativedelta(months=SURVEILLANCE_1_MONTHS * number - margin_months)
        if planned >= recert_planned:
            break
        # Keep it inside the calendar year that still needs a surveillance.
        previous = items[-1].planned
        if planned.year > previous.year + 1:
            planned = dt.date(previous.year + 1, 12, 15)
        items.append(CycleAudit(ThirdPartyType.SURVEILLANCE, number, planned,
                                surveillance_deadline(decision, number, previous)))
    # A calendar year between the last surveillance and the recertification year with none planned.
    while items[-1].planned.year + 1 < recert_planned.year:
        year = items[-1].planned.year + 1
        items.append(CycleAudit(ThirdPartyType.SURVEILLANCE, len(items) + 1, dt.date(year, 6, 15),
                                surveillance_deadline(decision, len(items) + 1, items[-1].planned)))
    items.append(CycleAudit(ThirdPartyType.RECERTIFICATION, 1, recert_planned,
                            expiry - dt.timedelta(days=1)))
    return items


#: What every surveillance covers (DOMAIN.md §3), by harmonized-structure clause number, the same
#: in ISO 9001, 14001 and 45001: objectives, operational control, internal audit, management
#: review, nonconformity and corrective action, continual improvement.
SURVEILLANCE_CORE = ("6.2", "8.1", "9.2", "9.3", "10.2", "10.3")


def surveillance_focus(main_clauses: list[str], number: int, count: int) -> list[str]:
    """Clause numbers surveillance ``number`` of ``count`` covers: the core, plus its share of the
    remaining ``main_clauses`` (in document order), so the surveillances of a cycle cover every
    clause between them. Pure: numbers in, numbers out."""
    count = max(count, 1)
    core = [c for c in main_clauses if c in SURVEILLANCE_CORE]
    rest = [c for c in main_clauses if c not in SURVEILLANCE_CORE]
    share = set(rest[(number - 1) % count::count])
    return [c for c in main_clauses if c in core or c in share]


def _fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y")


def check_cycle(decision: dt.date, expiry: dt.date, planned: list[tuple[ThirdPartyType, dt.date]]) -> list[str]:
    """Warnings for a cycle's planned third-party audits that break a rule of 17021-1."""
    warnings: list[str] = []
    surveillances = sorted(d for t, d in planned if t is ThirdPartyType.SURVEILLANCE)
    recerts = sorted(d for t, d in planned if t is ThirdPartyType.RECERTIFICATION)
    s1_due = surveillance_deadline(decision, 1, None)
    if not surveillances:
        warnings.append(f"No surveillance audit planned: surveillance 1 is due by {_fmt(s1_due)}.")
    elif surveillances[0] > s1_due:
        warnings.append(f"Surveillance 1 on {_fmt(surveillances[0])} is later than 12 months after the "
                        f"certification decision ({_fmt(s1_due)}).")
    recert = recerts[0] if recerts else None
    if recert is None:
        warnings.append(f"No recertification audit planned before the certificate expires on {_fmt(expiry)}.")
    elif recert >= expiry:
        warnings.append(f"Recertification on {_fmt(recert)} is not before expiry on {_fmt(expiry)}: the "
                        f"certificate lapses (restoration possible until {_fmt(restoration_deadline(expiry))}).")
    elif (expiry - recert).days < DECISION_DAYS:
        warnings.append(f"Recertification on {_fmt(recert)} leaves less than {DECISION_DAYS} days for the "
                        f"certification decision before expiry on {_fmt(expiry)}.")
    last_year = (recert.year if recert else expiry.year) - 1
    covered = {d.year for d in surveillances} | {d.year for d in recerts}
    for number in range(2, len(surveillances) + 1):
        due = surveillance_deadline(decision, number, surveillances[number - 2])
        if surveillances[number - 1] > due and surveillances[number - 1].year < (recert.year if recert else expiry.year):
            warnings.append(f"Surveillance {number} on {_fmt(surveillances[number - 1])} is later than "
                            f"{_fmt(due)}, the end of the calendar year after the previous one.")
    for year in range(decision.year + 1, last_year + 1):
        if year not in covered:
            warnings.append(f"No surveillance audit planned in {year}: at least one per calendar year "
                            f"is required outside recertification years.")
    for day in surveillances:
        if day >= expiry:
            warnings.append(f"Surveillance on {_fmt(day)} is after the certificate expires ({_fmt(expiry)}).")
    return warnings


def major_nc_deadline(stage2_last_day: dt.date) -> dt.date:
    """Corrections of a major NC at stage 2 must be verified by this day, else stage 2 is repeated."""
    return stage2_last_day + relativedelta(months=MAJOR_NC_MONTHS)


def check_major_nc(stage2_last_day: dt.date, verified_on: dt.date | None, today: dt.date) -> list[str]:
    """Warn when the 6-month window for verifying major-NC corrections is missed or running out."""
    deadline = major_nc_deadline(stage2_last_day)
    if verified_on is not None:
        if verified_on > deadline:
            return [f"Major NC verified on {_fmt(verified_on)}, after the 6-month limit ({_fmt(deadline)}): "
                    f"stage 2 must be repeated."]
        return []
    if today > deadline:
        return [f"Major NC not verified within 6 months of stage 2 ({_fmt(deadline)}): stage 2 must be repeated."]
    if (deadline - today).days <= 30:
        return [f"Major NC corrections must be verified by {_fmt(deadline)}."]
    return []


def restoration_deadline(expiry: dt.date) -> dt.date:
    """The last day a lapsed certificate may be restored (outstanding recertification completed)."""
    return expiry + relativedelta(months=RESTORATION_MONTHS)


def restoration_status(expiry: dt.date, today: dt.date) -> str:
    """``valid``, ``restorable`` (within 6 months after expiry) or ``stage2_needed``."""
    if today <= expiry:
        return "valid"
    if today <= restoration_deadline(expiry):
        return "restorable"
    return "stage2_needed"
