"""Migrations build the schema from nothing and match the models (no pending autogenerate diff)."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from audit import create_app
from audit.extensions import db

PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _migrate_and_compare(url: str) -> list:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"render_as_batch": True}),
                                    db.metadata)
        downgrade(revision="base")
        with db.engine.connect() as conn:
            remaining = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    assert remaining == set(), f"downgrade left tables behind: {remaining}"
    return diff


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
