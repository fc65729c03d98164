"""Load and faults against a live gunicorn: nothing acknowledged is lost, nothing is duplicated.

50 simulated tablets save answers through the JSON API on SQLite and on PostgreSQL with several
workers. ``RELIABILITY_LOAD_SECONDS`` sets the load duration (default 15 s to keep CI bounded;
``make bench`` and the README use 60). Faults: a worker killed mid-run, every database
connection terminated mid-run (PostgreSQL), tablets whose connection is cut mid-request and
who then replay their mutation ids, and the scheduler killed mid-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.reliability.live import (
    answer_targets,
    build_live_database,
    check_nothing_lost,
    run_tablets,
    server,
)

LOAD_SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "15"))
FAULT_SECONDS = float(os.environ.get("RELIABILITY_FAULT_SECONDS", "8"))
TABLETS = int(os.environ.get("RELIABILITY_TABLETS", "50"))

pytestmark = [pytest.mark.slow]


def _kinds():
    """The suite's own database kind (CI runs the suite once per database), or both on request."""
    on_pg = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
    both = os.environ.get("RELIABILITY_ALL_DATABASES") == "1"
    kinds = []
    if both or not on_pg:
        kinds.append(pytest.param("sqlite", id="sqlite"))
    if both or on_pg:
        kinds.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return kinds


@pytest.fixture(scope="module", params=_kinds())
def live(request, tmp_path_factory):
    """One live database per kind for this module: built once, shared by the tests below.

    Sharing is safe: every check counts saves relative to the versions a tablet saw at login.
    """
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"live-{kind}")
    db = build_live_database(kind, tmp, f"live_{kind}")
    return db, tmp


def _targets(live_db):
    targets = answer_targets(live_db)
    if not targets:
        pytest.skip("not available yet: the demo data has no open audit whose checklist a team auditor may answer")
    return targets


def _assert_clean(report, clients, *, min_saves: int = 1):
    assert not report["problems"], "\n".join(report["problems"][:30])
    assert report["saves"] >= min_saves, f"only {report['saves']} saves acknowledged"


def test_fifty_tablets_lose_no_write(live):
    """50 tablets saving for LOAD_SECONDS: zero errors, and every acknowledged save is stored exactly once."""
    live, tmp_path = live
    kind, targets = live.kind, _targets(live)
    with server(live, tmp_path) as srv:
        clients = run_tablets(srv.port, targets, tablets=TABLETS, seconds=LOAD_SECONDS)
    report = check_nothing_lost(live, clients)
    unknown = sum(c.saves for c in clients) - report["saves"]
    _assert_clean(report, clients, min_saves=len(clients))
    assert unknown == 0, f"{unknown} saves needed a replay without any fault injected"
    print(f"\n{kind}: {len(clients)} tablets, {report['saves']} acknowledged saves in {LOAD_SECONDS:.0f}s, "
          f"all counted in the database")


def test_killed_worker_and_cut_connections_lose_nothing(live):
    """A gunicorn worker SIGKILLed mid-run and tablets cut mid-request: replays apply once, nothing acknowledged is lost."""
    live, tmp_path = live
    targets = _targets(live)
    with server(live, tmp_path) as srv:

        def kill_workers():
            for _ in range(2):
                time.sleep(FAULT_SECONDS / 3)
                pids = srv.worker_pids()
                assert pids, "no gunicorn workers found"
                os.kill(pids[0], signal.SIGKILL)

        clients = run_tablets(srv.port, targets, tablets=min(TABLETS, 20), seconds=FAULT_SECONDS,
                              during=kill_workers, cut_every=4)
        assert srv.proc.poll() is None, "the gunicorn master died"
    report = check_nothing_lost(live, clients)
    _assert_clean(report, clients, min_saves=len(clients))


def test_database_connections_terminated_mid_run(live):
    """Every PostgreSQL backend of the app terminated twice mid-run: the app recovers and nothing acknowledged is lost."""
    live, tmp_path = live
    if live.kind != "postgresql":
        pytest.skip("SQLite has no server to restart: PostgreSQL only")
    import psycopg

    targets = _targets(live)
    name = live.url.rsplit("/", 1)[1]
    with server(live, tmp_path) as srv:

        def terminate_backends():
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                for _ in range(2):
                    time.sleep(FAULT_SECONDS / 3)
                    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

        clients = run_tablets(srv.port, targets, tablets=min(TABLETS, 20), seconds=FAULT_SECONDS,
                              during=terminate_backends)
        # After the fault the application answers normally again.
        from bench.harness import request

        assert request(srv.port, "GET", "/healthz")[0] == 200
    report = check_nothing_lost(live, clients)
    _assert_clean(report, clients, min_saves=len(clients))


def test_killed_scheduler_doubles_nothing(live):
    """The scheduler SIGKILLed mid-run and restarted: its sweeps leave each notification exactly once."""
    live, tmp_path = live
    from audit import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": live.url})
    if "scheduler" not in app.cli.commands:
        pytest.skip("not available yet: no `flask scheduler` command")
    cmd = [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run"]
    env = live.env()
    log = open(tmp_path / "scheduler.log", "w")  # noqa: SIM115 - closed below
    try:
        first = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2.5)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            counts = _notification_counts(live)
            deadline = time.monotonic() + 12
            stable = 0
            while time.monotonic() < deadline and stable < 3:
                time.sleep(1)
                again = _notification_counts(live)
                stable = stable + 1 if again == counts else 0
                counts = again
            assert second.poll() is None, (tmp_path / "scheduler.log").read_text()[-2000:]
        finally:
            second.terminate()
            second.wait(10)
    finally:
        log.close()
    assert counts["duplicates"] == [], f"notifications sent twice: {counts['duplicates'][:10]}"


def _notification_counts(live) -> dict:
    from sqlalchemy import func, select

    from audit.extensions import db
    from audit.models import Notification

    app = live.app()
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Notification))
        dupes = db.session.execute(
            select(Notification.user_id, Notification.dedupe_key, func.count())
            .where(Notification.dedupe_key.is_not(None))
            .group_by(Notification.user_id, Notification.dedupe_key).having(func.count() > 1)
        ).all()
        db.engine.dispose()
    return {"total": total, "duplicates": [tuple(d) for d in dupes]}
