"""The service worker's cache version: a hash of what it caches, computed once per app."""

from __future__ import annotations

import re
import shutil

import pytest

from audit import PROJECT_ROOT, create_app
from audit.conduct import offline


def _served_version(client) -> str:
    with client.get("/sw.js") as r:
        body = r.get_data(as_text=True)
    match = re.search(r'^const VERSION = "([0-9a-f]{16})";$', body, re.M)
    assert match, body[:400]
    return match.group(1)


def test_asset_version_changes_when_an_asset_changes(tmp_path):
    """Editing one cached file gives a new version; the same bytes give the same version."""
    a, b = tmp_path / "a.js", tmp_path / "b.css"
    a.write_text("one")
    b.write_text("two")
    first = offline.asset_version([a, b])
    assert offline.asset_version([a, b]) == first
    a.write_text("one!")
    assert offline.asset_version([a, b]) != first
    a.write_text("one")
    assert offline.asset_version([a, b]) == first
    assert offline.asset_version([a, b], b"Acme") != first


def test_worker_is_rendered_with_the_apps_version_and_precache_list(client, app):
    """/sw.js carries the start-up hash, the precache list (every listed file exists) and the
    page-cache name the checklist page also uses."""
    shell = app.extensions["offline_shell"]
    assert _served_version(client) == shell.version
    body = client.get("/sw.js").get_data(as_text=True)
    assert '"/static/js/checklist-sync.mjs"' in body and '"/manifest.webmanifest"' in body
    assert f'const PAGE_CACHE = "{offline.PAGE_CACHE}";' in body
    for url in shell.precache[:-1]:
        with client.get(url) as r:
            assert r.status_code == 200, url


def test_changing_an_asset_changes_the_served_version(tmp_path):
    """An app started over a changed static file serves a different cache version; the version is
    fixed at start-up, not recomputed per request."""
    static = tmp_path / "static"
    shutil.copytree(PROJECT_ROOT / "static", static)
    first = create_app("testing")
    first.static_folder = str(static)
    offline.init_app(first)
    before = _served_version(first.test_client())

    (static / "js" / "checklist.js").write_text("// a new release\n", encoding="utf-8")
    assert _served_version(first.test_client()) == before  # computed once, at start-up
    second = create_app("testing")
    second.static_folder = str(static)
    offline.init_app(second)
    assert _served_version(second.test_client()) != before


def test_checklist_page_names_the_same_page_cache(login, setup):
    """The page reads the page cache's name from the server: it is defined once, in Python."""
    html = login(setup.auditor).get(f"/audits/{setup.audit.id}/checklist").get_data(as_text=True)
    assert f'data-page-cache="{offline.PAGE_CACHE}"' in html
    assert f'data-user-email="{setup.auditor.email}"' in html


def test_page_cache_bound_is_configured_and_part_of_the_version(app):
    """OFFLINE_MAX_PAGES reaches the worker and changes its version; a bound below 2 is refused."""
    small = create_app("testing", {"OFFLINE_MAX_PAGES": 5})
    with small.test_client() as client:
        body = client.get("/sw.js").get_data(as_text=True)
    assert "const MAX_PAGES = 5;" in body
    assert f'const USER_HEADER = "{offline.USER_HEADER}";' in body
    assert small.extensions["offline_shell"].version != app.extensions["offline_shell"].version
    with pytest.raises(ValueError, match="OFFLINE_MAX_PAGES"):
        create_app("testing", {"OFFLINE_MAX_PAGES": 1})
