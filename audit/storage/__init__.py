"""Evidence and report files behind one small storage interface.

The default backend is a folder under ``instance/`` (config ``STORAGE_PATH``). Several app
servers need storage they all see: ``STORAGE_BACKEND = "database"`` keeps the files in the
database (``audit/storage/database.py``). Keys are made by the server, never taken from a
request, so no user-supplied path ever reaches the file system. Originals are written once and
never overwritten; thumbnails are derived from them.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from flask import current_app

_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9/_.-]{0,199}$")

#: (magic prefix, offset, content type, extension). Checked against the bytes, not the name.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
)

EXTENSIONS = {ctype: ext for _m, _o, ctype, ext in _SIGNATURES}


def sniff_content_type(data: bytes) -> str | None:
    """The content type recognised from the first bytes of ``data``, or None."""
    for magic, offset, ctype, _ext in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if ctype == "image/webp" and data[:4] != b"RIFF":
                continue
            return ctype
    return None


class StorageError(RuntimeError):
    """The storage backend refused a key or lost a file."""


class Storage(Protocol):
    """What every backend offers."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def stream(self, key: str) -> Iterator[bytes]: ...


#: Bytes per chunk when a file is streamed to a client.
CHUNK_SIZE = 256 * 1024


def check_key(key: str) -> str:
    """``key`` when it has the shape the server makes, else StorageError."""
    if not _KEY_PATTERN.match(key) or ".." in key:
        raise StorageError(f"invalid storage key {key!r}")
    return key


def new_key(prefix: str, extension: str) -> str:
    """A fresh, unguessable key such as ``evidence/12/3f9c….jpg``."""
    return f"{prefix}/{secrets.token_hex(16)}.{extension}"


class FileSystemStorage:
    """Files in a folder; keys map to relative paths that never leave it."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"invalid storage key {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key`` once; an existing key is never overwritten."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "xb") as fh:
                fh.write(data)
        except FileExistsError as exc:
            raise StorageError(f"{key} exists already: originals are immutable") from exc
        path.chmod(0o440)

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"{key} is missing from storage") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def stream(self, key: str) -> Iterator[bytes]:
        """The file in chunks; StorageError at once (not mid-stream) when it is missing."""
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise StorageError(f"{key} is missing from storage") from exc

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK_SIZE):
                    yield chunk

        return chunks()


def get_storage() -> Storage:
    """The configured backend for the current application (``STORAGE_BACKEND``)."""
    backend = current_app.config.get("STORAGE_BACKEND", "filesystem")
    if backend == "database":
        from audit.storage.database import DatabaseStorage

        return DatabaseStorage()
    if backend != "filesystem":
        raise StorageError(f"unknown storage backend {backend!r}: use filesystem or database")
    root = current_app.config.get("STORAGE_PATH") or os.path.join(current_app.instance_path, "storage")
    return FileSystemStorage(root)
