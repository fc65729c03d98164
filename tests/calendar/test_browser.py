"""The calendar page in real Chromium: QR code, copy buttons, no CSP violations."""

from __future__ import annotations

import os
import threading

import pytest

from audit.extensions import db
from tests import factories

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def live_url(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_create_link_shows_qr_and_copy_works(app, make, live_url):
    """A user creates a link, sees the QR code, and the copy button reports success."""
    from playwright.sync_api import sync_playwright

    email = make.user().email
    db.session.commit()
    db.session.close()  # the server thread writes: hold no SQLite transaction here
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 768, "height": 1024})
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                    and "favicon" not in (m.location or {}).get("url", "") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live_url}/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", factories.PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{live_url}/calendar/")
            page.select_option("select[name=feed]", "personal")
            page.fill("input[name=label]", "Phone")
            page.click("text=Create link")
            # is_visible() does not wait: wait for the next page to render the QR code first.
            page.wait_for_selector(".calendar-qr svg", state="visible")
            webcal = page.input_value("#link-webcal")
            assert webcal.startswith("webcal://") and webcal.endswith(".ics")
            page.click("button[data-copy=link-webcal]")
            # A selector wait, not wait_for_function: the page's CSP forbids the eval that needs.
            page.wait_for_selector(".copy-status:not(:empty)")
            assert "Copied" in page.text_content(".copy-status")
            box = page.locator("button[data-copy=link-https]").bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44
        finally:
            browser.close()
    assert problems == []


def test_revoke_asks_for_confirmation(app, make, live_url):
    """Dismissing the confirmation keeps the link; accepting revokes it."""
    from playwright.sync_api import sync_playwright

    from tests.calendar.test_views import new_token

    user = make.user()
    email = user.email
    new_token(user)
    db.session.close()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_url}/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", factories.PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{live_url}/calendar/")
            page.once("dialog", lambda d: d.dismiss())
            page.click("text=Revoke")
            assert "Active" in page.text_content(".calendar-tokens")
            page.once("dialog", lambda d: d.accept())
            page.click("text=Revoke")
            page.wait_for_selector("text=The calendar link is revoked.")
            assert "Revoked" in page.text_content(".calendar-tokens")
        finally:
            browser.close()
