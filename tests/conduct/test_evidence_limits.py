"""Evidence uploads that could exhaust the worker or reach a 500 are refused up front."""

from __future__ import annotations

import io
import struct
import zlib

from sqlalchemy import func, select

from audit.extensions import db
from audit.models import Evidence
from audit.storage.images import MAX_PIXELS


def bomb_png(width: int, height: int) -> bytes:
    """A valid all-black RGB PNG of ``width``×``height``, built row by row (never in memory whole):
    13000×13000 decodes to ~500 MB yet compresses to ~0.5 MB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/self/status")


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) so it measures only what follows; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _upload(client, setup, data, **fields):
    form = {"file": (io.BytesIO(data), "photo.png"), **fields}
    return client.post(f"/api/audits/{setup.audit.id}/evidence", data=form, content_type="multipart/form-data")


def test_pixel_bomb_is_refused_without_decoding(login, setup):
    """A 13000×13000 PNG (~0.5 MB) is refused with 422 before decoding: the worker grows < 50 MB."""
    data = bomb_png(13000, 13000)
    assert len(data) < 2_000_000 and MAX_PIXELS < 13000 * 13000
    client = login(setup.auditor)
    peak = _reset_peak()
    before = _status_kb("VmRSS")
    response = _upload(client, setup, data)
    grown_mb = (_status_kb("VmHWM" if peak else "VmRSS") - before) / 1024
    assert response.status_code == 422, response.json
    assert "too many pixels" in response.json["detail"]
    assert grown_mb < 50, f"the worker grew by {grown_mb:.0f} MB"
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_evidence_date_out_of_range_is_refused(login, setup):
    """taken_at 0001-01-01T00:00:00+14:00 (a 500 converting to UTC before) is a 400 with a message."""
    client = login(setup.auditor)
    response = _upload(client, setup, bomb_png(4, 4), taken_at="0001-01-01T00:00:00+14:00")
    assert response.status_code == 400 and "between the years" in response.json["detail"]
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_photo_just_over_the_limit_is_refused(login, setup):
    """Just above the limit (where Pillow only warns) is refused too: the warning is an error."""
    response = _upload(login(setup.auditor), setup, bomb_png(8000, 7000))
    assert response.status_code == 422 and "too many pixels" in response.json["detail"]


def test_small_png_still_gets_a_thumbnail(login, setup):
    """A photo within the limit is stored with a thumbnail, as before."""
    response = _upload(login(setup.auditor), setup, bomb_png(640, 480))
    assert response.status_code == 201, response.json
    assert response.json["evidence"]["thumbnail"] is True
