"""The tablet tells the truth (issue 15), in real headless Chromium at 768x1024 with touch:
conflicts and refusals survive a reload until a person resolves them, a note-only edit never
wipes a colleague's verdict, a changed client address keeps the session, and a lost session is
renewed in place with the queue intact.
"""

from __future__ import annotations

from sqlalchemy import select

from audit.extensions import db
from audit.models import ChecklistAnswer
from tests.conduct.test_browser import (
    _counts,
    _login,
    _offline,
    _q,
    _tablet,
    _wait,
    pytestmark,  # noqa: F401  (browser mark, skip without Chromium)
)
from tests.factories import PASSWORD


def _row(setup, key):
    return _counts(setup.audit.id).get(setup.questions[key].id)


def _answer(setup, key) -> ChecklistAnswer | None:
    db.session.rollback()  # a fresh snapshot of what the live server wrote
    return db.session.scalar(select(ChecklistAnswer).where(
        ChecklistAnswer.question_id == setup.questions[key].id))


def _pill(page) -> tuple[str, str]:
    return page.get_attribute("[data-sync]", "data-sync"), page.text_content("[data-sync]")


def test_conflict_survives_a_reload_until_a_person_resolves_it(live, browser, setup):
    """A (offline) sets a verdict and a note, B sets the verdict meanwhile; A sees the conflict,
    reloads before choosing: the conflict, A's answer and the "needs you" pill are still there;
    "Keep mine" then saves A's answer."""
    url = f"{live.url}/audits/{setup.audit.id}/checklist"
    sel = _q(setup, "S2Q2")
    a_ctx, b_ctx = _tablet(browser), _tablet(browser)
    a, b = a_ctx.new_page(), b_ctx.new_page()
    _login(a, live.url, setup.auditor)
    _login(b, live.url, setup.lead)
    a.goto(url)
    b.goto(url)
    _offline(a_ctx, a)
    a.tap(f'{sel} [data-set="minor_nc"]')
    a.fill(f"{sel} [data-note]", "Gauge G-12 out of calibration")
    a.tap(f'{_q(setup, "S2Q3")} h3')  # leave the note: it is queued at once
    a.wait_for_selector('[data-sync="offline"]')
    assert "Offline — 1 change kept on this tablet" in a.text_content("[data-sync]")
    b.tap(f'{sel} [data-set="conforming"]')
    b.wait_for_selector(f'{sel} [data-q-status][data-kind="saved"]')

    a_ctx.set_offline(False)
    a.wait_for_selector(f"{sel} [data-conflict]:not([hidden])")
    assert _pill(a) == ("conflict", "1 change needs you")
    a.reload()
    a.wait_for_selector(f"{sel} [data-conflict]:not([hidden])")
    panel = a.text_content(f"{sel} [data-conflict]")
    assert "Lena Lead changed this answer" in panel
    assert "Theirs: Conforming" in panel and "Yours: Minor NC — Gauge G-12 out of calibration" in panel
    assert a.get_attribute(f'{sel} [data-set="minor_nc"]', "aria-pressed") == "true"
    assert a.input_value(f"{sel} [data-note]") == "Gauge G-12 out of calibration"
    _wait(lambda: _pill(a) == ("conflict", "1 change needs you"), what="the pill after the reload")
    row = _row(setup, "S2Q2")
    assert (row.verdict.value, row.version) == ("conforming", 1)

    a.tap(f'{sel} [data-resolve="mine"]')
    a.wait_for_selector('[data-sync="saved"]')
    assert a.text_content("[data-sync]") == "All changes saved"
    _wait(lambda: _row(setup, "S2Q2").version == 2, what="the resolution saved")
    answer = _answer(setup, "S2Q2")
    assert (answer.verdict.value, answer.note) == ("minor_nc", "Gauge G-12 out of calibration")
    a_ctx.close()
    b_ctx.close()


def test_refused_change_is_reverted_with_its_reason_and_kept_until_read(live, browser, setup):
    """An offline number over its maximum meets a 422: the screen goes back to the saved value,
    says why, survives a reload, and the pill never claims "All changes saved" until OK."""
    url = f"{live.url}/audits/{setup.audit.id}/checklist"
    sel = _q(setup, "S2Q1")
    ctx = _tablet(browser)
    page = ctx.new_page()
    _login(page, live.url, setup.auditor)
    page.goto(url)
    page.fill(f"{sel} [data-value-input]", "42")
    page.press(f"{sel} [data-value-input]", "Tab")
    page.wait_for_selector(f'{sel} [data-q-status][data-kind="saved"]')
    _offline(ctx, page)
    page.fill(f"{sel} [data-value-input]", "150")
    page.press(f"{sel} [data-value-input]", "Tab")
    page.wait_for_selector('[data-sync="offline"]')
    ctx.set_offline(False)
    page.wait_for_selector(f'{sel} [data-q-status][data-kind="error"]')
    assert page.input_value(f"{sel} [data-value-input]") == "42"
    assert "Not saved:" in page.text_content(f"{sel} [data-q-status]")
    assert "100" in page.text_content(f"{sel} [data-q-status]")
    assert _pill(page) == ("conflict", "1 change needs you")
    page.wait_for_timeout(5500)  # the retry timer has run: still not "saved"
    assert _pill(page) == ("conflict", "1 change needs you")

    page.reload()
    page.wait_for_selector(f'{sel} [data-q-status][data-kind="error"]')
    assert page.input_value(f"{sel} [data-value-input]") == "42"
    _wait(lambda: _pill(page)[0] == "conflict", what="the pill after the reload")
    page.tap(f"{sel} [data-dismiss]")
    page.wait_for_selector('[data-sync="saved"]')
    assert _row(setup, "S2Q1").value == "42" and _row(setup, "S2Q1").version == 1
    assert page.evaluate("indexedDB.databases().then(d => d.length)") == 1
    ctx.close()


