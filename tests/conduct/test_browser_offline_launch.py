"""Offline from launch, in real headless Chromium (768×1024 touch): the start page, the audit page,
the checklist and the raise-finding form open from the service worker's cache once they were seen
online; a finding raised offline (with a photo) arrives exactly once; the page cache is one
person's only. "Offline" is the browser's offline emulation plus the live server stopped, so only
the worker's cache can answer (see test_browser.py)."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from audit.conduct.offline import PAGE_CACHE
from audit.extensions import db
from audit.models import AppliedMutation, Evidence, Finding
from tests.conduct.conftest import CHROMIUM, jpeg_bytes
from tests.conduct.test_browser import _login, _q, _tablet, _wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]

QUEUED = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("audit-offline", 1);
  req.onsuccess = () => { const c = req.result.transaction("mutations").objectStore("mutations").count();
                          c.onsuccess = () => resolve(c.result); c.onerror = () => reject(c.error); };
  req.onerror = () => reject(req.error);
})"""

ENTRIES = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("audit-offline", 1);
  req.onsuccess = () => { const c = req.result.transaction("mutations").objectStore("mutations").getAll();
                          c.onsuccess = () => resolve(JSON.stringify(c.result.map((e) => e.body || null)));
                          c.onerror = () => reject(c.error); };
  req.onerror = () => reject(req.error);
})"""


def _cached(page, path: str) -> bool:
    return page.evaluate("([name, path]) => caches.open(name).then(c => c.match(path)).then(r => !!r)",
                         [PAGE_CACHE, path])


def _owner(page):
    return page.evaluate("(name) => caches.open(name).then(c => c.match('/__offline-owner'))"
                         ".then(r => r ? r.text() : null)", PAGE_CACHE)


def _db_count(column, *where):
    db.session.rollback()  # a fresh snapshot of what the live server wrote
    return db.session.scalar(select(func.count(column)).where(*where))


def test_start_page_audit_and_finding_form_work_offline_and_the_finding_arrives_once(live, browser, setup):
    """Home, audit page, checklist and raise-finding open offline; an offline finding with a photo
    is queued, survives, and is raised exactly once when the network returns; the queue empties."""
    base = live.url
    audit_id = setup.audit.id
    qid = setup.questions["S1Q1"].id
    context = _tablet(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, base, setup.auditor)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    _wait(lambda: _cached(page, "/"), what="the start page precached")
    page.goto(f"{base}/audits/{audit_id}")
    _wait(lambda: _cached(page, f"/audits/{audit_id}"), what="the audit page cached")
    checklist = f"/audits/{audit_id}/checklist"
    form_path = f"{checklist}/questions/{qid}/finding"
    # Opening the audit is enough: its checklist and the checklist's raise-finding forms come along.
    _wait(lambda: _cached(page, checklist) and _cached(page, form_path),
          what="the checklist and its raise-finding forms cached")
    assert _owner(page) == str(setup.auditor.id)

    # Lose the network: browser offline and server gone.
    live.stop()
    context.set_offline(True)
    page.goto(base + "/")
    assert f"Good to see you, {setup.auditor.name.split()[0]}" in page.text_content("main")  # my start page
    page.goto(f"{base}/audits/{audit_id}")
    assert setup.audit.reference in page.text_content("main")
    page.goto(base + checklist)
    page.wait_for_selector('[data-sync="offline"]')
    page.tap(f'{_q(setup, "S1Q1")} [data-set="major_nc"]')
    page.fill(f'{_q(setup, "S1Q1")} [data-note]', "No work instruction at station 3")
    page.press(f'{_q(setup, "S1Q1")} [data-note]', "Tab")
    _wait(lambda: "No work instruction" in str(page.evaluate(ENTRIES)), what="the offline answer queued")
    page.set_input_files(f'{_q(setup, "S1Q1")} [data-photo]',
                         files=[{"name": "station3.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector(f'{_q(setup, "S1Q1")} .thumb.pending')
    page.click(f'{_q(setup, "S1Q1")} >> text=Raise finding')
    page.wait_for_url(base + form_path)
    # The cached form proposes grade and evidence from the answer made offline.
    _wait(lambda: page.input_value("select[name=grade]") == "major", what="the grade proposed")
    assert page.input_value("textarea[name=evidence]") == "No work instruction at station 3"
    page.fill("textarea[name=statement]", "Work instruction WI-7 is not at station 3.")
    page.tap("main form.form button[type=submit]")
    page.wait_for_url(f"{base}{checklist}#q{qid}")
    page.wait_for_selector(f'{_q(setup, "S1Q1")} [data-q-status]:has-text("Finding kept on this tablet")')
    kinds = json.loads(page.evaluate(ENTRIES.replace("e.body || null", "e.kind")))
    assert kinds.count("finding") == 1 and kinds.count("evidence") == 1 and "answer" in kinds, kinds
    # A reload offline keeps both.
    page.reload()
    page.wait_for_selector('[data-sync="offline"]')
    assert f"{len(kinds)} changes kept on this tablet" in page.text_content("[data-sync]")
    assert _db_count(Finding.id) == 0

    # Back online: the photo, then the finding citing it, exactly once.
    live.start()
    context.set_offline(False)
    page.wait_for_selector('[data-sync="saved"]', timeout=20_000)
    page.wait_for_selector(f'{_q(setup, "S1Q1")} [data-q-status][data-kind="saved"]')
    assert _db_count(Finding.id, Finding.audit_id == audit_id) == 1
    finding = db.session.scalar(select(Finding))
    assert finding.statement == "Work instruction WI-7 is not at station 3."
    assert (finding.grade.value, finding.answer.question_id) == ("major", qid)
    assert _db_count(Evidence.id, Evidence.finding_id == finding.id) == 1
    assert _db_count(AppliedMutation.id, AppliedMutation.kind == "finding") == 1
    assert page.evaluate(QUEUED) == 0
    assert finding.reference in page.text_content(_q(setup, "S1Q1"))  # the tag shown on "raised"
    page.reload()
    page.wait_for_selector('[data-sync="saved"]')
    assert page.locator(f'{_q(setup, "S1Q1")} .thumb').count() == 1  # the photo, once, from the server
    assert page.locator(f'{_q(setup, "S1Q1")} .thumb.pending').count() == 0
    assert page.evaluate(QUEUED) == 0
    assert _db_count(Finding.id) == 1
    assert finding.reference in page.text_content(_q(setup, "S1Q1"))  # listed under its answer
    assert errors == []
    context.close()


def test_page_cache_is_never_served_to_another_person(live, browser, setup):
    """Logging out empties the page cache; the next person's cache holds only their own pages."""
    base = live.url
    context = _tablet(browser)
    page = context.new_page()
    _login(page, base, setup.auditor)
    page.goto(f"{base}/audits/{setup.audit.id}/checklist")
    _wait(lambda: _cached(page, f"/audits/{setup.audit.id}/checklist") and _cached(page, "/"),
          what="the auditor's pages cached")
    page.click(".nav-toggle")  # the menu is folded on a tablet
    page.click("text=Log out")
    page.wait_for_url(f"{base}/login*")
    assert not _cached(page, "/") and not _cached(page, f"/audits/{setup.audit.id}/checklist")

    _login(page, base, setup.lead)
    _wait(lambda: _cached(page, "/"), what="the lead's start page cached")
    assert _owner(page) == str(setup.lead.id)
    assert not _cached(page, f"/audits/{setup.audit.id}/checklist")

    # Offline, pages never opened by this person are not there: the worker's offline page.
    live.stop()
    context.set_offline(True)
    response = page.goto(f"{base}/audits/{setup.audit.id}/checklist")
    assert response.status == 503
    assert "not opened before" in page.text_content("body")
    page.goto(base + "/")
    assert setup.lead.name in page.text_content("header")
    context.close()


