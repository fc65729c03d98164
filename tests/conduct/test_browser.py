"""The tablet journey in real headless Chromium: tap answers, photo, finding, offline, conflict.

A live server (werkzeug ``make_server`` in a thread) runs the app on the test database. "Going
offline" both switches the browser context offline and stops the server, because Chromium's
offline emulation does not cover the service worker's own fetches (playwright issue #2311):
with the server gone, only the service worker's cache can serve the reload.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.models import AppliedMutation, ChecklistAnswer, Evidence, Finding
from tests.conduct.conftest import CHROMIUM, jpeg_bytes
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


def _tablet(browser, landscape: bool = False):
    size = {"width": 1024, "height": 768} if landscape else {"width": 768, "height": 1024}
    return browser.new_context(viewport=size, has_touch=True, is_mobile=False, service_workers="allow")


def _login(page, base, user):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _wait(predicate, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _offline(context, page) -> None:
    """Take the tablet off the network and wait until the checklist page knows it.

    Chromium tells the page (``navigator.onLine``) a moment after the switch; a tap in between
    is sent, and a page under the service worker reaches the server despite the emulation, which a
    real network that is gone would not allow."""
    context.set_offline(True)
    page.wait_for_selector('[data-sync="offline"]')


def _q(setup, key) -> str:
    return f"#q{setup.questions[key].id}"


def _counts(audit_id):
    db.session.rollback()  # a fresh snapshot of what the live server wrote
    answers = db.session.execute(
        select(ChecklistAnswer.question_id, ChecklistAnswer.verdict, ChecklistAnswer.value,
               ChecklistAnswer.version)
        .where(ChecklistAnswer.audit_id == audit_id)).all()
    return {row.question_id: row for row in answers}


def test_tablet_journey_offline_and_back(live, browser, setup):
    """Tap, photo, finding, offline answers that survive a reload, then sync exactly once."""
    base = live.url
    context = _tablet(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, base, setup.auditor)
    checklist_url = f"{base}/audits/{setup.audit.id}/checklist"
    page.goto(checklist_url)
    # The service worker is installed and has kept a copy of this page.
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    _wait(lambda: page.evaluate("caches.match(location.pathname, {ignoreVary: true}).then(r => !!r)"),
          what="the page in the offline cache")

    # Online: answer by tapping.
    page.tap(f'{_q(setup, "S1Q1")} [data-set="minor_nc"]')
    page.wait_for_selector(f'{_q(setup, "S1Q1")} [data-q-status][data-kind="saved"]')
    assert page.is_visible(_q(setup, "S1Q3")), "the conditional question appears after a minor NC"
    page.fill(f'{_q(setup, "S1Q1")} [data-note]', "Work instruction WI-7 outdated at station 3")
    page.tap(f'{_q(setup, "S1Q2")} [data-set="conforming"]')  # blur the note: saves at once
    page.wait_for_selector('[data-sync="saved"]')

    # A photo from the "camera".
    page.set_input_files(f'{_q(setup, "S1Q1")} [data-photo]',
                         files=[{"name": "station3.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector(f'{_q(setup, "S1Q1")} .thumb[data-evidence-id]')

    # Raise a finding from the answer: grade, clause and evidence come pre-filled.
    _wait(lambda: _counts(setup.audit.id).get(setup.questions["S1Q1"].id) is not None
          and _counts(setup.audit.id)[setup.questions["S1Q1"].id].version == 2, what="note saved")
    page.click(f'{_q(setup, "S1Q1")} >> text=Raise finding')
    assert page.input_value("select[name=grade]") == "minor"
    assert "WI-7 outdated" in page.input_value("textarea[name=evidence]")
    page.fill("textarea[name=statement]", "The work instruction in use is not the released revision.")
    page.click("main form.form button[type=submit]")
    page.wait_for_url(f"{checklist_url}#q{setup.questions['S1Q1'].id}")
    assert "-F01" in page.text_content(_q(setup, "S1Q1"))

    # Lose the network: the browser goes offline and the server is gone too.
    live.stop()
    _offline(context, page)
    page.tap(f'{_q(setup, "S1Q3")} [data-set="observation"]')
    page.fill(f'{_q(setup, "S2Q1")} [data-value-input]', "42")
    page.press(f'{_q(setup, "S2Q1")} [data-value-input]', "Tab")
    page.tap(f'{_q(setup, "S2Q2")} [data-set="not_applicable"]')
    page.set_input_files(f'{_q(setup, "S1Q2")} [data-photo]',
                         files=[{"name": "gauge.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(color=(0, 0, 200))}])
    page.wait_for_selector('[data-sync="offline"]')
    assert "kept on this tablet" in page.text_content("[data-sync]")

    # Reload while offline: the service worker serves page and assets, the queue is still there.
    page.reload()
    page.wait_for_selector('[data-sync="offline"]')
    assert page.get_attribute(f'{_q(setup, "S2Q2")} [data-set="not_applicable"]', "aria-pressed") == "true"
    assert page.input_value(f'{_q(setup, "S2Q1")} [data-value-input]') == "42"
    assert page.get_attribute(f'{_q(setup, "S1Q1")} [data-set="minor_nc"]', "aria-pressed") == "true"
    assert page.is_visible(f'{_q(setup, "S1Q2")} .thumb.pending')
    # Close the tab and open a new one: the queue survives.
    page.close()
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(checklist_url)
    page.wait_for_selector('[data-sync="offline"]')
    page.tap(f'{_q(setup, "S2Q3")} [data-set="ofi"]')
    assert db.session.scalar(select(func.count(ChecklistAnswer.id))) == 2  # nothing reached the server

    # Back online: everything arrives, in order, exactly once.
    live.start()
    context.set_offline(False)
    page.wait_for_selector('[data-sync="saved"]', timeout=20_000)
    answers = _counts(setup.audit.id)
    q = setup.questions
    assert {qid: (row.verdict.value if row.verdict else row.value) for qid, row in answers.items()} == {
        q["S1Q1"].id: "minor_nc", q["S1Q2"].id: "conforming", q["S1Q3"].id: "observation",
        q["S2Q1"].id: "42", q["S2Q2"].id: "not_applicable", q["S2Q3"].id: "ofi"}
    assert answers[q["S1Q3"].id].version == 1
    assert db.session.scalar(select(func.count(Evidence.id))) == 2
    assert db.session.scalar(select(func.count(Finding.id))) == 1
    mutations = db.session.scalar(select(func.count(AppliedMutation.id)))
    assert mutations == 8  # 3 online saves (S1Q1 twice, S1Q2) + the finding form's key + 4 offline answers

    # Reloading online shows the server's state, nothing is queued twice.
    page.reload()
    page.wait_for_selector('[data-sync="saved"]')
    assert page.evaluate("indexedDB.databases().then(d => d.length)") == 1
    assert _counts(setup.audit.id) == answers
    assert errors == []
    context.close()


def test_conflicting_edit_is_surfaced(live, browser, setup):
    """Two tablets (one in landscape) change the same answer: the second sees both versions and
    chooses; nothing is lost."""
    base = live.url
    url = f"{base}/audits/{setup.audit.id}/checklist"
    a_ctx, b_ctx = _tablet(browser, landscape=True), _tablet(browser)
    a, b = a_ctx.new_page(), b_ctx.new_page()
    _login(a, base, setup.auditor)
    _login(b, base, setup.lead)
    a.goto(url)
    b.goto(url)
    sel = _q(setup, "S2Q2")
    b.tap(f'{sel} [data-set="major_nc"]')
    b.wait_for_selector(f'{sel} [data-q-status][data-kind="saved"]')
    a.tap(f'{sel} [data-set="conforming"]')  # a still believes the question is unanswered
    box = a.locator(f'{sel} [data-set="conforming"]').bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, "touch targets of at least 44 px"
    a.wait_for_selector(f"{sel} [data-conflict]:not([hidden])")
    panel = a.text_content(f"{sel} [data-conflict]")
    assert "Lena Lead changed this answer" in panel
    assert "Theirs: Major NC" in panel and "Yours: Conforming" in panel
    assert a.get_attribute("[data-sync]", "data-sync") == "conflict"
    row = _counts(setup.audit.id)[setup.questions["S2Q2"].id]
    assert (row.verdict.value, row.version) == ("major_nc", 1)
    a.click(f'{sel} [data-resolve="mine"]')
    a.wait_for_selector('[data-sync="saved"]')
    _wait(lambda: _counts(setup.audit.id)[setup.questions["S2Q2"].id].version == 2, what="resolution saved")
    row = _counts(setup.audit.id)[setup.questions["S2Q2"].id]
    assert row.verdict.value == "conforming"
    # The other tablet picks up the resolved answer when it comes back to the foreground.
    b.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    b.wait_for_selector(f'{sel} [data-set="conforming"][aria-pressed="true"]')
    assert "Updated by Arne Auditor" in b.text_content(f"{sel} [data-q-status]")
    a_ctx.close()
    b_ctx.close()


def test_shared_tablet_keeps_each_persons_queue_for_them(live, browser, setup):
    """Arne queues an answer offline and his session ends; Lena signs in on the same tablet:
    her session never sends Arne's change, the page says it waits; Arne signs in, it is saved as his."""
    base = live.url
    url = f"{base}/audits/{setup.audit.id}/checklist"
    sel = _q(setup, "S2Q2")
    context = _tablet(browser)
    arne = context.new_page()
    _login(arne, base, setup.auditor)
    arne.goto(url)
    _offline(context, arne)
    arne.tap(f'{sel} [data-set="not_applicable"]')
    arne.wait_for_selector('[data-sync="offline"]')
    arne.close()
    context.clear_cookies()  # Arne's session is over
    context.set_offline(False)

    lena = context.new_page()
    _login(lena, base, setup.lead)
    lena.goto(url)
    # (wait_for_function would need eval, which the page's CSP forbids)
    _wait(lambda: "another person" in lena.text_content("[data-sync]"), what="the other person's queue noted")
    assert lena.get_attribute(f'{sel} [data-set="not_applicable"]', "aria-pressed") != "true"
    lena.tap(f'{_q(setup, "S1Q1")} [data-set="conforming"]')
    lena.wait_for_selector(f'{_q(setup, "S1Q1")} [data-q-status][data-kind="saved"]')
    assert setup.questions["S2Q2"].id not in _counts(setup.audit.id)
    lena.close()

    context.clear_cookies()
    arne = context.new_page()
    _login(arne, base, setup.auditor)
    arne.goto(url)
    arne.wait_for_selector('[data-sync="saved"]', timeout=20_000)
    _wait(lambda: setup.questions["S2Q2"].id in _counts(setup.audit.id), what="Arne's answer saved")
    answers = db.session.scalars(select(ChecklistAnswer).where(ChecklistAnswer.audit_id == setup.audit.id)).all()
    by_question = {a.question_id: a.answered_by_id for a in answers}
    assert by_question == {setup.questions["S2Q2"].id: setup.auditor.id, setup.questions["S1Q1"].id: setup.lead.id}
    context.close()


