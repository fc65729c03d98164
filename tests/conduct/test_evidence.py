"""Evidence uploads: type by content, size limit, thumbnails, idempotent replays, access."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from audit.extensions import db
from audit.models import Evidence
from audit.storage import FileSystemStorage, StorageError, sniff_content_type
from tests.conduct.conftest import jpeg_bytes, png_bytes


def _upload(client, setup, data, name="photo.jpg", **fields):
    form = {"file": (io.BytesIO(data), name), "question_id": str(setup.questions["S1Q2"].id)}
    form.update(fields)
    return client.post(f"/api/audits/{setup.audit.id}/evidence", data=form,
                       content_type="multipart/form-data")


def test_photo_is_stored_with_thumbnail(login, setup, app):
    """A JPEG is stored unchanged with a derived JPEG thumbnail no larger than 320 px."""
    from PIL import Image

    client = login(setup.auditor)
    photo = jpeg_bytes((1600, 1200))
    r = _upload(client, setup, photo, taken_at="2026-03-10T08:15:00+01:00", client_id="ev-1")
    assert r.status_code == 201, r.json
    ev = db.session.get(Evidence, r.json["evidence"]["id"])
    assert ev.content_type == "image/jpeg" and ev.size == len(photo)
    assert ev.taken_at.isoformat() == "2026-03-10T07:15:00+00:00"
    assert ev.uploaded_at != ev.taken_at
    with client.get(f"/evidence/{ev.id}") as original:
        assert original.data == photo
    with client.get(f"/evidence/{ev.id}/thumbnail") as thumb:
        assert thumb.mimetype == "image/jpeg"
        img = Image.open(io.BytesIO(thumb.data))
        assert max(img.size) <= 320


def test_wrong_type_is_refused_by_content(login, setup):
    """A text file named .jpg is refused with a clear message; nothing is stored."""
    client = login(setup.auditor)
    r = _upload(client, setup, b"#!/bin/sh\necho not a photo\n", name="photo.jpg")
    assert r.status_code == 422
    assert r.json["detail"].startswith("Only photos (JPEG, PNG, WebP) and PDF documents")
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_too_large_is_refused(login, setup, app):
    """A file over EVIDENCE_MAX_BYTES is refused naming the limit."""
    app.config["EVIDENCE_MAX_BYTES"] = 20_000
    client = login(setup.auditor)
    r = _upload(client, setup, jpeg_bytes() + b"\0" * 30_000)
    assert r.status_code == 422
    assert "too large" in r.json["detail"] and "limit" in r.json["detail"]
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_damaged_photo_is_refused(login, setup):
    """JPEG magic bytes followed by garbage are refused as damaged."""
    client = login(setup.auditor)
    r = _upload(client, setup, b"\xff\xd8\xff\xe0" + b"garbage" * 50)
    assert r.status_code == 422
    assert "damaged" in r.json["detail"]


def test_replayed_upload_stores_once(login, setup):
    """The same client_id uploaded twice answers 200 the second time with the same evidence."""
    client = login(setup.auditor)
    first = _upload(client, setup, png_bytes(), name="a.png", client_id="offline-photo-1")
    again = _upload(client, setup, png_bytes(), name="a.png", client_id="offline-photo-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["evidence"]["id"] == first.json["evidence"]["id"]
    assert db.session.scalar(select(func.count(Evidence.id))) == 1


def test_pdf_evidence_has_no_thumbnail(login, setup):
    """A PDF is accepted and served as a download-able document without thumbnail."""
    client = login(setup.auditor)
    r = _upload(client, setup, b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", name="cert.pdf")
    assert r.status_code == 201
    assert r.json["evidence"]["thumbnail"] is False
    assert client.get(f"/evidence/{r.json['evidence']['id']}/thumbnail").status_code == 404


def test_evidence_access(login, setup, client):
    """Auditees may view evidence files; observers cannot upload; supplier contacts see nothing."""
    login(setup.auditor)
    ev_id = _upload(client, setup, png_bytes()).json["evidence"]["id"]
    login(setup.auditee)
    with client.get(f"/evidence/{ev_id}") as r:
        assert r.status_code == 200
    assert _upload(client, setup, png_bytes()).status_code == 403
    login(setup.observer)
    assert _upload(client, setup, png_bytes()).status_code == 403
    login(setup.supplier_contact)
    assert client.get(f"/evidence/{ev_id}").status_code == 403
    assert client.get("/evidence/999999").status_code == 403


def test_storage_never_leaves_its_folder(tmp_path):
    """Keys with .. or absolute paths are refused; originals cannot be overwritten."""
    store = FileSystemStorage(tmp_path)
    store.put("evidence/1/a.jpg", b"x")
    for bad in ("../etc/passwd", "/etc/passwd", "evidence/../../x", "Evidence/A.jpg"):
        try:
            store.get(bad)
        except StorageError:
            continue
        raise AssertionError(bad)
    try:
        store.put("evidence/1/a.jpg", b"y")
    except StorageError:
        pass
    else:
        raise AssertionError("overwrote an original")
    assert store.get("evidence/1/a.jpg") == b"x"


def test_sniffing_by_magic_bytes():
    """Types come from the bytes: JPEG, PNG, WebP, PDF; anything else is unknown."""
    assert sniff_content_type(jpeg_bytes()) == "image/jpeg"
    assert sniff_content_type(png_bytes()) == "image/png"
    assert sniff_content_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff_content_type(b"%PDF-1.7") == "application/pdf"
    assert sniff_content_type(b"GIF89a") is None
    assert sniff_content_type(b"<svg xmlns=") is None
