"""A web worker imports only what requests need (issue 16 item 6: lean workers).

Flask-Migrate pulls in Alembic and Mako (~10 MB per worker); only the ``flask db`` commands and
the tests need them, so ``create_app`` binds Flask-Migrate only there. These tests import the
WSGI entry point in a fresh interpreter, as gunicorn does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_ONLY = ("alembic", "mako", "flask_migrate")


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "TEST_"))}
    env.update({"AUDIT_CONFIG": "development", "AUDIT_SECRET_KEY": "lean-worker-test-secret-0123456789",
                "DATABASE_URL": f"sqlite:///{tmp_path}/lean.db", "AUDIT_INSTANCE_PATH": str(tmp_path),
                "AUDIT_SCHEDULER_IN_PROCESS": "false"})
    return env


def test_importing_the_wsgi_app_imports_no_cli_only_package(tmp_path):
    """``import app`` (gunicorn's ``app:app``) leaves Alembic, Mako and Flask-Migrate unloaded."""
    code = ("import json, sys, app; "
            f"print(json.dumps([m for m in {CLI_ONLY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_flask_cli_still_has_the_migration_commands(tmp_path):
    """``flask db upgrade`` works: the CLI binds Flask-Migrate when it loads the app."""
    flask = Path(sys.executable).parent / "flask"
    done = subprocess.run([str(flask), "--app", "app", "db", "upgrade"], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "lean.db").stat().st_size > 0
