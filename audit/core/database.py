"""Engine set-up: SQLite pragmas and explicit transaction starts; PostgreSQL reads that keep
their prepared statements.

SQLite's Python driver starts transactions lazily and with a plain deferred BEGIN, which fails
with "database is locked" when two workers upgrade their read locks to write locks at once,
even with a busy timeout. We take over BEGIN (SQLAlchemy's documented recipe) and issue
``BEGIN IMMEDIATE`` for transactions that may write, so writers queue on the busy timeout
instead of failing; read-only requests keep a deferred BEGIN and never block anyone under WAL.

On PostgreSQL, psycopg prepares a statement once a connection has run it five times, so the
server stops planning it again (planning the findings list's six-table join costs ~1 ms, its
execution ~0.2 ms) -- but psycopg forgets every prepared statement on ROLLBACK, and a request
ends its transaction by rolling it back. A transaction that wrote nothing ends with COMMIT
instead (for a read the two are the same), so a page's statements stay prepared (issue 16).
"""

from __future__ import annotations

import contextlib
import contextvars
import re

from flask import Flask, request
from sqlalchemy import event

from audit.extensions import db

#: False inside requests that promise not to write (GET/HEAD/OPTIONS): a deferred BEGIN suffices.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)

SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Where a request keeps the token that ends its write intent (``configure_engines``).
_WRITE_INTENT_TOKEN = "audit.write_intent_token"


@contextlib.contextmanager
def writing():
    """Declare that the transaction begun inside this block writes (``BEGIN IMMEDIATE`` on
    SQLite), for a short write a read-only request makes after ending its read transaction.

    Upgrading a deferred read transaction to a write fails at once ("database is locked") when
    another connection committed since it began; a fresh immediate one waits its turn instead.
    """
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextlib.contextmanager
def reading():
    """Declare that the transaction begun inside this block only reads (a deferred BEGIN)."""
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


def short_transactions(view):
    """Mark a writing view that reads in a deferred transaction and writes in ``writing()``
    blocks of its own, so SQLite's write lock is held only around its writes (issue 16).

    Without the mark a POST/PUT begins ``BEGIN IMMEDIATE`` at its first statement (the
    session's user), holding the lock for the whole request.
    """
    view.short_transactions = True
    return view


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session loaded: the rows stay usable without a reload.

    For a read transaction that ends before a request writes on (a feed poll's bookkeeping),
    and for a request's last write (the answer save), where expiring the user and rows it
    read would only cost a walk over the identity map.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def begin_writing() -> None:
    """End the request's read and begin its write, on the connection the read used.

    For a ``short_transactions`` view between its reads and its writes: what the read loaded
    stays usable and, unlike a commit followed by ``writing()``, the connection is neither
    returned to the pool nor checked out again (that round cost ~55 µs of an answer save's
    ~1 ms of CPU, issue 16). On SQLite the driver is told COMMIT then ``BEGIN IMMEDIATE``
    directly: the session's transaction carries on around it and its COMMIT or ROLLBACK ends
    the write. On PostgreSQL nothing is sent: a read holds no lock there, so the write simply
    continues the read's transaction. Either way the writes must be conditional on what was
    read (a version column), since another request may have written in between.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        driver.execute("COMMIT")
        driver.execute("BEGIN IMMEDIATE")


def configure_engines(app: Flask) -> None:
    """Attach dialect-specific hooks to the app's engine(s)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)

        @app.before_request
        def _declare_write_intent():
            view = app.view_functions.get(request.endpoint) if request.endpoint else None
            writes = request.method not in ("GET", "HEAD", "OPTIONS")
            request.environ[_WRITE_INTENT_TOKEN] = write_intent.set(
                writes and not getattr(view, "short_transactions", False))

        @app.teardown_request
        def _end_write_intent(_exc):
            # The thread (a worker's, a test's) carries on after the request: what it does next
            # must not inherit a read-only request's deferred BEGIN. Kept in the request's own
            # environ, not ``g``: a test's outer app context shares one ``g`` between requests.
            token = request.environ.pop(_WRITE_INTENT_TOKEN, None)
            if token is not None:
                write_intent.reset(token)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(app, engine)


def _configure_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let us emit BEGIN ourselves (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Straight to the driver: through ``exec_driver_sql`` the BEGIN cost as much CPU as a
        # whole SELECT (an execution context and its events), twice in an answer save.
        connection.connection.driver_connection.execute(
            "BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


#: Statements after which COMMIT and ROLLBACK differ; anything but a plain SELECT counts.
_READ_ONLY_STATEMENT = re.compile(r"\s*SELECT\b", re.IGNORECASE)
#: ``Connection.info`` key: this transaction sent a statement that may have written.
_WROTE = "audit.wrote"
#: ``Session.info`` key: the connection the session's current transaction runs on.
_READ_CONNECTION = "audit.read_connection"


def _configure_postgresql(app: Flask, engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.info[_WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(connection, _cursor, statement, _parameters, _context, _executemany):
        if not connection.info.get(_WROTE) and not _READ_ONLY_STATEMENT.match(statement):
            connection.info[_WROTE] = True

    @event.listens_for(db.session, "after_begin")
    def _remember_connection(session, _transaction, connection):
        session.info[_READ_CONNECTION] = connection

    # Registered after Flask-SQLAlchemy's own teardown, so it runs before the session is removed.
    app.teardown_appcontext(_commit_reads)


def _commit_reads(exc: BaseException | None) -> None:
    """End a request's read-only transaction with COMMIT, keeping psycopg's prepared statements.

    Anything else -- an error, unflushed changes, a statement that may have written -- is
    left to the usual rollback.
    """
    if exc is not None or not db.session.registry.has():
        return
    session = db.session()
    connection = session.info.pop(_READ_CONNECTION, None)
    if (connection is None or connection.closed or connection.info.get(_WROTE, True)
            or not session.in_transaction() or session.new or session.dirty or session.deleted):
        return
    try:
        session.commit()
    except Exception:  # noqa: BLE001 - the read is over; the teardown's rollback cleans up
        session.rollback()
