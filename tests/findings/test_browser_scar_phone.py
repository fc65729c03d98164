"""The supplier's SCAR page on a phone (390×844, headless Chromium): every root-cause method's
fields are visible and usable without scrolling sideways, and each form submits."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.forms import ANALYSIS_FIELDS
from audit.models import ApprovalStatus, AuditKind, Finding, Grade, Role, ScarStage
from tests.conduct.conftest import CHROMIUM, browser, live, live_config  # noqa: F401 (fixtures)
from tests.conduct.test_browser import _login
from tests.findings.helpers import draft, world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]
PHONE = {"width": 390, "height": 844}
VALUES = {"five_whys": {"why1": "Porosity in the casting", "why2": "Gas in the melt",
                        "why3": "Degassing time too short"},
          "ishikawa": {"ishikawa_method": "Degassing time not in the work instruction"},
          "eight_d": {"eight_d_d1": "Melt shop team", "eight_d_d2": "Porosity in lot 88",
                      "eight_d_d4": "Degassing time not controlled"}}


def _no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def _usable(page, selector):
    """Visible, inside the screen's width, and big enough to tap and type in."""
    field = page.locator(selector)
    field.scroll_into_view_if_needed()
    assert field.is_visible() and field.is_enabled(), selector
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (selector, box)
    assert box["width"] >= 120 and box["height"] >= 24, (selector, box)


def test_scar_page_on_a_phone(live, browser, app, make, library, now):  # noqa: F811
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    finding_id = f.id

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    _login(page, live.url, contact)
    url = f"{live.url}/scar/{finding_id}"
    page.goto(url)
    _no_sideways_scroll(page)
    page.click("text=Acknowledge receipt")
    page.wait_for_selector("textarea[name=d3-containment]")
    _no_sideways_scroll(page)
    _usable(page, "textarea[name=d3-containment]")
    page.fill("textarea[name=d3-containment]", "Lots 88-91 blocked")
    page.click("text=Save containment")
    page.wait_for_selector("select[name=d4-root_cause_method]")

    # each method in turn (the root cause may be revised until the plan is submitted)
    for method, values in VALUES.items():
        page.goto(url)
        _no_sideways_scroll(page)
        for name in ANALYSIS_FIELDS[method]:
            _usable(page, f"#analysis-{method} [name=d4-{name}]")
        for name in ("root_cause_method", "root_cause", "root_cause_category", "extent_check"):
            _usable(page, f"[name=d4-{name}]")
        page.select_option("select[name=d4-root_cause_method]", method)
        for name, value in values.items():
            page.fill(f"[name=d4-{name}]", value)
        page.fill("[name=d4-root_cause]", "Degassing time not controlled in the melt shop")
        page.select_option("select[name=d4-root_cause_category]", "method")
        page.fill("[name=d4-extent_check]", "All furnaces checked")
        page.click("text=Save root cause")
        page.wait_for_selector("text=Submit plan for review")
        db.session.rollback()
        saved = db.session.get(Finding, finding_id)
        assert saved.root_cause_method.value == method and saved.scar_stage is ScarStage.ROOT_CAUSE

    _no_sideways_scroll(page)
    for name in ("action1_kind", "action1_description", "action1_due_on"):
        _usable(page, f"[name=d5-{name}]")
    page.fill("[name=d5-action1_description]", "Timer interlock on the degassing unit")
    page.fill("[name=d5-action1_due_on]", (now.date() + dt.timedelta(days=20)).isoformat())
    page.click("text=Submit plan for review")
    page.wait_for_load_state()
    db.session.rollback()
    assert db.session.get(Finding, finding_id).scar_stage is ScarStage.ACTION_PLAN
    _no_sideways_scroll(page)
    context.close()