def test_note_only_edit_keeps_the_colleagues_verdict(live, browser, setup):
    """A edits only the note offline while B changes the verdict: both survive, no conflict."""
    url = f"{live.url}/audits/{setup.audit.id}/checklist"
    sel = _q(setup, "S2Q2")
    a_ctx, b_ctx = _tablet(browser), _tablet(browser)
    a, b = a_ctx.new_page(), b_ctx.new_page()
    _login(a, live.url, setup.auditor)
    _login(b, live.url, setup.lead)
    a.goto(url)
    a.tap(f'{sel} [data-set="conforming"]')
    a.wait_for_selector(f'{sel} [data-q-status][data-kind="saved"]')
    b.goto(url)
    _offline(a_ctx, a)
    a.fill(f"{sel} [data-note]", "Records kept in the blue binder")
    a.tap(f'{_q(setup, "S2Q3")} h3')
    a.wait_for_selector('[data-sync="offline"]')
    b.tap(f'{sel} [data-set="major_nc"]')
    b.wait_for_selector(f'{sel} [data-q-status][data-kind="saved"]')
    a_ctx.set_offline(False)
    a.wait_for_selector('[data-sync="saved"]')
    _wait(lambda: _row(setup, "S2Q2").version == 3, what="the merged answer saved")
    answer = _answer(setup, "S2Q2")
    assert (answer.verdict.value, answer.note) == ("major_nc", "Records kept in the blue binder")
    assert a.get_attribute(f'{sel} [data-set="major_nc"]', "aria-pressed") == "true"
    assert a.query_selector(f"{sel} [data-conflict]:not([hidden])") is None
    a_ctx.close()
    b_ctx.close()


class _Address:
    """WSGI middleware that presents every request as coming from ``address`` (a new network)."""

    def __init__(self, app):
        self.app = app
        self.address = None

    def __call__(self, environ, start_response):
        if self.address:
            environ["REMOTE_ADDR"] = self.address
        return self.app(environ, start_response)


def test_network_change_keeps_session_and_lost_session_is_renewed_in_place(live, browser, setup):
    """A new client address does not end the session; a lost session (401) keeps the queue, the
    page offers logging in again in place, and the queue is then saved as its author."""
    address = _Address(live.app.wsgi_app)
    live.app.wsgi_app = address
    url = f"{live.url}/audits/{setup.audit.id}/checklist"
    ctx = _tablet(browser)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, setup.auditor)
    page.goto(url)
    address.address = "10.99.0.7"  # from Wi-Fi to mobile data
    page.tap(f'{_q(setup, "S1Q1")} [data-set="conforming"]')
    page.wait_for_selector(f'{_q(setup, "S1Q1")} [data-q-status][data-kind="saved"]')
    assert _row(setup, "S1Q1").verdict.value == "conforming"

    page.evaluate("window.stillTheSamePage = true")
    ctx.clear_cookies()  # the session is gone (expired, or signed out elsewhere)
    page.tap(f'{_q(setup, "S2Q2")} [data-set="ofi"]')
    page.wait_for_selector("[data-relogin]:not([hidden])")
    assert _pill(page)[0] == "error" and "Log in again" in _pill(page)[1]
    assert _row(setup, "S2Q2") is None
    assert page.input_value("[data-relogin] [name=email]") == setup.auditor.email
    page.fill("[data-relogin] [name=password]", "wrong password")
    page.click("[data-relogin] button")
    _wait(lambda: "Logging" not in page.text_content("[data-relogin-message]")
          and page.text_content("[data-relogin-message]") != "", what="the refusal")
    assert _row(setup, "S2Q2") is None
    page.fill("[data-relogin] [name=password]", PASSWORD)
    page.click("[data-relogin] button")
    page.wait_for_selector('[data-sync="saved"]')
    assert page.is_hidden("[data-relogin]")
    assert page.evaluate("window.stillTheSamePage") is True
    row = _answer(setup, "S2Q2")
    assert (row.verdict.value, row.answered_by_id) == ("ofi", setup.auditor.id)
    assert errors == []
    ctx.close()
