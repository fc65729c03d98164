"""The findings register as CSV or XLSX: the filtered list, one row per finding.

Pure serialisers (findings in, bytes out). Every cell goes through ``core.exports.guard_cell``, the
one formula-injection guard of every export, so a statement such as ``=HYPERLINK(...)`` is shown
as text, never run as a formula by a spreadsheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from audit.core.exports import guard_cell

COLUMNS = ("Reference", "Grade", "Status", "Audit", "Unit", "Site", "Supplier", "Clauses",
           "Statement", "Owner", "Issued", "Due", "Overdue", "Closed", "Root cause", "Category")


def rows(findings, overdue: set[int]) -> list[list]:
    """The register's rows, dates as dates (XLSX) and names rather than ids; ``overdue`` holds
    the ids of the findings overdue at their own site (the register judges that)."""
    result = []
    for f in findings:
        due = f.current_due_on()
        result.append([
            f.reference, f.grade.label, f.status.label, f.audit.reference if f.audit else "",
            f.unit.name if f.unit else "", f.site.name if f.site else "",
            f.supplier.name if f.supplier else "", "; ".join(c.number for c in f.clauses),
            f.statement, f.owner.name if f.owner else "",
            f.issued_at.date() if f.issued_at else None, due,
            "yes" if f.id in overdue else "", f.closed_at.date() if f.closed_at else None,
            f.root_cause or "", f.root_cause_category or "",
        ])
    return result


def register_csv(findings, overdue: set[int]) -> bytes:
    """UTF-8 CSV with a BOM (spreadsheets then read accents right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows(findings, overdue):
        writer.writerow(["" if v is None else guard_cell(v.isoformat() if isinstance(v, dt.date) else v)
                         for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def register_xlsx(findings, overdue: set[int]) -> bytes:
    """One sheet, a header row, frozen; dates as spreadsheet dates."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Findings"
    ws.append(list(COLUMNS))
    for row in rows(findings, overdue):
        ws.append([guard_cell(v) for v in row])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
