"""The one spreadsheet formula-injection guard, used by every CSV and XLSX export.

A cell whose text starts with ``= + - @``, TAB or CR is run as a formula by Excel, LibreOffice
and Google Sheets (``=HYPERLINK(...)`` exfiltrates, ``@SUM(...)`` computes). Such text gets a
leading apostrophe (OWASP's advice), which spreadsheets show as text. Importers of our own
CSV files take the apostrophe off again, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: Any) -> Any:
    """``value`` safe for a spreadsheet cell: formula-like text is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def guard_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through ``guard_cell``."""
    return [guard_cell(v) for v in values]


def unguard_cell(value: str) -> str:
    """Undo ``guard_cell`` on text read back from one of our exports."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
