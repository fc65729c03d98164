"""The offline shell's cache version: a hash of the assets the service worker keeps, computed
once when the app starts (never edited by hand), so a changed asset always reaches the tablets.

The service worker (``templates/conduct/sw.js``) is rendered with this version, the list of
assets it precaches and the page cache's name; the checklist page reads the same page-cache name,
so neither is written twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

#: Cache of checklist pages and thumbnails; kept across asset versions (pages are not assets).
PAGE_CACHE = "audit-pages-v1"

#: Static files the service worker precaches (paths under the static folder).
PRECACHE_STATIC = (
    "css/app.css",
    "js/app.js",
    "js/checklist.js",
    "js/checklist-sync.mjs",
    "js/offline-queue.js",
    "js/relogin.js",
)

#: The worker's own template: a change to its code is a new version too.
WORKER_TEMPLATE = "conduct/sw.js"


@dataclass(frozen=True)
class OfflineShell:
    """What the service worker is rendered with."""

    version: str
    precache: tuple[str, ...]
    page_cache: str = PAGE_CACHE


def asset_version(files: list[Path], extra: bytes = b"") -> str:
    """A short content hash of ``files`` (names and bytes, in the given order) plus ``extra``."""
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    digest.update(extra)
    return digest.hexdigest()[:16]


def build_shell(app: Flask) -> OfflineShell:
    """Hash the precached assets, the worker's template and the manifest's inputs of ``app``."""
    static = Path(app.static_folder)
    template = Path(app.template_folder) / WORKER_TEMPLATE
    files = [static / name for name in PRECACHE_STATIC] + [template]
    # The manifest is generated from configuration: its inputs are part of what is cached.
    extra = str(app.config.get("ORGANISATION_NAME", "")).encode()
    urls = [f"{app.static_url_path}/{name}" for name in PRECACHE_STATIC]
    return OfflineShell(version=asset_version(files, extra), precache=(*urls, "/manifest.webmanifest"))


def init_app(app: Flask) -> None:
    """Compute the offline shell once for this app (at start-up, not per request)."""
    app.extensions["offline_shell"] = build_shell(app)


def shell() -> OfflineShell:
    """The current app's offline shell."""
    return current_app.extensions["offline_shell"]