@pytest.mark.parametrize("live_config", [{"OFFLINE_MAX_PAGES": 4}])
def test_page_cache_is_bounded_and_keeps_the_start_page(live, browser, setup, live_config):
    """With room for 4 pages, opening more drops the oldest ones; the start page always stays."""
    base = live.url
    audit_id = setup.audit.id
    context = _tablet(browser)
    page = context.new_page()
    _login(page, base, setup.auditor)
    _wait(lambda: _cached(page, "/"), what="the start page precached")
    # Raise-finding forms bring no other pages along: what is kept is exactly what was opened.
    forms = [f"/audits/{audit_id}/checklist/questions/{q.id}/finding" for q in setup.questions.values()]
    for path in forms[:5]:
        page.goto(base + path)
        _wait(lambda p=path: _cached(page, p), what=f"{path} cached")
    pages = page.evaluate("(name) => caches.open(name).then(c => c.keys())"
                          ".then(ks => ks.map(k => new URL(k.url).pathname))", PAGE_CACHE)
    kept = [p for p in pages if p != "/__offline-owner"]
    assert sorted(kept) == sorted(["/", *forms[2:5]]), kept  # the two oldest forms went
    context.close()


def test_finding_is_queued_when_the_server_is_unreachable_though_the_tablet_is_online(live, browser, setup):
    """Wi-Fi up but the server gone (navigator.onLine stays true): the form keeps the finding on
    the tablet instead of showing the browser's error page; it is raised once the server is back."""
    base = live.url
    audit_id = setup.audit.id
    qid = setup.questions["S2Q2"].id
    form_path = f"/audits/{audit_id}/checklist/questions/{qid}/finding"
    context = _tablet(browser)
    page = context.new_page()
    _login(page, base, setup.auditor)
    page.goto(f"{base}/audits/{audit_id}")
    _wait(lambda: _cached(page, form_path), what="the raise-finding form cached")
    live.stop()
    page.goto(base + form_path)
    page.select_option("select[name=grade]", "ofi")
    page.fill("textarea[name=statement]", "Label the gauges by their calibration status.")
    page.tap("main form.form button[type=submit]")
    page.wait_for_url(f"{base}/audits/{audit_id}/checklist#q{qid}")
    page.wait_for_selector(f'{_q(setup, "S2Q2")} [data-q-status]:has-text("Finding kept on this tablet")')
    assert _db_count(Finding.id) == 0
    live.start()
    page.wait_for_selector(f'{_q(setup, "S2Q2")} [data-q-status][data-kind="saved"]', timeout=20_000)
    assert _db_count(Finding.id) == 1
    assert page.evaluate(QUEUED) == 0
    context.close()