def test_the_last_persons_background_fetches_never_spoil_the_next_login(live, browser, setup, caplog):
    """Arne's session ends while the service worker still fetches his raise-finding forms for
    offline use. Those fetches set no cookie (a login redirect's cookie, landing while Lena's
    login page loads, replaced hers: her login failed its CSRF check, a 400 seen on shared
    tablets), and the worker stops at the first "log in first" instead of asking for every form."""
    base = live.url
    context = _tablet(browser)
    page = context.new_page()
    _login(page, base, setup.auditor)
    page.goto(f"{base}/audits/{setup.audit.id}/checklist")
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    forms = [f"/audits/{setup.audit.id}/checklist/questions/{q.id}/finding" for q in setup.questions.values()]
    _wait(lambda: page.evaluate("paths => Promise.all(paths.map((p) => caches.match(p, {ignoreVary: true})))"
                                ".then((hits) => hits.every(Boolean))", forms), what="Arne's forms kept")
    context.clear_cookies()  # Arne's session is over; his page is still open

    # The worker's requests are not playwright events: the live server's access log shows them.
    ended = len(caplog.records)
    page.evaluate("paths => navigator.serviceWorker.ready.then((reg) => "
                  "reg.active.postMessage({type: 'warm', paths, onlyMissing: false}))", forms)

    def fetched():
        return [path for path in forms for r in caplog.records[ended:] if f"GET {path} " in r.getMessage()]

    _wait(lambda: fetched(), what="the worker's fetch")
    page.wait_for_timeout(500)  # time for the rest of the list, were the worker still going
    assert fetched() == forms[:1]
    assert not [c for c in context.cookies() if c["name"] == "session"]

    _login(page, base, setup.lead)
    assert "Lena Lead" in page.text_content("header")
    context.close()
