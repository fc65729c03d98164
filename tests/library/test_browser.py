"""The preview in real Chromium: conditional questions appear when their condition is met, and
the builder's reorder buttons work at tablet width."""

import os
import threading

import pytest
from werkzeug.serving import make_server

from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.library.checklists import versions

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture
def live(app, now):
    """The app with the demo data, served on 127.0.0.1 on a free port."""
    seed_demo(now=now)
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def page(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True)
        pg = context.new_page()
        pg.goto(f"{live}/login")
        pg.fill("input[name=email]", "coordinator@example.com")
        pg.fill("input[name=password]", DEMO_PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url(f"{live}/")
        pg.live = live
        try:
            yield pg
        finally:
            browser.close()


def _ids(name: str) -> tuple[int, int]:
    """(version id, template id) of a published template; ends the read so the server can write."""
    version = versions.published_version(name)
    ids = (version.id, version.template_id)
    db.session.rollback()
    return ids


def test_preview_shows_dependent_questions_on_answer(page):
    """Design questions stay hidden until "Yes" is chosen for the design question."""
    version_id, _ = _ids("ISO 9001:2015 internal audit")
    page.goto(f"{page.live}/library/versions/{version_id}/preview")
    dependent = page.locator('fieldset[data-key="dd-planning"]')
    assert dependent.is_hidden()
    page.locator('input[name="q-dd-applicable"][value="yes"]').check()
    assert dependent.is_visible()
    page.locator('input[name="q-dd-applicable"][value="no"]').check()
    assert dependent.is_hidden()


def test_reorder_buttons_work_at_tablet_width(page):
    """At 768 px a coordinator opens a draft and moves a question down with a tap."""
    _, template_id = _ids("ISO 9001 surveillance audit")
    page.goto(f"{page.live}/library/templates/{template_id}")
    page.get_by_role("button", name="Edit (new draft)").tap()
    page.wait_for_url("**/library/versions/*")
    first = page.locator(".builder-question").first
    assert "sv-changes" in first.inner_text()
    # The move is a form POST answered by a redirect: wait for that navigation, not for the
    # current page's load state, which is already "loaded" when the tap returns.
    with page.expect_navigation():
        page.get_by_role("button", name="Move sv-changes down").tap()
    assert "sv-changes-controlled" in page.locator(".builder-question").first.inner_text()
    box = page.get_by_role("button", name="Move sv-changes up").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    if os.environ.get("LIBRARY_SCREENSHOTS"):
        page.screenshot(path=os.environ["LIBRARY_SCREENSHOTS"] + "/builder.png", full_page=False)
