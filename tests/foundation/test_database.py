"""Database set-up: SQLite pragmas and write transactions that queue instead of failing."""

import threading

import pytest
from sqlalchemy import bindparam, event, func, select, text

from audit.extensions import db
from audit.models import Site
from tests import factories


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


def _postgresql_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements and COMMIT-ended reads are PostgreSQL's")


def test_postgresql_reads_end_with_commit_so_prepared_statements_survive(app):
    """A request-like context that only read ends its transaction with COMMIT, so psycopg
    keeps the statements it prepared (a ROLLBACK makes it forget them all)."""
    _postgresql_only()
    site_id = factories.site(name="Prepared").id
    db.session.commit()
    db.session.remove()
    db.engine.dispose()  # from here on one connection serves every context, one at a time
    endings: list[str] = []
    event.listen(db.engine, "commit", lambda _conn: endings.append("commit"))
    event.listen(db.engine, "rollback", lambda _conn: endings.append("rollback"))

    statement = select(Site.name).where(Site.id == bindparam("site_id"))
    for _ in range(7):  # psycopg prepares a statement on its sixth run by default
        with app.app_context():
            assert db.session.scalar(statement, {"site_id": site_id}) == "Prepared"
    with app.app_context():
        db.session.scalar(statement, {"site_id": site_id})
        prepared = db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
    assert set(endings) == {"commit"}
    assert prepared >= 1


def test_postgresql_contexts_that_change_rows_still_roll_back(app):
    """Unflushed changes, flushed but uncommitted writes and errors are rolled back as before:
    only a transaction that sent nothing but SELECTs is committed at the end."""
    _postgresql_only()
    endings: list[str] = []
    event.listen(db.engine, "commit", lambda _conn: endings.append("commit"))
    event.listen(db.engine, "rollback", lambda _conn: endings.append("rollback"))

    with app.app_context():  # read, then a change left pending
        db.session.scalar(select(func.count(Site.id)))
        db.session.add(Site(name="Pending", code="PEND", timezone="UTC"))
    with app.app_context():  # a write flushed but never committed
        db.session.add(Site(name="Flushed", code="FLSH", timezone="UTC"))
        db.session.flush()
    with pytest.raises(RuntimeError), app.app_context():  # a read that failed
        db.session.scalar(select(func.count(Site.id)))
        raise RuntimeError("the view failed")

    assert endings == ["rollback", "rollback", "rollback"]
    assert db.session.scalar(select(func.count(Site.id))) == 0


def test_the_suite_cleanup_empties_what_a_test_touched_and_restarts_its_ids(app):
    """Every test starts from an empty database whose ids start at 1 (tests/conftest.py): the
    PostgreSQL cleanup deletes the rows of the tables holding any and restarts every sequence
    used, including that of a table the test emptied itself (its ids moved all the same)."""
    from tests.conftest import _empty_all_tables

    factories.user()  # a table left with rows
    gone = factories.site(name="Short-lived")  # and one left empty, its ids used
    db.session.commit()
    db.session.delete(gone)
    db.session.commit()
    db.session.remove()
    _empty_all_tables()
    with db.engine.connect() as conn:
        left = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in db.metadata.sorted_tables}
    assert {name: n for name, n in left.items() if n} == {}
    assert factories.site(name="First again").id == 1
    assert factories.user().id == 1


def test_a_read_only_request_leaves_the_thread_writing_as_before(app, client):
    """A GET declares a deferred BEGIN for itself only: the thread that served it (a worker's, a
    test's) begins its next transaction outside a request ``BEGIN IMMEDIATE`` again."""
    from audit.core.database import write_intent

    if db.engine.dialect.name != "sqlite":
        pytest.skip("write intent is SQLite's: PostgreSQL reads take no lock")
    assert write_intent.get() is True
    assert client.get("/healthz").status_code == 200
    assert write_intent.get() is True
