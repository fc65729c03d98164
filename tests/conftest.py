"""Shared fixtures: app on a throw-away database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
client, login helper, query counter and factories.

Every app built here uses a test client that validates each ``/api/`` response against the
served OpenAPI document (tests/api_contract.py), fetched once per session.

The schema is created once per session; after every test all rows are deleted, so each test
starts from an empty database without paying for CREATE TABLE each time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os

import pytest
from sqlalchemy import event

from audit import create_app
from audit.extensions import db
from tests import factories
from tests.api_contract import ApiContract, ValidatingClient

FIXED_NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


def database_url(tmp_dir) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_dir}/test.db"


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL run skips the browser tests: what they prove (the page's scripts, touch,
    offline behaviour) does not depend on the database, and the same saves and pages are
    tested on PostgreSQL through the server's own tests. They run in ``make test``."""
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="browser test: the database does not change what it proves; "
                                   "it runs in the SQLite run (make test)")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    url = database_url(tmp_path_factory.mktemp("db"))
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return url


#: PostgreSQL: every sequence used since it was last reset back to 1, as TRUNCATE ... RESTART
#: IDENTITY would (pg_sequences shows NULL for a sequence not used since). A table a test
#: emptied itself still moved its ids.
_RESET_USED_SEQUENCES = """
SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, 1, false)
FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL
"""


def _postgres_tables_with_rows(conn) -> set[str]:
    """The tables holding rows, in one statement (an EXISTS per table)."""
    names = [t.name for t in db.metadata.sorted_tables]
    probe = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names)
    return {row[0] for row in conn.exec_driver_sql(probe)}


def _empty_all_tables() -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # TRUNCATE of all 63 tables cost ~130 ms after every test (it replaces each
            # table's files), over two minutes of the PostgreSQL run. A test leaves rows in a
            # few tables: delete those, children first, and restart the ids it used.
            with_rows = _postgres_tables_with_rows(conn)
            for table in reversed(db.metadata.sorted_tables):
                if table.name in with_rows:
                    conn.execute(table.delete())
            conn.exec_driver_sql(_RESET_USED_SEQUENCES)
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def api_contract(db_url) -> ApiContract:
    """The OpenAPI document as the app serves it, fetched once by a throw-away logged-in user."""
    from audit.models import Role

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": db_url})
    with app.app_context():
        try:
            user = factories.user(roles=(Role.VIEWER,))
            db.session.commit()
            client = app.test_client()
            assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
            response = client.get("/api/openapi.json")
            assert response.status_code == 200, response.data[:500]
            document = response.get_json()
        finally:
            db.session.remove()
            _empty_all_tables()
            db.engine.dispose()
    return ApiContract(document)


@pytest.fixture
def app(db_url, tmp_path, api_contract):
    """A fresh application on the test database; rows are wiped afterwards."""
    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": db_url, "STORAGE_PATH": str(tmp_path / "storage")},
    )
    app.test_client_class = type("ContractClient", (ValidatingClient,), {"contract": api_contract})
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()
        ctx.pop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def now():
    """A fixed clock for services and jobs."""
    return FIXED_NOW


@pytest.fixture
def login(client):
    """Log ``user`` in through the real login form; returns the client."""

    def _login(user, password: str = factories.PASSWORD):
        db.session.commit()  # the request runs in its own session: make the user visible
        client.post("/logout")
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.data[:500]
        return client

    return _login


class QueryCounter:
    """Counts SQL statements sent to the database while active."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Context manager yielding a QueryCounter: ``with count_queries() as q: ...; q.count``."""

    @contextlib.contextmanager
    def _count():
        counter = QueryCounter()

        def _on_execute(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")):
                counter.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", _on_execute)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", _on_execute)

    return _count


@pytest.fixture
def sqlite_trace(app):
    """Context manager yielding the statements SQLite itself runs meanwhile, upper-cased, on
    every connection checked out from the pool inside the block -- including the BEGIN and
    COMMIT the application sends straight to the driver, which SQLAlchemy's events never see.
    SQLite only: on another database the list stays empty."""

    @contextlib.contextmanager
    def _trace():
        sent: list[str] = []

        def _on_checkout(dbapi_connection, _record, _proxy):
            if hasattr(dbapi_connection, "set_trace_callback"):
                dbapi_connection.set_trace_callback(lambda s: sent.append(s.lstrip().upper()))

        def _on_checkin(dbapi_connection, _record):
            if hasattr(dbapi_connection, "set_trace_callback"):
                dbapi_connection.set_trace_callback(None)

        event.listen(db.engine, "checkout", _on_checkout)
        event.listen(db.engine, "checkin", _on_checkin)
        try:
            yield sent
        finally:
            event.remove(db.engine, "checkout", _on_checkout)
            event.remove(db.engine, "checkin", _on_checkin)

    return _trace


@pytest.fixture
def library(app, now):
    """The shipped ISO clause library, loaded."""
    from audit.library.services import load_library_file

    standards = {s.code: s for s in load_library_file(now=now)}
    db.session.commit()
    return standards


@pytest.fixture
def make():
    """The factories module: ``make.user(...)``, ``make.site(...)`` ..."""
    return factories
