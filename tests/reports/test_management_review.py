"""The management review input pack: figures equal direct counts in every format."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from audit.extensions import db
from audit.findings import services as fs
from audit.models import CostCategory, Finding, Grade, PoorQualityCost, Role, utcnow
from audit.reports.services import build_pack, pack_csv, pack_xlsx
from tests.findings.helpers import draft, to_status, world


def _seed(make, library, now):
    w = world(make, library)
    for grade in (Grade.MAJOR, Grade.MINOR, Grade.MINOR, Grade.OFI):
        f = draft(w, grade, now=now)
        fs.issue_finding(f, actor=w.auditor, now=now)
        if grade.is_nonconformity:
            fs.add_cost(f, category=CostCategory.SCRAP, amount="100.25", currency="EUR",
                        incurred_on=now.date(), actor=w.auditor, now=now)
    closed = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    fs.verify_effectiveness(closed, effective=True, note="ok", actor=w.auditor, now=now)
    draft(w, Grade.MAJOR, now=now)  # a draft is not yet a finding for the pack
    db.session.commit()
    return w


def test_pack_numbers_equal_direct_counts(app, make, library, now):
    """Grades, effectiveness and costs in the pack equal SQL counts over the same period."""
    _seed(make, library, now)
    start, end = now.date() - dt.timedelta(days=30), now.date()
    pack = build_pack(start, end, today=now.date())
    lo = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    issued = select(func.count(Finding.id)).where(Finding.issued_at >= lo)
    assert pack.findings_total == db.session.scalar(issued) == 5
    grades = dict(pack.grades)
    for grade in Grade:
        assert grades[grade.label] == db.session.scalar(issued.where(Finding.grade == grade))
    assert pack.effectiveness["closed"] == 1 and pack.effectiveness["effective"] == 1
    total = db.session.scalar(select(func.sum(PoorQualityCost.amount)))
    assert dict(pack.cost_totals)["EUR"] == total


def test_pack_csv_and_xlsx_carry_the_same_numbers(app, make, library, now):
    """CSV rows and XLSX sheets repeat the pack's figures."""
    _seed(make, library, now)
    pack = build_pack(now.date() - dt.timedelta(days=30), now.date(), today=now.date())
    rows = list(csv.reader(io.StringIO(pack_csv(pack))))
    by_grade = {r[1]: int(r[2]) for r in rows if r[0] == "findings by grade"}
    assert by_grade == dict(pack.grades)
    wb = load_workbook(io.BytesIO(pack_xlsx(pack)))
    sheet = {r[0]: r[1] for r in wb["Grades"].iter_rows(min_row=2, values_only=True)}
    assert sheet == dict(pack.grades)


def test_pack_page_pdf_csv_xlsx_routes(app, make, library, login):
    """Page, PDF, CSV and XLSX answer for a viewer; an auditee gets 403."""
    now = utcnow()
    w = _seed(make, library, now)
    viewer = make.user(roles=(Role.VIEWER,))
    db.session.commit()
    client = login(viewer)
    page = client.get("/reports/management-review")
    assert page.status_code == 200 and "Management review input" in page.text
    pdf = client.get("/reports/management-review.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/reports/management-review.csv").status_code == 200
    xlsx = client.get("/reports/management-review.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert login(w.owner).get("/reports/management-review").status_code == 403


def test_invalid_period_gives_the_page_again_naming_the_field(app, make, library, login):
    """Not a date, a period ending before it starts, a period over three years: the page again
    (422) with the entered values and a message naming the field, for the downloads too."""
    viewer = make.user(roles=(Role.VIEWER,))
    db.session.commit()
    client = login(viewer)
    cases = [({"start": "2026-13-45"}, "From: Not a valid date value", "start"),
             ({"start": "2026-05-01", "end": "2026-04-01"}, "To: The period ends before it starts.", "end"),
             ({"start": "2019-01-01", "end": "2026-01-01"}, "From: Choose a period of at most three years.",
              "start")]
    for args, message, field in cases:
        for path in ("", ".csv", ".xlsx", ".pdf"):
            response = client.get(f"/reports/management-review{path}", query_string=args)
            assert response.status_code == 422, (args, path)
            page = response.text
            assert message in page, (args, path)
            assert "Management review input" in page and 'role="alert"' in page
            assert f'name="{field}"' in page and 'aria-invalid="true"' in page
            assert f'value="{args[field]}"' in page  # what was typed stays to be corrected
