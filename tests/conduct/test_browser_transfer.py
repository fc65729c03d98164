"""Issue 15 item 7 and the photo bound in real headless Chromium (768×1024 touch): the first
checklist load downloads the page once (the offline cache is filled from the page itself, not
a second request) and still works offline afterwards; the assets arrive compressed; an original
photo over its bound is refused before anything decodes it, one under it is resized and kept."""

from __future__ import annotations

import io
import os
from collections import Counter

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.models import Evidence
from tests.conduct.conftest import CHROMIUM
from tests.conduct.test_browser import _login, _q, _tablet, _wait
from tests.conduct.test_browser_offline_launch import ENTRIES, _cached
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


def _count_requests(live) -> tuple[Counter, list]:
    """Count what reaches the live server: GETs per path, and each response's encoding."""
    hits: Counter = Counter()
    encodings: list = []
    inner = live.app.wsgi_app

    def counting(environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            hits[environ["PATH_INFO"]] += 1

        def start(status, headers, exc_info=None):
            named = dict((k.lower(), v) for k, v in headers)
            encodings.append((environ["PATH_INFO"], named.get("content-encoding")))
            return start_response(status, headers, exc_info)
        return inner(environ, start)

    live.app.wsgi_app = counting
    return hits, encodings


def _login_without_a_page(context, base, user):
    """Sign in through the context's request API: no page is loaded, so the checklist is the
    first page this tablet opens and no service worker controls it yet."""
    import re

    login = context.request.get(f"{base}/login").text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    response = context.request.post(f"{base}/login", form={"email": user.email, "password": PASSWORD,
                                                            "csrf_token": token}, max_redirects=0)
    assert response.status == 302, response.text()[:300]


def test_first_checklist_load_downloads_the_page_once_and_works_offline(live, browser, setup):
    """Opening the checklist as the tablet's first page fetches its HTML once; the worker keeps
    the page handed over by the tab; offline, the reloaded page answers from that copy with the
    verdict buttons (cloned from the page's single template) working."""
    hits, encodings = _count_requests(live)
    base = live.url
    checklist = f"/audits/{setup.audit.id}/checklist"
    context = _tablet(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login_without_a_page(context, base, setup.auditor)
    page.goto(base + checklist)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    _wait(lambda: _cached(page, checklist), what="the checklist kept for offline use")
    _wait(lambda: _cached(page, "/"), what="the start page kept")
    assert hits[checklist] == 1, hits
    # Static assets and the page came compressed (Chromium sends Accept-Encoding: gzip, br).
    compressed = {path for path, enc in encodings if enc in ("br", "gzip")}
    assert checklist in compressed and "/static/js/checklist.js" in compressed, encodings
    assert page.get_attribute(f'{_q(setup, "S1Q1")} [data-set="minor_nc"]', "aria-pressed") == "false"

    live.stop()
    context.set_offline(True)
    page.reload()
    page.wait_for_selector('[data-sync="offline"]')
    assert hits[checklist] == 1
    page.tap(f'{_q(setup, "S1Q1")} [data-set="minor_nc"]')
    assert page.get_attribute(f'{_q(setup, "S1Q1")} [data-set="minor_nc"]', "aria-pressed") == "true"
    _wait(lambda: "minor_nc" in str(page.evaluate(ENTRIES)), what="the offline answer queued")
    # A page kept from an earlier release names an asset by its old hash: offline, the worker
    # serves the current file for it instead of failing.
    old = "fetch('/static/js/app.js?v=000000000000').then(r => r.status, () => 0)"
    assert page.evaluate(old) == 200
    assert not errors, errors
    context.close()


def test_answer_buttons_are_reachable_and_large_after_cloning(live, browser, setup):
    """The cloned verdict buttons keep their names, 44 px targets and keyboard use: Tab reaches
    them and Enter answers."""
    context = _tablet(browser)
    page = context.new_page()
    _login(page, live.url, setup.auditor)
    page.goto(f"{live.url}/audits/{setup.audit.id}/checklist")
    button = page.locator(f'{_q(setup, "S1Q1")} [data-set="conforming"]')
    assert button.get_attribute("type") == "button" and button.text_content() == "Conforming"
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    group = page.locator(f'{_q(setup, "S1Q1")} .q-answer')
    assert group.get_attribute("role") == "group" and group.locator("button").count() == 6
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-pressed") == "true"
    context.close()


def _noisy_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(out, "JPEG", quality=98)
    return out.getvalue()


DECODES = """(() => {
  window.__decodes = 0;
  const original = window.createImageBitmap;
  window.createImageBitmap = (...args) => { window.__decodes += 1; return original(...args); };
})();"""


def test_original_photo_size_is_checked_before_resizing(live, browser, setup):
    """With a 1 MB upload limit and a 2 MB bound on originals: a 1.x MB photo (over the upload
    limit, under the bound) is resized and stored; a larger one is refused by its size with the
    bound named, before the tablet decodes it."""
    live.app.config["EVIDENCE_MAX_BYTES"] = 1_048_576
    live.app.config["PHOTO_ORIGINAL_MAX_BYTES"] = 2 * 1_048_576
    under = _noisy_jpeg(1100, 900)
    over = _noisy_jpeg(1600, 1300)
    assert 1_048_576 < len(under) < 2 * 1_048_576 < len(over)
    context = _tablet(browser)
    page = context.new_page()
    _login(page, live.url, setup.auditor)
    page.add_init_script(DECODES)
    page.goto(f"{live.url}/audits/{setup.audit.id}/checklist")
    question = _q(setup, "S1Q2")
    page.set_input_files(f"{question} [data-photo]",
                         files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": over}])
    thumb = page.wait_for_selector(f"{question} .thumb.refused")
    assert "the limit for an original photo is 2 MB" in thumb.text_content()
    assert page.evaluate("window.__decodes") == 0
    page.set_input_files(f"{question} [data-photo]",
                         files=[{"name": "ok.jpg", "mimeType": "image/jpeg", "buffer": under}])
    page.wait_for_selector(f"{question} .thumb[data-evidence-id]", timeout=20_000)
    assert page.evaluate("window.__decodes") == 1

    def stored():
        db.session.rollback()
        return db.session.scalars(select(Evidence).where(Evidence.question_id == setup.questions["S1Q2"].id)).all()

    _wait(lambda: len(stored()) == 1, what="the resized photo stored")
    evidence = stored()[0]
    assert evidence.original_name == "ok.jpg" and evidence.size < 1_048_576
    context.close()
