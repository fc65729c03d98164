"""Database set-up: SQLite pragmas and write transactions that queue instead of failing."""

import threading

from sqlalchemy import func, select

from audit.extensions import db
from audit.models import Site


def test_sqlite_pragmas(app):
    """SQLite runs in WAL mode with foreign keys and a busy timeout."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_concurrent_read_then_write_transactions_all_commit(app):
    """Eight workers that read and then write at once all succeed (no 'database is locked')."""
    errors: list[Exception] = []

    def worker(n: int) -> None:
        with app.app_context():
            try:
                for i in range(5):
                    count = db.session.scalar(select(func.count(Site.id)))
                    db.session.add(Site(name=f"W{n}-{i}", code=f"W{n}{i}", timezone="UTC",
                                        address=str(count)))
                    db.session.commit()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert db.session.scalar(select(func.count(Site.id))) == 40
