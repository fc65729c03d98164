"""The coverage matrix in real Chromium at 768 px and 1280 px (issue 14, Found 9 / build 8):
the unit header row and the clause column stay put while the matrix scrolls inside its own
box, the page body never scrolls sideways, and dates carry their year."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from audit.extensions import db
from audit.models import AuditStatus, Role
from tests import factories
from tests.calendar.test_browser import ARGS, CHROMIUM, live_url  # noqa: F401 - the live server fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]

DATE = re.compile(r"\b\d{2} [A-Z][a-z]{2} \d{4}\b")


@pytest.fixture
def matrix(app, make, library):
    """Twelve units with long names applying ISO 9001 (as the demo's), some audited."""
    std = library["ISO 9001"]
    site = make.site(name="Werk Berlin-Spandau", code="BER")
    units = []
    for n in range(12):
        unit = make.unit(name=f"Production line {n + 1} and maintenance", site=site, importance=1 + n % 3)
        unit.standards.append(std)
        units.append(unit)
    for n, unit in enumerate(units[:6]):
        day = dt.date(2026, 2 + n, 10)
        make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=day,
                   starts_at=dt.datetime(day.year, day.month, day.day, 8, tzinfo=dt.UTC),
                   ends_at=dt.datetime(day.year, day.month, day.day, 16, tzinfo=dt.UTC))
    email, standard_id = make.user(roles=(Role.COORDINATOR,)).email, std.id
    db.session.commit()
    db.session.close()  # the server thread reads and writes: hold no SQLite transaction here
    return {"email": email, "standard_id": standard_id}


def _box(page, selector):
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize("width", [768, 1280])
def test_matrix_headers_stick_and_the_page_does_not_overflow(matrix, live_url, width):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{live_url}/login")
            page.fill("input[name=email]", matrix["email"])
            page.fill("input[name=password]", factories.PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{live_url}/programme/coverage?standard={matrix['standard_id']}")
            page.wait_for_selector(".matrix-wrap table.matrix")

            # The page body itself never scrolls sideways: only the matrix's own box does.
            widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                                   " document.body.scrollWidth]")
            assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
            wrap = _box(page, ".matrix-wrap")
            assert wrap["x"] >= 0 and wrap["x"] + wrap["width"] <= width + 0.5, wrap
            sizes = page.locator(".matrix-wrap").evaluate(
                "el => [el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight]")
            assert sizes[0] > sizes[1], "twelve unit columns are wider than the box: it scrolls sideways"
            assert sizes[2] > sizes[3], "the clause rows are taller than the box: it scrolls down"
            assert wrap["height"] <= 900, "the box fits the window, so its header can stick inside it"

            head = ".matrix thead th:nth-child(4)"
            first_col = ".matrix tbody tr:nth-child(20) th[scope=row]"
            before_head, before_col = _box(page, head), _box(page, first_col)
            page.locator(".matrix-wrap").evaluate("el => el.scrollTo(el.scrollWidth, 600)")
            page.wait_for_timeout(100)
            after_head, after_col = _box(page, head), _box(page, first_col)
            # Scrolled down: the unit header stays at the top of the box (it moved sideways only).
            assert abs(after_head["y"] - wrap["y"]) <= 2, (after_head, wrap)
            assert after_head["x"] < before_head["x"]
            # Scrolled right: the clause column stays at the left of the box (it moved up only).
            assert abs(after_col["x"] - wrap["x"]) <= 2, (after_col, wrap)
            assert after_col["y"] < before_col["y"]
            # The sticky corner and header cover the cells below them, not the other way round.
            corner = _box(page, ".matrix thead th:first-child")
            assert abs(corner["x"] - wrap["x"]) <= 2 and abs(corner["y"] - wrap["y"]) <= 2

            text = page.text_content(".matrix tbody")
            dates = DATE.findall(text)
            assert dates and all(d[-4:].isdigit() for d in dates)
            assert not re.search(r"\b\d{2} [A-Z][a-z]{2}\b(?! \d{4})", text), "a date without its year"
        finally:
            browser.close()
