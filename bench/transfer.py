"""Bytes on the wire for the tablet checklist (issue 15 item 7): the first load of the checklist
(HTML + CSS + JS, compressed as a browser asks for it and uncompressed), one answer save, and
one idle refresh of the answers (nothing changed: a 304). Counted as response bodies plus
response headers, as a browser receives them; requests are counted too for a save.

Targets: first load ≤ 60 KB transferred, idle refresh ≤ 1 KB. ``first_load`` and friends take a
``get(path, headers) -> (status, headers, body)`` so the pytest (Flask's test client) and the
bench (a live server) measure the same way.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

FIRST_LOAD_TARGET = 60 * 1024
IDLE_REFRESH_TARGET = 1024
#: What Chromium sends; the bench reports gzip (the floor every browser supports).
ACCEPT = {"Accept-Encoding": "gzip"}

Get = Callable[[str, dict], tuple[int, dict, bytes]]

_ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="([^"]+)"')
_IMPORT = re.compile(rb'''\bfrom\s*["']\./([\w.-]+)["']''')


@dataclass
class FirstLoad:
    """The first load of a checklist page: bytes transferred compressed and uncompressed."""

    compressed: int
    uncompressed: int
    html_compressed: int
    html_uncompressed: int
    requests: int
    questions: int


def header_bytes(headers: dict) -> int:
    """The size of a response's header block (``Name: value\\r\\n`` each, plus a status line)."""
    return len("HTTP/1.1 200 OK\r\n\r\n") + sum(len(k) + len(str(v)) + 4 for k, v in headers.items())


def _plain(headers: dict, body: bytes) -> bytes:
    encoding = {k.lower(): v for k, v in headers.items()}.get("content-encoding")
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    return body


def first_load(get: Get, path: str) -> FirstLoad:
    """Fetch the page and every stylesheet and script it loads (module imports followed)."""
    status, headers, body = get(path, ACCEPT)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    html = _plain(headers, body)
    compressed = len(body) + header_bytes(headers)
    uncompressed = len(html) + header_bytes(headers)
    html_sizes = (compressed, uncompressed)
    queue = [u for u in _ASSET.findall(html.decode()) if u.startswith("/")]
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        status, headers, body = get(url, ACCEPT)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        plain = _plain(headers, body)
        compressed += len(body) + header_bytes(headers)
        uncompressed += len(plain) + header_bytes(headers)
        if url.split("?")[0].endswith((".js", ".mjs")):
            folder = url.split("?")[0].rsplit("/", 1)[0]
            queue += [f"{folder}/{name.decode()}" for name in _IMPORT.findall(plain)]
    return FirstLoad(compressed=compressed, uncompressed=uncompressed, html_compressed=html_sizes[0],
                     html_uncompressed=html_sizes[1], requests=1 + len(seen),
                     questions=html.count(b'data-question="'))


def idle_refresh(get: Get, answers_path: str) -> int:
    """Bytes of a refresh of the answers when nothing changed (the tablet sends its ETag)."""
    status, headers, _body = get(answers_path, ACCEPT)
    etag = {k.lower(): v for k, v in headers.items()}.get("etag")
    if status != 200 or not etag:
        raise RuntimeError(f"{answers_path} answered {status} without an ETag")
    status, headers, body = get(answers_path, {**ACCEPT, "If-None-Match": etag})
    if status != 304:
        raise RuntimeError(f"an unchanged refresh answered {status}, not 304")
    return len(body) + header_bytes(headers)


def save_bytes(send: Callable[[str, bytes, dict], tuple[int, dict, bytes]], path: str, base_version: int,
               request_headers: dict) -> int:
    """Bytes of one answer save: the request (headers and JSON body) and the response."""
    body = json.dumps({"verdict": "conforming", "note": "bench transfer", "base_version": base_version,
                       "mutation_id": None}).encode()
    status, headers, data = send(path, body, request_headers)
    if status != 200:
        raise RuntimeError(f"a save answered {status}: {data[:200]!r}")
    sent = len(body) + sum(len(k) + len(str(v)) + 4 for k, v in request_headers.items()) + len(f"PUT {path} HTTP/1.1\r\n")
    return sent + len(data) + header_bytes(headers)


# --- the bench measure ---------------------------------------------------------------------------
def _needs(ctx) -> str | None:
    if not ctx.facts.get("answerable"):
        return "not available yet: demo data has no audit with checklist questions and an auditor"
    return None


def _run(ctx):
    from bench.measures import Result

    target = ctx.facts["answerable"]
    session = ctx.session(target["auditor"])
    audit_id = target["audit_id"]
    load = first_load(lambda p, h: session.get(p, h), f"/audits/{audit_id}/checklist")
    answers = f"/api/audits/{audit_id}/answers"
    refresh = idle_refresh(lambda p, h: session.get(p, h), answers)
    _s, _h, data = session.get(answers, {"Accept-Encoding": "identity"})
    versions = {a["question_id"]: a["version"] for a in json.loads(data)["answers"]}
    question = target["questions"][0]
    headers = {"X-CSRFToken": session.csrf or "", "Accept": "application/json", "Content-Type": "application/json"}
    save = save_bytes(lambda p, b, h: session.send("PUT", p, b, "application/json", h),
                      f"{answers}/{question}", versions.get(question, 0), headers)
    verdict = "meets" if load.compressed <= FIRST_LOAD_TARGET and refresh <= IDLE_REFRESH_TARGET else "MISSES"
    return Result(value=load.compressed / 1024, base_value=FIRST_LOAD_TARGET / 1024, unit="KB", notes=[
        f"{load.questions} questions, {load.requests} requests: {load.compressed / 1024:.1f} KB gzip "
        f"({load.uncompressed / 1024:.1f} KB uncompressed; HTML {load.html_compressed / 1024:.1f} / "
        f"{load.html_uncompressed / 1024:.1f} KB)",
        f"save {save} B, idle refresh {refresh} B",
        f"{verdict} the targets (first load ≤ 60 KB, idle refresh ≤ 1 KB; baseline column = target)",
    ])


def measure():
    """The bench entry (registered in bench/measures.py's MEASURES)."""
    from bench.measures import Measure

    return Measure("checklist bytes transferred (first load KB)", _needs, _run, rounds=1)
