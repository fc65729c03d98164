"""Calendar feeds polled while 16 tablets save answers: every poll answers, none fails.

Issue 16 found 125 of 131 polls of a stale feed answering 500 "database is locked" on SQLite
while four clients saved answers: the feed GET wrote its token's bookkeeping inside the read
transaction. Here a live gunicorn (4 workers) serves 16 tablets saving answers for
``FEED_LOAD_SECONDS`` while a poller fetches a programme feed and a personal feed without a
validator, with the current ETag and with a stale one, as calendar clients do. Every poll must
answer 200 or 304 with the right body, and every acknowledged save must be stored once.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

import pytest

from bench.harness import request
from tests.reliability.live import (
    answer_targets,
    build_live_database,
    check_nothing_lost,
    run_tablets,
    server,
)
from tests.reliability.test_load_and_faults import _kinds

FEED_LOAD_SECONDS = float(os.environ.get("RELIABILITY_FEED_SECONDS", "8"))
TABLETS = 16

pytestmark = [pytest.mark.slow]


def _feed_paths(live) -> list[str]:
    """A programme feed of a coordinator and the personal feed of a team auditor."""
    from sqlalchemy import func, select

    from audit.calendar.services import create_token, feed_path
    from audit.extensions import db
    from audit.models import Audit, AuditTeamMember, FeedKind, Role, User, UserRole

    app = live.app()
    paths = []
    with app.app_context():
        now = dt.datetime.now(dt.UTC)
        coordinator = db.session.scalar(select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR)
                                        .order_by(User.id).limit(1))
        programme_id = db.session.scalar(select(Audit.programme_id).where(Audit.programme_id.is_not(None))
                                         .group_by(Audit.programme_id).order_by(func.count().desc()).limit(1))
        auditor = db.session.scalar(select(User).join(AuditTeamMember, AuditTeamMember.user_id == User.id)
                                    .order_by(User.id).limit(1))
        for owner, kind, target in ((coordinator, FeedKind.PROGRAMME, programme_id),
                                    (auditor, FeedKind.PERSONAL, None)):
            _token, secret = create_token(owner, kind, target, "load test", actor=owner, now=now)
            paths.append(feed_path(secret))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return paths


@pytest.fixture(params=_kinds())
def live(request, tmp_path_factory):
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"feeds-{kind}")
    return build_live_database(kind, tmp, f"feeds_{kind}"), tmp


def test_feed_polls_never_fail_during_sixteen_client_saves(live):
    live, tmp_path = live
    targets = answer_targets(live)
    if not targets:
        pytest.skip("the demo data has no open audit whose checklist a team auditor may answer")
    paths = _feed_paths(live)
    polls: list[tuple[str, int, bytes]] = []
    with server(live, tmp_path) as srv:
        etags = {p: request(srv.port, "GET", p)[1].get("etag", "") for p in paths}

        def poll():
            stop = time.monotonic() + FEED_LOAD_SECONDS
            n = 0
            while time.monotonic() < stop:
                path = paths[n % len(paths)]
                # plain, conditional with the current ETag, conditional with a stale one
                headers = [{}, {"If-None-Match": etags[path]}, {"If-None-Match": '"stale"'}][n // 2 % 3]
                status, got, body = request(srv.port, "GET", path, headers=headers)
                if status == 200:
                    etags[path] = got.get("etag", etags[path])
                polls.append((path, status, body))
                n += 1

        poller = threading.Thread(target=poll, daemon=True)
        clients = run_tablets(srv.port, targets, tablets=TABLETS, seconds=FEED_LOAD_SECONDS,
                              during=poller.start)
        poller.join(FEED_LOAD_SECONDS + 60)
    failed = [(p, s, b[:200]) for p, s, b in polls if s not in (200, 304)
              or (s == 200 and not b.startswith(b"BEGIN:VCALENDAR"))]
    assert not failed, f"{len(failed)} of {len(polls)} polls failed: {failed[:5]}"
    assert len(polls) >= 10, f"only {len(polls)} polls in {FEED_LOAD_SECONDS}s"
    assert {s for _p, s, _b in polls} == {200, 304}, "both full answers and 304s were exercised"
    report = check_nothing_lost(live, clients)
    assert not report["problems"], "\n".join(report["problems"][:30])
    assert report["saves"] >= len(clients), f"only {report['saves']} saves acknowledged"
