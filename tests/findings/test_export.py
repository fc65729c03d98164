"""The findings register export (CSV, XLSX) of the filtered list, with the formula guard; the
dashboard heat map labels each clause with its own title."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from audit.extensions import db
from audit.findings import queries
from audit.findings import services as fs
from audit.models import Grade
from tests.findings.helpers import draft, world


def test_export_csv_and_xlsx_of_the_filtered_list_with_formula_guard(app, make, library, now, login):
    """Only the filtered findings are exported; a statement starting with '=' stays text."""
    w = world(make, library)
    minor = fs.raise_finding(w.audit, grade=Grade.MINOR, statement='=HYPERLINK("http://x","y")',
                             evidence="Seen", clauses=[w.clause], actor=w.auditor, now=now)
    fs.issue_finding(minor, actor=w.auditor, now=now)
    ofi = draft(w, Grade.OFI, now=now)
    fs.issue_finding(ofi, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.coordinator)
    r = client.get("/findings/export.csv?grade=minor")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Reference", "Grade", "Status"] and len(rows) == 2
    assert rows[1][0] == minor.reference and rows[1][8] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert rows[1][11] == minor.current_due_on().isoformat()
    r = client.get("/findings/export.xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    refs = {ws.cell(row=i, column=1).value for i in range(2, ws.max_row + 1)}
    assert refs == {minor.reference, ofi.reference}
    statements = [ws.cell(row=i, column=9).value for i in range(2, ws.max_row + 1)]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in statements
    assert client.get("/findings/export.pdf").status_code == 404


def test_heat_map_labels_come_from_the_clause_itself(app, make, library, now):
    """An NC on 8.5.1 is counted under 8.5 with 8.5's own title, not a sub-clause's."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    parent = next(c for c in library["ISO 9001"].clauses if c.number == "8.5")
    heat = queries.dashboard(None, now)["heat"]
    assert heat == [("8.5", parent.title, 0, 1)]


def test_trail_names_people_and_clauses_and_never_reads_lists_as_changes(app, make, library, now, login):
    """The finding's trail shows clause numbers and titles and people's names; two clauses are
    not drawn as "old → new"."""
    w = world(make, library)
    other = next(c for c in library["ISO 9001"].clauses if c.number == "7.5.3")
    f = fs.raise_finding(w.audit, grade=Grade.MINOR, statement="Two clauses", evidence="Seen",
                         clauses=[w.clause, other], actor=w.auditor, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    helper = make.user(roles=w.owner.roles, name="Hal Helper")
    fs.assign_owner(f, helper, actor=w.coordinator, now=now)
    db.session.commit()
    page = login(w.coordinator).get(f"/findings/{f.id}").text
    assert f"8.5.1 {w.clause.title}; 7.5.3 {other.title}" in page
    assert "Olga Owner → Hal Helper" in page
    assert f"{w.clause.id} →" not in page
