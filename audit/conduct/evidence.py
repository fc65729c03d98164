"""Evidence files of an audit: checked by content and size, stored with a thumbnail for photos."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select

from audit.conduct.access import require_answerer
from audit.conduct.mutations import check_mutation_id
from audit.core.errors import DomainError
from audit.core.sizes import megabytes, too_large_message
from audit.extensions import db
from audit.models import Audit, ChecklistQuestion, Evidence
from audit.storage import EXTENSIONS, get_storage, new_key, sniff_content_type
from audit.storage.images import thumbnail_jpeg
from audit.trail.services import record, snapshot

#: Evidence types accepted (by content). Photos from tablets are JPEG; screenshots PNG.
ALLOWED_EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
THUMBNAIL_SIZE = (320, 320)
#: Default bound on an original photo's size (``PHOTO_ORIGINAL_MAX_BYTES``), before resizing.
ORIGINAL_MAX_BYTES = 40 * 1_048_576


def original_max_bytes(config) -> int:
    """The configured bound on an original photo, never below the evidence limit itself."""
    return max(int(config.get("PHOTO_ORIGINAL_MAX_BYTES", ORIGINAL_MAX_BYTES)), int(config["EVIDENCE_MAX_BYTES"]))


def original_too_large_message(size: int, limit: int) -> str:
    """The refusal of an original photo over ``limit`` (worded as photo-prepare.mjs words it)."""
    return f"The photo is too large ({megabytes(size)}): the limit for an original photo is {megabytes(limit)}."


def check_original_size(declared: str | None, limit: int) -> None:
    """Refuse an upload whose declared original (``original_size``, the file the person chose
    before the tablet resized it) is over ``limit`` — before the upload is read or decoded."""
    if declared in (None, ""):
        return
    if not (declared.isascii() and declared.isdigit()) or len(declared) > 15:
        raise DomainError("original_size must be a whole number of bytes.", field="original_size")
    if int(declared) > limit:
        raise DomainError(original_too_large_message(int(declared), limit), field="file")


def evidence_payload(ev: Evidence) -> dict:
    """The JSON form of an evidence file as the API returns it."""
    return {
        "id": ev.id, "client_id": ev.client_id, "question_id": ev.question_id,
        "content_type": ev.content_type, "size": ev.size, "caption": ev.caption,
        "taken_at": ev.taken_at.isoformat() if ev.taken_at else None,
        "uploaded_at": ev.uploaded_at.isoformat(),
        "thumbnail": ev.thumbnail_key is not None,
    }


def _thumbnail(data: bytes) -> bytes:
    # Pixel count checked from the header before anything decodes (storage/images.py).
    return thumbnail_jpeg(data, THUMBNAIL_SIZE)


def add_evidence(
    audit: Audit,
    *,
    data: bytes,
    filename: str | None,
    question: ChecklistQuestion | None = None,
    client_id: str | None = None,
    taken_at: dt.datetime | None = None,
    caption: str | None = None,
    max_bytes: int,
    size: int | None = None,
    actor,
    now: dt.datetime,
) -> tuple[Evidence, bool]:
    """Store an evidence file (checked by content and size) with a thumbnail for photos.

    ``size`` is the upload's full size when ``data`` holds only its first ``max_bytes + 1``.

    Returns ``(evidence, replayed)``: an already stored ``client_id`` returns that evidence.
    """
    check_mutation_id(client_id)
    if client_id:
        existing = db.session.scalar(select(Evidence).where(Evidence.client_id == client_id))
        if existing is not None:
            if existing.audit_id != audit.id:
                raise DomainError("This evidence id belongs to another audit.", field="client_id")
            return existing, True
    require_answerer(audit, actor)
    if not data:
        raise DomainError("The file is empty.", field="file")
    if len(data) > max_bytes:
        # The caller may have read only max_bytes + 1 of a larger file: it passes the real size.
        raise DomainError(too_large_message(size or len(data), max_bytes), field="file")
    ctype = sniff_content_type(data)
    if ctype not in ALLOWED_EVIDENCE_TYPES:
        raise DomainError("Only photos (JPEG, PNG, WebP) and PDF documents can be attached; "
                          "this file is none of them.", field="file")
    if taken_at is not None and taken_at > now + dt.timedelta(minutes=5):
        raise DomainError("The evidence date lies in the future.", field="taken_at")
    thumb = _thumbnail(data) if ctype.startswith("image/") else None
    storage = get_storage()
    key = new_key(f"evidence/{audit.id}", EXTENSIONS[ctype])
    storage.put(key, data)
    thumb_key = None
    if thumb is not None:
        thumb_key = key.rsplit(".", 1)[0] + "-thumb.jpg"
        storage.put(thumb_key, thumb)
    ev = Evidence(
        client_id=client_id or None, audit_id=audit.id,
        question_id=question.id if question is not None else None,
        storage_key=key, thumbnail_key=thumb_key, content_type=ctype, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=(filename or "")[:255] or None, caption=(caption or "").strip()[:255] or None,
        taken_at=taken_at or now, uploaded_at=now, uploaded_by_id=actor.id,
    )
    db.session.add(ev)
    db.session.flush()
    record(ev, "create", actor=actor, now=now,
           summary=f"Attached evidence to {audit.reference}",
           changes=snapshot({"question_id": ev.question_id, "content_type": ctype,
                             "size": len(data), "sha256": ev.sha256}))
    return ev, False
