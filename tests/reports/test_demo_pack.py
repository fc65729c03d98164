"""The management review pack over the demo data: page, PDF and XLSX equal direct counts."""

from __future__ import annotations

import datetime as dt
import io
import re

from dateutil.relativedelta import relativedelta
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.findings.queries import overdue_clause
from audit.models import Finding, Grade, PoorQualityCost, utcnow


def test_demo_pack_matches_direct_counts(app, client):
    """Every format of the demo pack shows the findings per grade, overdue and cost totals
    that direct SQL counts give."""
    now = utcnow()
    seed_demo(now=now)
    db.session.commit()
    today = now.date()
    start = today - relativedelta(months=12) + dt.timedelta(days=1)
    lo = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    issued = select(func.count(Finding.id)).where(Finding.issued_at >= lo)
    expected = {g.label: db.session.scalar(issued.where(Finding.grade == g)) for g in Grade}
    total = db.session.scalar(issued)
    overdue = db.session.scalar(select(func.count(Finding.id)).where(overdue_clause(today)))
    cost = db.session.scalar(select(func.sum(PoorQualityCost.amount)).where(
        PoorQualityCost.incurred_on >= start))
    assert total > 10 and overdue >= 2 and cost > 0

    assert client.post("/login", data={"email": "management@example.com",
                                       "password": DEMO_PASSWORD}).status_code == 302
    query = f"?start={start}&end={today}"
    page = client.get("/reports/management-review" + query).text
    for label, n in expected.items():
        assert f'data-grade="{label}">{n}<' in page
    assert f'<span id="overdue-count">{overdue}</span>' in page
    assert f"{cost:.2f} EUR" in page

    book = load_workbook(io.BytesIO(client.get("/reports/management-review.xlsx" + query).data))
    assert {r[0]: r[1] for r in book["Grades"].iter_rows(min_row=2, values_only=True)} == expected
    assert book["Overdue"].max_row - 1 == overdue
    assert sum(r[2] for r in book["Cost"].iter_rows(min_row=2, values_only=True)) == \
        float(cost)

    pdf = client.get("/reports/management-review.pdf" + query)
    assert pdf.status_code == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert re.search(rf"Findings issued:\s*{total}", text)
    assert re.search(rf"Overdue items:\s*{overdue}", text)
    assert f"{cost:.2f} EUR" in text
