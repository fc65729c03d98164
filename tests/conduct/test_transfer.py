"""Issue 15 item 7 without a browser: compressed responses, the CSRF token masked per response
(BREACH), content-hashed static URLs with a year's cache, the answers' ETag, the bound on an
original photo, and the demo checklist's first-load bytes against the 60 KB target."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re

import pytest
from flask import url_for
from sqlalchemy import func, select

from audit.conduct import offline
from audit.core import assets, compression
from audit.extensions import db
from audit.models import Evidence
from tests.conduct.conftest import jpeg_bytes

GZIP = {"Accept-Encoding": "gzip"}


def _static(client, url, headers=None):
    """A static response read whole and closed (a file response holds its file open)."""
    with client.get(url, headers=headers or {}) as r:
        r.get_data()
        return r


# --- compression ------------------------------------------------------------------------------
def test_static_javascript_is_compressed_only_when_accepted(client):
    """gzip (or br) when the client accepts it, identity otherwise; Vary either way; the
    compressed body decodes to the file."""
    plain = _static(client, "/static/js/checklist.js", {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = _static(client, "/static/js/checklist.js", GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
    assert packed.headers["ETag"].startswith('W/"')  # a weak ETag: the bytes differ from identity


def test_brotli_is_preferred_when_installed(client):
    """``br`` when offered and the brotli package is installed; gzip when br is refused (q=0)."""
    brotli = pytest.importorskip("brotli")
    r = _static(client, "/static/js/checklist.js", {"Accept-Encoding": "gzip, br"})
    assert r.headers["Content-Encoding"] == "br"
    assert brotli.decompress(r.data) == _static(client, "/static/js/checklist.js").data
    r = _static(client, "/static/js/checklist.js", {"Accept-Encoding": "gzip, br;q=0"})
    assert r.headers["Content-Encoding"] == "gzip"


def test_images_and_tiny_bodies_are_not_compressed(client):
    """A PNG is already compressed; a body under MIN_SIZE is not worth it."""
    png = _static(client, "/static/img/icon-192.png", GZIP)
    assert png.status_code == 200 and "Content-Encoding" not in png.headers
    r = client.get("/api/audits/999999/answers", headers=GZIP)  # a short problem document (401)
    assert len(r.data) < compression.MIN_SIZE and "Content-Encoding" not in r.headers


def test_static_304_still_works_with_the_weak_etag(client):
    """A conditional request with the compressed response's weak ETag gets 304."""
    first = _static(client, "/static/css/app.css", GZIP)
    again = _static(client, "/static/css/app.css", {**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert "Accept-Encoding" in again.headers["Vary"]  # as the 200 it stands for


def test_vary_names_accept_encoding_only_where_it_can_change_the_body(client):
    """A 200 too small to compress is the same for every client: no Vary on Accept-Encoding
    (nor its parsing); one that is compressed, or could be, says so."""
    tiny = client.get("/healthz", headers=GZIP)
    assert tiny.status_code == 200 and len(tiny.data) < compression.MIN_SIZE
    assert "Accept-Encoding" not in tiny.headers.get("Vary", "")
    plain = _static(client, "/static/css/app.css", {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]


def test_an_empty_304_keeps_vary_whatever_its_length(app):
    """A 304 stands for the 200 the client holds, which may be compressed: it keeps the Vary
    even with a body of known length 0 (only a 200 drops it for being small)."""
    from flask import Response

    with app.test_request_context("/api/x", headers=GZIP):
        response = Response("", status=304, mimetype="application/json")
        assert response.content_length == 0
        compression.after_request(response)
    assert "Accept-Encoding" in response.headers["Vary"]


def test_choose_encoding_follows_the_qualities():
    """Accept-Encoding decides: none, gzip only, br preferred, identity only."""
    from werkzeug.datastructures import Accept
    from werkzeug.http import parse_accept_header

    def choose(header):
        return compression.choose_encoding(parse_accept_header(header, Accept))

    assert choose("") is None and choose("identity") is None
    assert choose("gzip") == "gzip" and choose("gzip;q=0") is None
    assert choose("deflate, gzip;q=0.5") == "gzip"
    if compression.brotli is not None:
        assert choose("br, gzip") == "br" and choose("gzip, br;q=0.1") == "gzip"


# --- CSRF masking (BREACH) --------------------------------------------------------------------
def test_mask_and_unmask_round_trip():
    """A masked token differs every time, unmasks to the token; other values pass unchanged."""
    token = "ImFiYzEyMyI.aBcDeF.signature-part_xyz"
    masks = {compression.mask_token(token) for _ in range(20)}
    assert len(masks) == 20 and all(m.startswith("~") and token not in m for m in masks)
    assert {compression.unmask_token(m) for m in masks} == {token}
    assert compression.unmask_token(token) == token
    assert compression.unmask_token("~not*base64") == "~not*base64"
    assert compression.unmask_token(None) is None


def test_each_response_carries_its_own_mask_of_one_token(app, client):
    """Two pages of one session: the token never appears raw, every occurrence has its own
    mask, and all unmask to the session's token."""
    app.config["WTF_CSRF_ENABLED"] = True
    found = []
    for _ in range(2):
        html = client.get("/login", headers=GZIP)
        body = gzip.decompress(html.data).decode()
        found += re.findall(r'(?:content|value)="(~[A-Za-z0-9_-]+)"', body)
    assert len(found) >= 2 and len(set(found)) == len(found)
    assert len({compression.unmask_token(t) for t in found}) == 1


def test_masked_tokens_are_accepted_in_form_and_header(app, client, setup):
    """The login form posts its masked token; the API takes the masked meta token in
    X-CSRFToken; a wrong token is still refused."""
    from tests.factories import PASSWORD

    app.config["WTF_CSRF_ENABLED"] = True
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
    assert token.startswith("~")
    bad = client.post("/login", data={"email": setup.auditor.email, "password": PASSWORD, "csrf_token": token[:-4] + "AAAA"})
    assert bad.status_code in (400, 422)
    r = client.post("/login", data={"email": setup.auditor.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.data[:300]
    page = client.get(f"/audits/{setup.audit.id}/checklist").text
    meta = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    q = setup.questions["S1Q1"]
    url = f"/api/audits/{setup.audit.id}/answers/{q.id}"
    assert client.put(url, json={"verdict": "conforming", "base_version": 0}).status_code == 400
    saved = client.put(url, json={"verdict": "conforming", "base_version": 0}, headers={"X-CSRFToken": meta})
    assert saved.status_code == 200, saved.data[:300]


# --- static assets ----------------------------------------------------------------------------
def test_static_urls_carry_the_content_hash_and_a_long_cache(app, client):
    """url_for('static') names the file's hash; that URL is cached for a year and immutable,
    the bare or an outdated URL briefly."""
    with app.test_request_context():
        url = url_for("static", filename="js/checklist.js")
    digest = assets.asset_hash(app, "js/checklist.js")
    assert url == f"/static/js/checklist.js?v={digest}" and len(digest) == 12
    assert _static(client, url).headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert _static(client, "/static/js/checklist.js").headers["Cache-Control"] == "public, max-age=300"
    assert _static(client, "/static/js/checklist.js?v=000000000000").headers["Cache-Control"] == "public, max-age=300"


def test_a_changed_file_gets_a_new_hash(app, tmp_path):
    """The hash follows the bytes: an edited file gets another URL."""
    (tmp_path / "a.js").write_text("one")
    app.static_folder = str(tmp_path)
    first = assets.asset_hash(app, "a.js")
    (tmp_path / "a.js").write_text("two!")
    assert assets.asset_hash(app, "a.js") not in (None, first)
    assert assets.asset_hash(app, "missing.js") is None
    assert assets.asset_hash(app, "../etc/passwd") is None
    assert assets.asset_hash(app, "../etc/passwd") is None  # the refusal is remembered too
    (tmp_path / "missing.js").write_text("now here")
    assert assets.asset_hash(app, "missing.js") is not None  # a remembered path, a new file


def test_made_up_static_names_do_not_grow_the_path_cache(app, client, monkeypatch):
    """Resolved paths are remembered up to a bound: requests for names a client makes up
    (``/static/./js/x.js``, ...) cannot grow a worker's memory for ever."""
    monkeypatch.setattr(assets, "ASSET_PATHS_KEPT", 3)
    monkeypatch.setitem(app.extensions, "asset_paths", {})
    for i in range(6):
        assert assets.asset_hash(app, f"js/{i}.js") is None
    assert len(app.extensions["asset_paths"]) == 3
    with app.test_request_context():
        assert url_for("static", filename="js/checklist.js").startswith("/static/js/checklist.js?v=")


def test_worker_precaches_the_urls_the_pages_request(app):
    """Tag-loaded files by their hashed URL (as url_for builds it), modules imported by a
    relative path by their bare URL: the worker's install finds them in the HTTP cache."""
    urls = offline.precache_urls(app)
    with app.test_request_context():
        assert url_for("static", filename="js/checklist.js") in urls
        assert url_for("static", filename="css/app.css") in urls
    assert "/static/js/checklist-sync.mjs" in urls and "/static/js/offline-queue.js" in urls


# --- answers: ETag and 304 --------------------------------------------------------------------
def test_answers_refresh_is_a_304_while_nothing_changed(login, setup):
    """The answers carry an ETag; sent back it gets 304 without a body (also in its weak,
    compressed form); a save changes it."""
    client = login(setup.auditor)
    url = f"/api/audits/{setup.audit.id}/answers"
    first = client.get(url)
    etag = first.headers["ETag"]
    same = client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    # An empty 304 still varies on Accept-Encoding, as the (compressible) 200 it stands for.
    assert "Accept-Encoding" in client.get(url, headers={**GZIP, "If-None-Match": etag}).headers["Vary"]
    assert client.get(url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    q = setup.questions["S1Q1"]
    client.put(f"{url}/{q.id}", json={"verdict": "minor_nc", "base_version": 0})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json["answers"][0]["verdict"] == "minor_nc"


# --- photos: the original's size first --------------------------------------------------------
def test_server_refuses_a_declared_original_over_the_bound_before_reading(login, setup, app):
    """original_size over PHOTO_ORIGINAL_MAX_BYTES: 422 naming size and bound, nothing stored;
    under it a resized photo is taken; nonsense is a 422 on the field."""
    app.config["PHOTO_ORIGINAL_MAX_BYTES"] = 40 * 1_048_576
    client = login(setup.auditor)
    url = f"/api/audits/{setup.audit.id}/evidence"

    def post(original_size):
        return client.post(url, data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg"),
                                      "question_id": str(setup.questions["S1Q2"].id),
                                      "original_size": original_size}, content_type="multipart/form-data")

    refused = post(str(round(45.2 * 1_048_576)))
    assert refused.status_code == 422
    assert refused.json["detail"] == "The photo is too large (45.2 MB): the limit for an original photo is 40 MB."
    assert db.session.scalar(select(func.count(Evidence.id))) == 0
    assert post("abc").status_code == 422
    assert post(str(round(15.8 * 1_048_576))).status_code == 201


def test_checklist_page_names_the_bound_on_originals(login, setup, app):
    """The tablet reads the bound from the page (data-photo-original-max-bytes)."""
    app.config["PHOTO_ORIGINAL_MAX_BYTES"] = 30 * 1_048_576
    html = login(setup.auditor).get(f"/audits/{setup.audit.id}/checklist").text
    assert f'data-photo-original-max-bytes="{30 * 1_048_576}"' in html


# --- the demo checklist's first load ----------------------------------------------------------
def test_demo_checklist_first_load_meets_the_60_kb_target(app, client):
    """The demo's 62-question checklist: HTML + CSS + JS gzip-compressed stay within 60 KB
    (a byte count, not a timing), and compression saves most of it."""
    from audit.demo import DEMO_PASSWORD, seed_demo
    from audit.models import Audit
    from bench.transfer import FIRST_LOAD_TARGET, first_load

    seed_demo(now=dt.datetime.now(dt.UTC))
    db.session.commit()
    audit = db.session.scalar(select(Audit).where(Audit.generation_key == "demo:ia-machining"))
    assert client.post("/login", data={"email": audit.lead.email, "password": DEMO_PASSWORD}).status_code == 302
    load = first_load(lambda path, headers: _get(client, path, headers), f"/audits/{audit.id}/checklist")
    assert load.questions == 62
    assert load.compressed <= FIRST_LOAD_TARGET, load
    assert load.compressed < load.uncompressed / 3, load


def _get(client, path, headers):
    with client.get(path, headers=headers) as r:
        return r.status_code, dict(r.headers), r.get_data()
