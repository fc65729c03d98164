"""Pure rules for text, dates and numbers that may enter or leave the application.

Shared by the request edge (``hygiene``), the forms, the importers, the calendar serialiser,
the e-mail builder and the exports, so each rule is declared once. Nothing here touches a
request or the database.
"""

from __future__ import annotations

import re

#: C0 control characters except TAB, LF and CR, plus DEL. No person types them; a strict
#: iCalendar parser rejects a whole feed over one, and PostgreSQL cannot store NUL at all.
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_BREAK_RE = re.compile("[\r\n\u2028\u2029\x85]")
#: Every database we support stores ids and counts in 32-bit signed INTEGER columns.
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
#: Years a person can mean in an audit system; outside them date arithmetic overflows.
MIN_YEAR, MAX_YEAR = 1900, 2200
YEAR_MESSAGE = f"Dates must lie between the years {MIN_YEAR} and {MAX_YEAR}."

#: A value that is a date or date-time as forms and the API send them (ISO 8601 shapes).
DATE_SHAPE_RE = re.compile(
    r"^\s*([+-]?\d{4,})-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)
INTEGER_SHAPE_RE = re.compile(r"^\s*[+-]?\d+\s*$")


_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}


def control_character(value: str) -> str | None:
    """The first forbidden control character in ``value`` as ``U+XXXX`` (with its name when it
    has a common one, e.g. ``U+0000 NUL``), or None."""
    match = CONTROL_RE.search(value)
    if not match:
        return None
    code = ord(match.group())
    return f"U+{code:04X} {_CONTROL_NAMES[code]}" if code in _CONTROL_NAMES else f"U+{code:04X}"


def strip_controls(value: str) -> str:
    """``value`` without forbidden control characters (defence in depth at serialisation)."""
    return CONTROL_RE.sub("", value)


def single_line(value: str) -> str:
    """``value`` on one line: line breaks become spaces, control characters go (for headers)."""
    return " ".join(LINE_BREAK_RE.sub(" ", strip_controls(value)).split())


def year_in_range(year: int) -> bool:
    """True for a year this application accepts."""
    return MIN_YEAR <= year <= MAX_YEAR


def date_out_of_range(value: str) -> bool:
    """True when ``value`` is shaped like an ISO date or date-time with a year out of range."""
    match = DATE_SHAPE_RE.match(value)
    return bool(match) and not year_in_range(int(match.group(1)))


def integer_out_of_range(value: str) -> bool:
    """True when ``value`` is a whole number no INTEGER column can hold."""
    if not INTEGER_SHAPE_RE.match(value):
        return False
    digits = value.strip().lstrip("+-").lstrip("0")
    if len(digits) > 10:  # also spares int() on thousands of digits
        return True
    return not INT32_MIN <= int(value) <= INT32_MAX
