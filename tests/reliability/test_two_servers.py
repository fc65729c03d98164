"""Two app servers on one PostgreSQL database (issue 16 item 7).

Two gunicorn instances with different instance folders (nothing shared on disk) and
``STORAGE_BACKEND=database``: evidence uploaded through one is served by the other, a session
opened on one is valid on the other, and of two schedulers only the lease holder sends mail.
Skipped, with the reason, when PostgreSQL on 127.0.0.1:5432 does not answer.
"""

from __future__ import annotations

import json
import re
import socketserver
import subprocess
import sys
import threading
import time
import uuid

import pytest

from bench.harness import Server
from tests.conduct.conftest import jpeg_bytes
from tests.reliability.live import _demo_password, answer_targets, build_live_database, require_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class _SmtpSink(socketserver.ThreadingTCPServer):
    """The least SMTP server smtplib talks to: records every message it is given."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.messages: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _SmtpHandler)


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 sink\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data)
                self.server.messages.append(b"".join(body))
                self.wfile.write(b"250 kept\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One PostgreSQL database with the demo organisation, and the env of each of two servers."""
    require_postgres()
    tmp = tmp_path_factory.mktemp("two-servers")
    live = build_live_database("postgresql", tmp, "perf_two_servers")
    envs = []
    for name in ("a", "b"):
        folder = tmp / f"instance-{name}"
        folder.mkdir()
        env = live.env()
        env.update({"AUDIT_INSTANCE_PATH": str(folder), "AUDIT_STORAGE_BACKEND": "database"})
        envs.append(env)
    return live, envs, tmp


def _multipart(fields: dict, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + file_bytes + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_evidence_and_sessions_cross_servers(shared):
    """A photo uploaded through server A is served by server B, to the session opened on A."""
    live, (env_a, env_b), tmp = shared
    target = answer_targets(live)[0]
    photo = jpeg_bytes((800, 600), color=(10, 120, 200))
    with Server("app:app", env_a, workers=2, name="a", log_dir=tmp) as a, \
            Server("app:app", env_b, workers=2, name="b", log_dir=tmp) as b:
        from bench.harness import Session

        session = Session(a.port)
        session.login(target.auditor, _demo_password())
        body, ctype = _multipart({"caption": "Both servers"}, photo)
        status, _h, data = session.send("POST", f"/api/audits/{target.audit_id}/evidence", body, ctype,
                                        {"X-CSRFToken": session.csrf or ""})
        assert status == 201, data[:500]
        evidence_id = json.loads(data)["evidence"]["id"]

        session.port = b.port  # the same cookies, the other server
        status, _h, served = session.get(f"/evidence/{evidence_id}")
        assert status == 200 and served == photo
        status, _h, data = session.get(f"/api/audits/{target.audit_id}/answers")
        assert status == 200, data[:300]
        stranger = Session(b.port)
        assert stranger.get(f"/evidence/{evidence_id}")[0] in (302, 401)
    assert not list((tmp / "instance-a").rglob("*.jpg")) and not list((tmp / "instance-b").rglob("*.jpg"))


def _queue_mail(live, count: int) -> list[str]:
    """``count`` notifications waiting for e-mail; returns their titles."""
    from sqlalchemy import select

    from audit.extensions import db
    from audit.models import Notification, User, utcnow

    app = live.app()
    titles = [f"Two servers {uuid.uuid4().hex[:8]}" for _ in range(count)]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.is_active.is_(True)).order_by(User.id))
        for title in titles:
            db.session.add(Notification(user_id=user.id, kind="two_servers", title=title,
                                        dedupe_key=f"two-servers-{title}", created_at=utcnow(),
                                        email_wanted=True))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return titles


def _emailed(live) -> int:
    """Notifications marked as e-mailed (claimed by a sweep that then sent them)."""
    from sqlalchemy import func, select

    from audit.extensions import db
    from audit.models import Notification

    app = live.app()
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Notification)
                                  .where(Notification.emailed_at.is_not(None),
                                         Notification.email_wanted.is_(True)))
        db.session.remove()
        db.engine.dispose()
    return count


def test_only_the_lease_holder_sends(shared):
    """Two schedulers (one per server) on one database: one runs the jobs and sends each
    waiting e-mail once, the other stands by and sends nothing."""
    live, (env_a, env_b), tmp = shared
    sink = _SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        before = _emailed(live)
        titles = _queue_mail(live, 5)
        cmd = [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run", "--interval", "1"]
        mail = {"AUDIT_MAIL_SERVER": "127.0.0.1", "AUDIT_MAIL_PORT": str(sink.server_address[1])}
        first = subprocess.Popen([*cmd, "--duration", "120"], env={**env_a, **mail},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = ""
        while " jobs (Ctrl+C to stop)" not in started:  # its lease taken, its jobs scheduled
            line = first.stdout.readline()
            assert line, started
            started += line
        time.sleep(1.5)
        second = subprocess.run([*cmd, "--duration", "4"], env={**env_b, **mail},
                                capture_output=True, text=True, timeout=60)
        first.terminate()  # only now: had it stopped first, the standby would rightly take over
        out_first = started + first.communicate(timeout=60)[0]
    finally:
        sink.shutdown()
        sink.server_close()
    assert "stopped after 0 job runs" in second.stdout, second.stdout + second.stderr
    assert "stopped after 0 job runs" not in out_first, out_first[-3000:]
    ids = [re.search(rb"^Message-ID:\s*(\S+)", m, re.M | re.I).group(1) for m in sink.messages]
    assert len(set(ids)) == len(ids) == _emailed(live) - before
    for title in titles:
        assert sum(title.encode() in m for m in sink.messages) == 1, title
