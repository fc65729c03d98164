"""Files in the database: the storage backend for several app servers on one database.

Each file is one ``stored_files`` row (PostgreSQL ``bytea``, SQLite ``BLOB``). Writes go
through the caller's session, so a file and the row that names it (an ``Evidence``) commit or
roll back together: no orphan files after a failed upload, unlike a folder. Reads are streamed
in ``CHUNK_SIZE`` slices with ``substr`` (which both databases apply to binary values), so
serving a 12 MB photo never holds it whole in a worker.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from audit.extensions import db
from audit.models import StoredFile, utcnow
from audit.storage import CHUNK_SIZE, StorageError, check_key


class DatabaseStorage:
    """The ``Storage`` interface over the ``stored_files`` table."""

    def __init__(self, chunk_size: int = CHUNK_SIZE):
        self.chunk_size = chunk_size

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` once (in the caller's transaction); never overwrites."""
        check_key(key)
        try:
            with db.session.begin_nested():
                db.session.execute(insert(StoredFile).values(key=key, size=len(data), data=data,
                                                             created_at=utcnow()))
        except IntegrityError as exc:
            raise StorageError(f"{key} exists already: originals are immutable") from exc

    def _size(self, key: str) -> int:
        size = db.session.scalar(select(StoredFile.size).where(StoredFile.key == check_key(key)))
        if size is None:
            raise StorageError(f"{key} is missing from storage")
        return size

    def exists(self, key: str) -> bool:
        return db.session.scalar(select(StoredFile.key).where(StoredFile.key == check_key(key))) is not None

    def stream(self, key: str) -> Iterator[bytes]:
        """The file in chunks; StorageError at once (not mid-stream) when it is missing."""
        size = self._size(key)

        def chunks() -> Iterator[bytes]:
            for start in range(0, size, self.chunk_size):
                # substr counts from 1 on both PostgreSQL (bytea) and SQLite (BLOB).
                yield bytes(db.session.scalar(
                    select(func.substr(StoredFile.data, start + 1, self.chunk_size))
                    .where(StoredFile.key == key)))

        return chunks()

    def get(self, key: str) -> bytes:
        """The whole file (thumbnails for PDFs; pages stream with ``stream``)."""
        return b"".join(self.stream(key))
