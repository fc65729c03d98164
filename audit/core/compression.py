"""Compressed responses (brotli or gzip, as the client accepts) and a CSRF token masked per
response, so compressing HTML does not open the BREACH side channel.

What is compressed: text, JSON, JavaScript, CSS, iCalendar, SVG and the manifest — static files
included — when the client's ``Accept-Encoding`` allows it and the body is at least
``MIN_SIZE`` bytes. Never compressed: images, PDFs and other already compressed types, partial
(206) or streamed responses, bodies that already have a ``Content-Encoding``. Every response of
a compressible type says ``Vary: Accept-Encoding``, so caches keep the encodings apart. A strong
ETag becomes weak on a compressed body (the bytes differ, the content does not); the views
compare ``If-None-Match`` weakly, so 304s keep working.

BREACH: an attacker who can make a victim's browser request a page many times with chosen text
reflected in it can learn a secret from the compressed sizes, if that secret is the same in every
response. Flask-WTF's token is the same signed value for a whole request and carries the
session's CSRF secret verbatim, so every occurrence of it in a response body is replaced by a
fresh mask: ``~`` + base64url(pad + token XOR pad) with a random pad per occurrence. The same
token never appears twice in compressed bytes; requests are unmasked before Flask-WTF checks
them (form field and ``X-CSRFToken`` header), and an unmasked token is still accepted.
"""

from __future__ import annotations

import base64
import gzip
import secrets

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict

try:  # brotli is optional: gzip alone meets the targets, brotli saves a further ~15%.
    import brotli
except ImportError:  # pragma: no cover - depends on the installation
    brotli = None

#: Bodies smaller than this are sent as they are: the encoding's overhead outweighs the gain.
MIN_SIZE = 512
#: Bodies larger than this are sent as they are (they are files people download, not pages).
MAX_SIZE = 8 * 1024 * 1024

#: Media types worth compressing; everything else (JPEG, PNG, WebP, PDF, ZIP, ...) already is.
COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/calendar", "text/javascript",
    "text/xml", "application/javascript", "application/json", "application/problem+json",
    "application/manifest+json", "application/xml", "image/svg+xml",
})

MASK_PREFIX = "~"


# --- CSRF token masking -----------------------------------------------------------------------
def mask_token(token: str) -> str:
    """``token`` XOR a fresh random pad, as ``~`` + base64url(pad + masked), no padding."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return MASK_PREFIX + base64.urlsafe_b64encode(pad + _xor(raw, pad)).decode().rstrip("=")


def unmask_token(value: str | None) -> str | None:
    """The token inside a masked value; any other value (an unmasked token) unchanged."""
    if not value or not value.startswith(MASK_PREFIX):
        return value
    text = value[len(MASK_PREFIX):]
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return value
    if not data or len(data) % 2:
        return value
    half = len(data) // 2
    try:
        return _xor(data[:half], data[half:]).decode()
    except UnicodeDecodeError:
        return value


def _xor(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b`` (of the same length) as one integer operation, not one a byte."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _unmask_request() -> None:
    """Before Flask-WTF's check: unmask the token of a write (header and form field)."""
    if request.method not in current_app.config.get("WTF_CSRF_METHODS", ("POST", "PUT", "PATCH", "DELETE")):
        return
    for header in current_app.config.get("WTF_CSRF_HEADERS", ("X-CSRFToken", "X-CSRF-Token")):
        key = "HTTP_" + header.upper().replace("-", "_")
        if key in request.environ:
            request.environ[key] = unmask_token(request.environ[key])
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    form = request.form
    names = [k for k in form if k.endswith(field) and any(v.startswith(MASK_PREFIX) for v in form.getlist(k))]
    if names:
        pairs = [(k, unmask_token(v) if k in names else v) for k, v in form.items(multi=True)]
        # Werkzeug caches the parsed form on the request: replacing it is what every later
        # reader (Flask-WTF's check, FlaskForm) sees.
        request.form = ImmutableMultiDict(pairs)


def _mask_body(response: Response) -> None:
    """Replace each occurrence of this request's CSRF token with its own fresh mask."""
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if not token or response.direct_passthrough or response.is_streamed:
        return
    body = response.get_data()
    needle = token.encode()
    if needle not in body:
        return
    parts = body.split(needle)
    out = [parts[0]]
    for part in parts[1:]:
        out.append(mask_token(token).encode())
        out.append(part)
    response.set_data(b"".join(out))


# --- compression -----------------------------------------------------------------------------
def choose_encoding(accept) -> str | None:
    """``br`` or ``gzip`` from a parsed Accept-Encoding (brotli only when installed), or None."""
    if brotli is not None and accept["br"] > 0 and accept["br"] >= accept["gzip"]:
        return "br"
    if accept["gzip"] > 0:
        return "gzip"
    return None


def encode(data: bytes, encoding: str) -> bytes:
    """``data`` compressed with ``encoding`` (levels chosen for per-request speed)."""
    if encoding == "br":
        return brotli.compress(data, quality=5)
    return gzip.compress(data, compresslevel=6, mtime=0)


def _static_cache(app: Flask) -> dict:
    return app.extensions.setdefault("compressed_static", {})


def _compress(response: Response) -> None:
    if response.mimetype not in COMPRESSIBLE:
        return
    # The length first: most API answers are too small to compress. Such a 200 is the same
    # whatever the client accepts, so it needs no Vary either, and Accept-Encoding is not parsed.
    length = response.content_length
    too_small_or_large = length is not None and not MIN_SIZE <= length <= MAX_SIZE
    if too_small_or_large and response.status_code == 200 and request.method != "HEAD":
        return
    response.vary.add("Accept-Encoding")
    # A static file's iterable has no length (``is_streamed``) but is a file read whole here.
    streamed = response.is_streamed and not response.direct_passthrough
    if (response.status_code != 200 or streamed or "Content-Encoding" in response.headers
            or request.method == "HEAD" or too_small_or_large):
        return
    encoding = choose_encoding(request.accept_encodings)
    if encoding is None:
        return
    static_key = None
    if response.direct_passthrough:
        # A static file: compressed once per version (its ETag names the version) and kept.
        version = response.get_etag()[0]
        static_key = (request.path, version, encoding) if version else None
        cached = _static_cache(current_app).get(static_key) if static_key else None
        response.direct_passthrough = False
        if cached is not None:
            # The file is not read: close it now (set_data drops it otherwise unclosed).
            close = getattr(response.response, "close", None)
            if close is not None:
                close()
            _finish(response, cached, encoding)
            return
    data = response.get_data()
    if not MIN_SIZE <= len(data) <= MAX_SIZE:
        return
    packed = encode(data, encoding)
    if len(packed) >= len(data):
        return
    if static_key is not None:
        _static_cache(current_app)[static_key] = packed
    _finish(response, packed, encoding)


def _finish(response: Response, packed: bytes, encoding: str) -> None:
    response.set_data(packed)
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)


def after_request(response: Response) -> Response:
    """Mask the CSRF token in the body, then compress it if worthwhile."""
    if current_app.config.get("CSRF_MASKING", True):
        _mask_body(response)
    if current_app.config.get("COMPRESS_RESPONSES", True):
        _compress(response)
    return response


def init_app(app: Flask) -> None:
    """Install before Flask-WTF (the unmasking must precede its check) and before every other
    ``after_request`` hook (this one must run last, on the finished body)."""
    app.before_request(_unmask_request)
    app.after_request(after_request)
