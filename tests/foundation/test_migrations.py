"""Migrations build the schema from nothing and match the models (no pending autogenerate diff)."""

from __future__ import annotations

import logging
import os
import uuid
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from audit import create_app
from audit.extensions import db

PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


#: Indexes on expressions, which Alembic cannot compare (the database hands back its own
#: spelling of the expression, or nothing on SQLite): ``test_expression_indexes_exist_and_serve``
#: checks them instead.
EXPRESSION_INDEXES = {"ix_audits_programme_day"}


def _compared(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _migrate_and_compare(url: str) -> list:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"render_as_batch": True, "include_object": _compared}), db.metadata)
            expression_indexes = _index_names(conn) & EXPRESSION_INDEXES
        downgrade(revision="base")
        with db.engine.connect() as conn:
            remaining = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    assert remaining == set(), f"downgrade left tables behind: {remaining}"
    assert expression_indexes == EXPRESSION_INDEXES, "a migration lost an expression index"
    return diff


def _index_names(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        return {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return {r[0] for r in conn.exec_driver_sql("SELECT indexname FROM pg_indexes")}


def test_expression_indexes_exist_and_serve(tmp_path):
    """The programme page's day index serves its paging and its count of audits before today:
    the queries render the index's very expression (``models.audit.audit_day``), or SQLite
    would sort every audit of the programme again (only the page's own 50 rows may be sorted)."""
    from audit.programme import queries

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/plan.db"})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            for statement in (queries._PAGE_IDS, queries._AUDITS_BEFORE):
                compiled = statement.compile(conn)
                params = {name: 1 for name in compiled.params}
                params["day"] = "2026-01-01"
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled.string}",
                    tuple(params[name] for name in compiled.positiontup)))
                assert "ix_audits_programme_day" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
        db.engine.dispose()


def test_migrating_in_process_leaves_existing_loggers_enabled(tmp_path):
    """Alembic's logging set-up must not silence the loggers a process already has: it once
    disabled werkzeug's request log, so a later test of that log saw nothing."""
    existing = [logging.getLogger(name) for name in ("werkzeug", "audit", "audit.calendar")]
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/logs.db"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert [logger.name for logger in existing if logger.disabled] == []


def test_sqlite_migrations_match_models(tmp_path):
    """On an empty SQLite file, upgrade head yields exactly the models' schema, and downgrades."""
    assert _migrate_and_compare(f"sqlite:///{tmp_path}/migrated.db") == []


@pytest.fixture
def scratch_postgres():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    name = f"audit_migrations_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_postgresql_migrations_match_models(scratch_postgres):
    """On an empty PostgreSQL database, upgrade head yields exactly the models' schema."""
    assert _migrate_and_compare(scratch_postgres) == []
