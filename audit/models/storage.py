"""Stored files: evidence and report bytes kept in the database (``STORAGE_BACKEND = "database"``).

Several app servers then see the same files without a shared folder. Rows are written once and
never updated (originals are immutable; thumbnails are rows of their own).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class StoredFile(db.Model):
    """One file under its storage key (PostgreSQL ``bytea``, SQLite ``BLOB``)."""

    __tablename__ = "stored_files"

    #: The server-made key (``evidence/12/3f9c….jpg``); never a name from a request.
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    #: The bytes; read back in chunks (``substr``) so a large file is streamed, not loaded whole.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<StoredFile {self.key} {self.size} bytes>"
