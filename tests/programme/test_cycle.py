"""Certification-cycle dates and warnings (ISO/IEC 17021-1), with fixed dates."""

from __future__ import annotations

import datetime as dt

from audit.models import ThirdPartyType
from audit.organisation.services import default_expiry
from audit.programme.cycle import (
    certification_cycle,
    check_cycle,
    check_major_nc,
    major_nc_deadline,
    restoration_deadline,
    restoration_status,
)

S, R = ThirdPartyType.SURVEILLANCE, ThirdPartyType.RECERTIFICATION
D = dt.date


def plan(items):
    return [(i.type, i.planned) for i in items]


def test_regular_cycle():
    """Decision 1 July 2024: S1 planned June 2025 (due 1 July 2025), S2 June 2026 (due by the end
    of 2026: one surveillance per calendar year), recert at month 33."""
    items = certification_cycle(D(2024, 7, 1))
    assert [(i.label, i.planned, i.due) for i in items] == [
        ("Surveillance 1", D(2025, 6, 1), D(2025, 7, 1)),
        ("Surveillance 2", D(2026, 6, 1), D(2026, 12, 31)),
        ("Recertification", D(2027, 4, 1), D(2027, 6, 29)),
    ]
    assert check_cycle(D(2024, 7, 1), default_expiry(D(2024, 7, 1)), plan(items)) == []


def test_decision_on_31_january_crosses_year_boundaries():
    """Decision 31 Jan 2025: S1 due 31 Jan 2026 (planned 31 Dec 2025), one surveillance in 2026,
    recertification in 2027 before expiry on 30 Jan 2028."""
    decision = D(2025, 1, 31)
    expiry = default_expiry(decision)
    assert expiry == D(2028, 1, 30)
    items = certification_cycle(decision, expiry)
    assert items[0].planned == D(2025, 12, 31) and items[0].due == D(2026, 1, 31)
    assert items[1].type is S and items[1].planned.year == 2026
    assert items[-1].type is R and items[-1].planned == D(2027, 10, 31) < expiry
    assert check_cycle(decision, expiry, plan(items)) == []


def test_leap_day_decision():
    """Decision 29 Feb 2024: month arithmetic clamps, so S1 is due 28 Feb 2025 and the cycle holds."""
    decision = D(2024, 2, 29)
    items = certification_cycle(decision)
    assert items[0].due == D(2025, 2, 28) and items[0].planned == D(2025, 1, 29)
    assert items[1].due == D(2026, 12, 31)
    assert items[-1].planned == D(2026, 11, 29)
    assert check_cycle(decision, default_expiry(decision), plan(items)) == []


def test_surveillance_one_later_than_twelve_months_warns():
    """A surveillance 1 planned after decision + 12 months is flagged with the deadline."""
    decision = D(2025, 1, 31)
    warnings = check_cycle(decision, default_expiry(decision),
                           [(S, D(2026, 2, 2)), (S, D(2027, 1, 15)), (R, D(2027, 10, 1))])
    assert warnings == ["Surveillance 1 on 02 Feb 2026 is later than 12 months after the certification "
                        "decision (31 Jan 2026)."]


def test_missing_calendar_year_warns():
    """At least one surveillance per calendar year outside recertification years."""
    decision = D(2024, 3, 15)
    warnings = check_cycle(decision, default_expiry(decision), [(S, D(2025, 3, 1)), (R, D(2027, 1, 10))])
    assert warnings == ["No surveillance audit planned in 2026: at least one per calendar year is required "
                        "outside recertification years."]


def test_recertification_after_expiry_warns_with_restoration_window():
    """Recertification on/after expiry lapses the certificate; the warning names the restoration limit."""
    decision = D(2024, 3, 15)
    expiry = default_expiry(decision)
    warnings = check_cycle(decision, expiry, [(S, D(2025, 3, 1)), (S, D(2026, 3, 1)), (R, D(2027, 3, 20))])
    assert warnings == ["Recertification on 20 Mar 2027 is not before expiry on 14 Mar 2027: the certificate "
                        "lapses (restoration possible until 14 Sep 2027)."]


def test_recertification_too_close_to_expiry_warns():
    """Less than 30 days between recertification audit and expiry leaves no time for the decision."""
    decision = D(2024, 3, 15)
    warnings = check_cycle(decision, default_expiry(decision),
                           [(S, D(2025, 3, 1)), (S, D(2026, 3, 1)), (R, D(2027, 3, 1))])
    assert warnings == ["Recertification on 01 Mar 2027 leaves less than 30 days for the certification "
                        "decision before expiry on 14 Mar 2027."]


def test_no_recertification_planned_warns():
    """A cycle without recertification is flagged."""
    decision = D(2024, 3, 15)
    warnings = check_cycle(decision, default_expiry(decision), [(S, D(2025, 3, 1)), (S, D(2026, 3, 1))])
    assert warnings == ["No recertification audit planned before the certificate expires on 14 Mar 2027."]


def test_major_nc_six_month_rule():
    """Major NC at stage 2: corrections verified within 6 months of its last day, else stage 2 again."""
    last_day = D(2025, 8, 31)
    assert major_nc_deadline(last_day) == D(2026, 2, 28)
    assert check_major_nc(last_day, D(2026, 2, 28), today=D(2026, 3, 1)) == []
    assert check_major_nc(last_day, D(2026, 3, 1), today=D(2026, 3, 1)) == [
        "Major NC verified on 01 Mar 2026, after the 6-month limit (28 Feb 2026): stage 2 must be repeated."]
    assert check_major_nc(last_day, None, today=D(2026, 2, 10)) == [
        "Major NC corrections must be verified by 28 Feb 2026."]
    assert check_major_nc(last_day, None, today=D(2026, 3, 2)) == [
        "Major NC not verified within 6 months of stage 2 (28 Feb 2026): stage 2 must be repeated."]


def test_restoration_window():
    """A lapsed certificate may be restored within 6 months after expiry; later a stage 2 is needed."""
    expiry = D(2027, 8, 31)
    assert restoration_deadline(expiry) == D(2028, 2, 29)  # leap year clamps to the month end
    assert restoration_status(expiry, D(2027, 8, 31)) == "valid"
    assert restoration_status(expiry, D(2028, 2, 29)) == "restorable"
    assert restoration_status(expiry, D(2028, 3, 1)) == "stage2_needed"
