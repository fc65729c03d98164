"""Issue 15 items 3 and 6 in real headless Chromium: a large photo is resized and re-encoded
on the tablet before upload; a refused file's thumbnail says why; an NC verdict without a
finding keeps the report from being issued."""

from __future__ import annotations

import io
import os

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.models import Evidence
from audit.storage import get_storage
from tests.conduct.conftest import CHROMIUM
from tests.conduct.test_browser import _login, _q, _tablet, _wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


def _big_photo_with_gps(width=4000, height=3000) -> bytes:
    """A noisy 4000×3000 JPEG carrying EXIF orientation 6 (rotate 90°) and a GPS block."""
    from PIL import Image

    img = Image.effect_noise((width, height), 60).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was held upright
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def test_large_photo_is_resized_on_the_tablet(live, browser, setup, app):
    """A 4000×3000 photo arrives at most 2048 px long, upright (EXIF orientation applied), as a
    JPEG without location metadata, smaller than the original."""
    from PIL import Image

    original = _big_photo_with_gps()
    context = _tablet(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live.url, setup.auditor)
    page.goto(f"{live.url}/audits/{setup.audit.id}/checklist")
    page.set_input_files(f'{_q(setup, "S1Q2")} [data-photo]',
                         files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": original}])
    page.wait_for_selector(f'{_q(setup, "S1Q2")} .thumb[data-evidence-id]', timeout=20_000)

    def stored():
        db.session.rollback()
        return db.session.scalar(select(Evidence).where(Evidence.question_id == setup.questions["S1Q2"].id))

    _wait(lambda: stored() is not None, what="the photo stored")
    ev = stored()
    data = get_storage().get(ev.storage_key)
    assert ev.size == len(data) < len(original)
    assert ev.original_name == "IMG_0042.jpg"
    with Image.open(io.BytesIO(data)) as photo:
        assert photo.format == "JPEG"
        assert photo.size == (1536, 2048)  # rotated upright and fitted to the 2048 px long edge
        exif = photo.getexif()
        assert 0x8825 not in exif and not exif.get_ifd(0x8825)
    assert not errors, errors
    context.close()


def test_refused_photo_thumbnail_shows_the_reason(live, browser, setup):
    """A PDF over the limit is refused on the tablet before upload; its thumbnail names the
    limit instead of waiting."""
    live.app.config["EVIDENCE_MAX_BYTES"] = 1_048_576
    context = _tablet(browser)
    page = context.new_page()
    _login(page, live.url, setup.auditor)
    page.goto(f"{live.url}/audits/{setup.audit.id}/checklist")
    pdf = b"%PDF-1.4\n" + b"0" * 1_700_000
    page.set_input_files(f'{_q(setup, "S1Q2")} [data-photo]',
                         files=[{"name": "manual.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    thumb = page.wait_for_selector(f'{_q(setup, "S1Q2")} .thumb.refused')
    assert "The file is too large (1.6 MB): the limit is 1 MB." in thumb.text_content()
    assert "waiting" not in (thumb.text_content() or "").lower()
    status = page.text_content(f'{_q(setup, "S1Q2")} [data-q-status]')
    assert "too large (1.6 MB)" in status
    db.session.rollback()
    assert db.session.scalar(select(Evidence.id)) is None
    context.close()


def test_nc_without_finding_blocks_issue_in_the_browser(live, browser, setup, now):
    """On the report page the lead sees the NC blocker as a link to its question and no issue
    button; recording the reason there clears it and offers the button."""
    from audit.conduct.answers import save_answer
    from audit.conduct.blockers import record_question_reason
    from audit.conduct.report import save_report, sign_report
    from tests.conduct.test_report import REPORT

    q = setup.questions
    save_answer(setup.audit, q["S1Q1"], verdict="major_nc", base_version=0, actor=setup.auditor, now=now)
    save_answer(setup.audit, q["S2Q1"], value="7", base_version=0, actor=setup.auditor, now=now)
    for key in ("S1Q2", "S1Q3", "S2Q2", "S2Q3"):
        record_question_reason(setup.audit, q[key], kind="not_covered", reason="Line stopped",
                               actor=setup.auditor, now=now)
    save_report(setup.audit, REPORT, actor=setup.lead, now=now)
    sign_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()

    context = _tablet(browser)
    page = context.new_page()
    _login(page, live.url, setup.lead)
    page.goto(f"{live.url}/audits/{setup.audit.id}/report")
    link = page.locator(".blockers a", has_text="Major NC verdict without a finding")
    assert link.count() == 1
    assert page.locator("text=Issue report").count() == 0
    page.click(".blockers summary")
    page.fill(".blockers textarea[name=reason]", "Corrected on the spot; verified.")
    page.click(".blockers button[type=submit]")
    page.wait_for_selector("text=Reason recorded for S1Q1.")
    assert page.locator(".blockers").count() == 0
    assert page.locator("button", has_text="Issue report").count() == 1
    context.close()
