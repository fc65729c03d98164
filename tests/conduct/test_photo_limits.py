"""One clear "too large" message (issue 15 item 6) and the small checklist fixes of item 9."""

from __future__ import annotations

import io

from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from audit.conduct.report import issue_report
from audit.core.sizes import megabytes, too_large_message
from audit.extensions import db
from audit.models import Evidence
from tests.conduct.conftest import jpeg_bytes
from tests.conduct.test_report import _ready_to_issue

MB = 1_048_576


def _upload(client, setup, data):
    """Post a large file; the test client spools such a body to a temporary file it never
    closes, so the test builds the environ itself and closes the body afterwards."""
    form = {"file": (io.BytesIO(data), "big.jpg"), "question_id": str(setup.questions["S1Q2"].id)}
    builder = EnvironBuilder(path=f"/api/audits/{setup.audit.id}/evidence", method="POST",
                             data=form, content_type="multipart/form-data")
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    try:
        response = client.open(environ)
        response.get_data()
        return response
    finally:
        environ["wsgi.input"].close()


def test_sizes_read_like_the_tablet_says_them():
    """Megabytes with one decimal, none when whole; the message names size and limit."""
    assert megabytes(12 * MB) == "12 MB"
    assert megabytes(round(15.8 * MB)) == "15.8 MB"
    assert too_large_message(round(19.5 * MB), 12 * MB) == "The file is too large (19.5 MB): the limit is 12 MB."
    assert too_large_message(None, 12 * MB) == "The file is too large: the limit is 12 MB."


def test_over_the_evidence_limit_names_the_real_size(login, setup, app):
    """A file over EVIDENCE_MAX_BYTES is refused with its own size, not the size read so far."""
    app.config["EVIDENCE_MAX_BYTES"] = 1 * MB
    r = _upload(login(setup.auditor), setup, jpeg_bytes() + b"\0" * round(1.5 * MB))
    assert r.status_code == 422
    assert r.json["detail"] == "The file is too large (1.5 MB): the limit is 1 MB."
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_over_the_request_limit_says_the_same(login, setup, app):
    """A file over MAX_CONTENT_LENGTH gets the same words and the evidence limit, not
    Werkzeug's "The data value transmitted exceeds the capacity limit"."""
    app.config["EVIDENCE_MAX_BYTES"] = 1 * MB
    app.config["MAX_CONTENT_LENGTH"] = 2 * MB
    r = _upload(login(setup.auditor), setup, jpeg_bytes() + b"\0" * round(2.5 * MB))
    assert r.status_code == 413
    assert r.json["detail"] == "The file is too large (2.5 MB): the limit is 1 MB."
    assert "capacity" not in r.json["detail"]


def test_checklist_page_carries_photo_settings_and_tall_inputs(login, setup, app):
    """The checklist carries the configured limit, long edge and quality; the CSS makes answer
    inputs at least 44 px tall."""
    app.config["PHOTO_LONG_EDGE"] = 1600
    html = login(setup.auditor).get(f"/audits/{setup.audit.id}/checklist").get_data(as_text=True)
    assert f'data-photo-max-bytes="{app.config["EVIDENCE_MAX_BYTES"]}"' in html
    assert 'data-photo-long-edge="1600"' in html and 'data-photo-quality="0.85"' in html
    css = (app.static_folder + "/css/app.css")
    with open(css, encoding="utf-8") as fh:
        assert ".q-answer input, .q-answer select { min-height: var(--tap);" in fh.read()


def test_clause_without_title_reads_as_its_number(login, setup):
    """A clause with no title shows "7.5", not "7.5 None", on the checklist and the finding form."""
    setup.clauses["7.5"].title = None  # S1Q1 cites 7.5
    db.session.commit()
    client = login(setup.auditor)
    html = client.get(f"/audits/{setup.audit.id}/checklist").get_data(as_text=True)
    assert '<span class="tag">7.5</span>' in html and "7.5 None" not in html
    form = client.get(f"/audits/{setup.audit.id}/checklist/questions/{setup.questions['S1Q1'].id}/finding")
    assert "7.5 None" not in form.get_data(as_text=True)


def test_raise_finding_has_one_button_and_refuses_an_issued_audit(login, setup, now):
    """The form shows a single submit button; on an issued audit the page refuses with the
    frozen reason instead of opening."""
    client = login(setup.auditor)
    url = f"/audits/{setup.audit.id}/checklist/questions/{setup.questions['S1Q1'].id}/finding"
    html = client.get(url).get_data(as_text=True)
    form = html[html.index('<form method="post" action="" class="form"'):]
    form = form[:form.index("</form>")]
    assert form.count('type="submit"') == 1 and 'value="Raise finding"' not in form
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()
    r = client.get(url)
    assert r.status_code == 302 and r.location.endswith(f"/checklist#q{setup.questions['S1Q1'].id}")
    page = client.get(r.location).get_data(as_text=True)
    assert "report of this audit is issued" in page


def test_open_checklist_link_at_the_top_for_those_who_answer(login, setup):
    """The audit page offers "Open checklist" in its head to a team auditor, before any
    section; an auditee (who may not answer) does not get it."""
    html = login(setup.auditor).get(f"/audits/{setup.audit.id}").get_data(as_text=True)
    head = html[html.index('<div class="page-head">'):html.index('id="overview"')]
    assert f'href="/audits/{setup.audit.id}/checklist">Open checklist</a>' in head
    html = login(setup.auditee).get(f"/audits/{setup.audit.id}").get_data(as_text=True)
    assert ">Open checklist</a>" not in html
