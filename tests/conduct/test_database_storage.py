"""The database storage backend: files in ``stored_files``, streamed in slices, committed with
their evidence row, chosen by ``STORAGE_BACKEND`` (issue 16 item 7)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from audit.extensions import db
from audit.models import Evidence, StoredFile
from audit.storage import StorageError, get_storage
from audit.storage.database import DatabaseStorage
from tests.conduct.conftest import jpeg_bytes
from tests.conduct.test_evidence import _upload


@pytest.fixture
def in_database(app):
    app.config["STORAGE_BACKEND"] = "database"
    yield
    app.config["STORAGE_BACKEND"] = "filesystem"


def test_files_round_trip_in_slices(app):
    """A file larger than a slice comes back byte for byte, in slices of the chunk size."""
    storage = DatabaseStorage(chunk_size=1000)
    data = os.urandom(2500)
    storage.put("evidence/1/abc.jpg", data)
    assert storage.exists("evidence/1/abc.jpg") and not storage.exists("evidence/1/other.jpg")
    assert [len(c) for c in storage.stream("evidence/1/abc.jpg")] == [1000, 1000, 500]
    assert storage.get("evidence/1/abc.jpg") == data


def test_originals_are_immutable_and_keys_checked(app):
    """Writing a key twice, reading a missing key or using a path-like key is a StorageError."""
    storage = DatabaseStorage()
    storage.put("evidence/1/a.jpg", b"first")
    with pytest.raises(StorageError, match="immutable"):
        storage.put("evidence/1/a.jpg", b"second")
    assert storage.get("evidence/1/a.jpg") == b"first"
    with pytest.raises(StorageError, match="missing"):
        storage.stream("evidence/1/none.jpg")
    with pytest.raises(StorageError, match="invalid"):
        storage.put("../etc/passwd", b"x")


def test_configuration_selects_the_backend(app, in_database):
    """STORAGE_BACKEND picks the database backend; an unknown name is refused by name."""
    assert isinstance(get_storage(), DatabaseStorage)
    app.config["STORAGE_BACKEND"] = "s3"
    with pytest.raises(StorageError, match="unknown storage backend 's3'"):
        get_storage()


def test_evidence_upload_and_download_through_the_database(login, setup, app, in_database):
    """An uploaded photo and its thumbnail land in stored_files (nothing on disk) and are served back."""
    client = login(setup.auditor)
    photo = jpeg_bytes((900, 600))
    response = _upload(client, setup, photo)
    assert response.status_code == 201, response.json
    evidence = db.session.get(Evidence, response.json["evidence"]["id"])
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 2
    assert not os.path.exists(os.path.join(app.config["STORAGE_PATH"], evidence.storage_key))
    with client.get(f"/evidence/{evidence.id}") as original:
        assert original.status_code == 200 and original.data == photo
    with client.get(f"/evidence/{evidence.id}/thumbnail") as thumb:
        assert thumb.mimetype == "image/jpeg" and thumb.data[:3] == b"\xff\xd8\xff"


def test_a_file_rolls_back_with_its_transaction(app):
    """A file is written in the caller's transaction: when the upload fails later and rolls
    back, the file goes too (a folder would keep an orphan)."""
    storage = DatabaseStorage()
    storage.put("evidence/2/kept.jpg", b"kept")
    db.session.commit()
    storage.put("evidence/2/lost.jpg", b"lost")
    db.session.rollback()
    assert storage.exists("evidence/2/kept.jpg") and not storage.exists("evidence/2/lost.jpg")
