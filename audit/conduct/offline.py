"""The offline shell's cache version: a hash of the assets the service worker keeps, computed
once when the app starts (never edited by hand), so a changed asset always reaches the tablets.

The service worker (``templates/conduct/sw.js``) is rendered with this version, the list of
assets it precaches and the page cache's name; the checklist page reads the same page-cache name,
so neither is written twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, current_app
from flask_login import current_user

from audit.core.assets import hashed_path

#: Cache of the pages kept for offline use (home, audit pages, checklists, raise-finding forms,
#: thumbnails); kept across asset versions (pages are not assets). It only ever holds one
#: person's pages: the worker empties it when a page names another user (``USER_HEADER``).
PAGE_CACHE = "audit-pages-v1"

#: Response header naming the signed-in user of an HTML page; the worker caches a page only with
#: it, and clears the page cache when it changes, so one person's pages never reach another.
USER_HEADER = "X-Offline-User"

#: The most pages the worker keeps unless ``OFFLINE_MAX_PAGES`` says otherwise (oldest dropped
#: first; the start page is always kept).
MAX_PAGES = 300

#: Static files the service worker precaches (paths under the static folder).
PRECACHE_STATIC = (
    "css/app.css",
    "js/app.js",
    "js/checklist.js",
    "js/checklist-sync.mjs",
    "js/photo-prepare.mjs",
    "js/offline-queue.js",
    "js/raise-finding.js",
    "js/finding-queue.mjs",
    "js/relogin.js",
)

#: ``import ... from "./name"`` in a precached module: the browser asks for that URL as written.
_RELATIVE_IMPORT = re.compile(r'''\bfrom\s*["']\./([\w.-]+)["']''')

#: The worker's own template: a change to its code is a new version too.
WORKER_TEMPLATE = "conduct/sw.js"


@dataclass(frozen=True)
class OfflineShell:
    """What the service worker is rendered with."""

    version: str
    precache: tuple[str, ...]
    page_cache: str = PAGE_CACHE
    user_header: str = USER_HEADER
    max_pages: int = MAX_PAGES


def asset_version(files: list[Path], extra: bytes = b"") -> str:
    """A short content hash of ``files`` (names and bytes, in the given order) plus ``extra``."""
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    digest.update(extra)
    return digest.hexdigest()[:16]


def precache_urls(app: Flask) -> list[str]:
    """The precached assets' URLs exactly as the pages request them, so the worker's install
    finds them in the HTTP cache instead of downloading them again: files loaded by a tag carry
    their content hash (``url_for('static')``), modules imported by a relative path do not."""
    static = Path(app.static_folder)
    imported = {m for name in PRECACHE_STATIC if name.endswith((".js", ".mjs"))
                for m in _RELATIVE_IMPORT.findall((static / name).read_text(encoding="utf-8"))}
    urls = []
    for name in PRECACHE_STATIC:
        folder, _, base = name.rpartition("/")
        if base in imported and folder == "js":
            urls.append(f"{app.static_url_path}/{name}")
        else:
            urls.append(hashed_path(app, name))
    return urls


def build_shell(app: Flask) -> OfflineShell:
    """Hash the precached assets, the worker's template and the manifest's inputs of ``app``."""
    static = Path(app.static_folder)
    template = Path(app.template_folder) / WORKER_TEMPLATE
    files = [static / name for name in PRECACHE_STATIC] + [template]
    # The manifest is generated from configuration: its inputs are part of what is cached.
    extra = str(app.config.get("ORGANISATION_NAME", "")).encode()
    urls = precache_urls(app)
    max_pages = int(app.config.get("OFFLINE_MAX_PAGES", MAX_PAGES))
    if max_pages < 2:
        raise ValueError("OFFLINE_MAX_PAGES must keep at least the start page and one other page.")
    # The bound is part of the worker's code: a changed bound is a new worker version.
    extra += f"\0{max_pages}".encode()
    return OfflineShell(version=asset_version(files, extra), precache=(*urls, "/manifest.webmanifest"),
                        max_pages=max_pages)


def mark_user(response: Response) -> Response:
    """Name the signed-in user on HTML pages, so the worker keys its page cache per person."""
    if response.mimetype == "text/html" and current_user and current_user.is_authenticated:
        response.headers[USER_HEADER] = str(current_user.id)
    return response


def init_app(app: Flask) -> None:
    """Compute the offline shell once for this app (at start-up, not per request)."""
    app.extensions["offline_shell"] = build_shell(app)
    app.after_request(mark_user)


def shell() -> OfflineShell:
    """The current app's offline shell."""
    return current_app.extensions["offline_shell"]
