"""Static assets with content-hashed URLs and long cache lifetimes.

``url_for('static', filename=...)`` adds ``?v=<hash of the file's bytes>``: a changed file gets
a new URL, so a URL whose ``v`` matches the file on disk may be cached for a year and marked
``immutable`` (the browser does not even revalidate it). A request without ``v`` (a JavaScript
module imported by a relative path, an old link) or with an outdated one keeps a short cache
(revalidated after five minutes), so a release reaches every tablet within minutes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, Response, current_app, request

#: Cache-Control of a static response whose ``v`` is the file's current hash.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Cache-Control of any other static response (no ``v``, or an old one).
SHORT = "public, max-age=300"
#: Static file names whose resolved path is remembered (the app's own are a few dozen).
ASSET_PATHS_KEPT = 512


def _hashes(app: Flask) -> dict:
    return app.extensions.setdefault("asset_hashes", {})


def _static_path(app: Flask, filename: str) -> Path | None:
    """``filename`` resolved inside the static folder, or None when it leads outside.

    Resolved once per name: two ``resolve()`` calls (a ``lstat`` for every path component)
    for each of a page's half-dozen static URLs cost ~0.25 ms of every page (issue 16). The
    file's contents are still checked on every call (``asset_hash``).
    """
    paths = app.extensions.setdefault("asset_paths", {})
    key = (app.static_folder, filename)
    if key in paths:
        return paths[key]
    root = Path(app.static_folder).resolve()
    path = (root / filename).resolve()
    found = path if root in path.parents else None
    if len(paths) < ASSET_PATHS_KEPT:  # a client's made-up names must not grow it for ever
        paths[key] = found
    return found


def asset_hash(app: Flask, filename: str) -> str | None:
    """The first 12 hex digits of the SHA-256 of static ``filename``, or None when missing.

    Computed once per file version: the cache is keyed by the file's size and modification
    time, so a file edited while the app runs (development) gets its new hash at once.
    """
    path = _static_path(app, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (stat.st_size, stat.st_mtime_ns)
    cached = _hashes(app).get(filename)
    if cached and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    _hashes(app)[filename] = (key, digest)
    return digest


def hashed_path(app: Flask, filename: str) -> str:
    """The URL path ``url_for('static', filename=filename)`` builds, without a request."""
    digest = asset_hash(app, filename)
    base = f"{app.static_url_path}/{filename}"
    return f"{base}?v={digest}" if digest else base


def _add_hash(endpoint: str, values: dict) -> None:
    """``url_defaults`` hook: every static URL names its content's hash."""
    if endpoint == "static" and "filename" in values and "v" not in values:
        digest = asset_hash(current_app, values["filename"])
        if digest:
            values["v"] = digest


def cache_headers(response: Response) -> Response:
    """A year and ``immutable`` for a current hashed URL, a short cache otherwise."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    current = asset_hash(current_app, filename)
    fresh = current is not None and request.args.get("v") == current
    response.headers["Cache-Control"] = IMMUTABLE if fresh else SHORT
    response.headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    """Hash static URLs and set their cache lifetimes."""
    app.url_defaults(_add_hash)
    app.after_request(cache_headers)
