"""Top management's pages in real Chromium at 768 px, checked with axe-core.

axe-core's script comes from an installed package (axe-playwright-python ships ``axe.min.js``),
never from a CDN. Every register's list and detail page, the review list, a review's page with
its pack, the risk actions page and the home panel must have no axe violation.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.models import (
    Complaint,
    ContextChange,
    ManagementReview,
    ProcessIndicator,
    QualityObjective,
    Risk,
    SatisfactionResult,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

axe_package = pytest.importorskip("axe_playwright_python")
AXE_JS = Path(axe_package.__file__).with_name("axe.min.js")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture
def live(app, now):
    """The demo organisation served on a free port, with the ids of one row of each register."""
    seed_demo(now=now)
    db.session.commit()
    ids = {model.__name__: db.session.scalar(select(model.id).order_by(model.id).limit(1)) for model in (
        QualityObjective, ProcessIndicator, SatisfactionResult, Complaint, Risk, ContextChange)}
    ids["review"] = db.session.scalar(select(ManagementReview.id).order_by(ManagementReview.period_end).limit(1))
    db.session.rollback()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids
    finally:
        server.shutdown()
        thread.join(5)


def _paths(ids: dict) -> list[str]:
    return [
        "/management/", "/management/objectives/", f"/management/objectives/{ids['QualityObjective']}",
        "/management/indicators/", f"/management/indicators/{ids['ProcessIndicator']}",
        "/management/satisfaction/", f"/management/satisfaction/{ids['SatisfactionResult']}",
        "/management/complaints/", f"/management/complaints/{ids['Complaint']}",
        "/management/risks/", f"/management/risks/{ids['Risk']}",
        "/management/context/", f"/management/context/{ids['ContextChange']}",
        "/management/reviews/", f"/management/reviews/{ids['review']}",
        "/management/risk-actions", "/management/reviews/actions", "/management/reviews/new",
        "/management/risks/new", "/management/complaints/new", "/",
    ]


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(json.dumps(n["target"]) for n in v["nodes"][:3]) for v in result["violations"]]


@pytest.mark.parametrize("who", ["coordinator@example.com", "management@example.com"])
def test_management_pages_have_no_axe_violations_at_768(live, who):
    """Coordinator (every form shown) and top management (read-only) at tablet width."""
    from playwright.sync_api import sync_playwright

    base, ids = live
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # bypass_csp: the app forbids inline scripts, and axe is injected as one (tests only).
            page = browser.new_context(viewport={"width": 768, "height": 1024}, bypass_csp=True).new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=email]", who)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for path in _paths(ids):
                response = page.goto(base + path)
                if response.status == 403:
                    continue  # a form the person may not open: its refusal is tested elsewhere
                assert response.status == 200, f"{path}: {response.status}"
                problems += [f"{path}: {v}" for v in _violations(page)]
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
