"""A live application for the load and fault tests: a real database, gunicorn, tablet clients.

The database is built in-process (schema + the demo organisation), then served by gunicorn
with several workers on a free loopback port, exactly as in production. Simulated tablets log
in through the real login form and save answers through the documented JSON API, keeping the
``base_version`` the server returns and a fresh ``mutation_id`` per save; a save whose outcome
is unknown (connection cut, worker killed, 5xx) is replayed with the same ``mutation_id``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.harness import Server, Session, fresh_postgres, postgres_reachable

DEMO_SECRET = "reliability-only-secret-key-0123456789abcdef"


def require_postgres() -> None:
    """Skip (with the reason) when PostgreSQL on 127.0.0.1:5432 does not answer."""
    reason = postgres_reachable()
    if reason:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 not reachable: {reason}")


@dataclass
class LiveDatabase:
    kind: str
    url: str
    instance: Path

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.url, "AUDIT_INSTANCE_PATH": str(self.instance),
            "AUDIT_SECRET_KEY": DEMO_SECRET, "AUDIT_SCHEDULER_IN_PROCESS": "false",
            "AUDIT_CONFIG": "development", "PYTHONUNBUFFERED": "1",
        })
        env.pop("TEST_DATABASE_URL", None)
        return env

    def app(self):
        from audit import create_app

        return create_app("testing", {"SQLALCHEMY_DATABASE_URI": self.url,
                                      "STORAGE_PATH": str(self.instance / "storage")})


def build_live_database(kind: str, tmp_path: Path, name: str) -> LiveDatabase:
    """A fresh database of ``kind`` with the schema and the demo organisation."""
    from audit.demo import seed_demo
    from audit.extensions import db
    from audit.models import utcnow

    instance = tmp_path / f"instance-{name}"
    instance.mkdir(parents=True, exist_ok=True)
    if kind == "postgresql":
        require_postgres()
        url = fresh_postgres(f"audit_issue8_{name}")
    else:
        url = f"sqlite:///{instance}/audit.db"
    live = LiveDatabase(kind, url, instance)
    app = live.app()
    with app.app_context():
        db.create_all()
        seed_demo(now=utcnow())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return live


@dataclass(frozen=True)
class Target:
    audit_id: int
    question_id: int
    auditor: str  #: e-mail of an auditing team member


def answer_targets(live: LiveDatabase) -> list[Target]:
    """Every (audit, question) a team auditor may still answer, with that auditor."""
    from sqlalchemy import select

    from audit.conduct import access
    from audit.extensions import db
    from audit.models import AnswerType, Audit, ChecklistQuestion, ChecklistSection

    app = live.app()
    targets = []
    with app.app_context():
        for audit in db.session.scalars(select(Audit).order_by(Audit.id)):
            if audit.checklist_version_id is None:
                continue
            try:
                access.require_not_frozen(audit)
            except Exception:  # noqa: BLE001 - frozen audits are not targets
                continue
            auditors = [m.user for m in audit.team if access.can_answer(audit, m.user)]
            if not auditors:
                continue
            questions = db.session.scalars(
                select(ChecklistQuestion.id).join(ChecklistSection)
                .where(ChecklistSection.version_id == audit.checklist_version_id,
                       ChecklistQuestion.answer_type == AnswerType.VERDICT)
                .order_by(ChecklistQuestion.id)
            ).all()
            targets += [Target(audit.id, q, auditors[0].email) for q in questions]
        db.session.remove()
        db.engine.dispose()
    return targets


def database_state(live: LiveDatabase) -> dict:
    """What the database holds: answers by (audit, question), mutations applied, trail rows."""
    from sqlalchemy import func, select

    from audit.extensions import db
    from audit.models import ChecklistAnswer, TrailEntry

    app = live.app()
    with app.app_context():
        answers = {(a.audit_id, a.question_id): (a.version, a.note)
                   for a in db.session.scalars(select(ChecklistAnswer))}
        from audit.models import AppliedMutation

        mutations = set(db.session.scalars(select(AppliedMutation.mutation_id)))
        trail = db.session.scalar(select(func.count()).select_from(TrailEntry)
                                  .where(TrailEntry.object_type == "ChecklistAnswer")) \
            if hasattr(TrailEntry, "object_type") else None
        db.session.remove()
        db.engine.dispose()
    return {"answers": answers, "mutations": mutations, "trail": trail}


class Outcome:
    APPLIED, CONFLICT, UNKNOWN, REFUSED = "applied", "conflict", "unknown", "refused"


@dataclass
class Tablet:
    """One simulated tablet: owns its questions, remembers what the server acknowledged."""

    port: int
    targets: list[Target]
    name: str
    session: Session | None = None
    versions: dict = field(default_factory=dict)
    #: (audit, question) → (version, note) of the last acknowledged save
    acknowledged: dict = field(default_factory=dict)
    acked_mutations: set = field(default_factory=set)
    #: versions seen at login, and acknowledged saves per (audit, question)
    initial: dict = field(default_factory=dict)
    ack_counts: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    saves: int = 0

    def login(self, sessions: dict | None = None) -> None:
        """Log in (tablets of the same auditor share one session: the password hash is slow)."""
        sessions = {} if sessions is None else sessions
        email = self.targets[0].auditor
        if email not in sessions:
            sessions[email] = Session(self.port)
            sessions[email].login(email, _demo_password())
        self.session = sessions[email]
        status, _h, body = self.session.get(f"/api/audits/{self.targets[0].audit_id}/answers")
        if status == 200:
            for a in json.loads(body).get("answers", []):
                self.versions[(self.targets[0].audit_id, a["question_id"])] = a.get("version", 0)
        self.initial = dict(self.versions)

    def body(self, target: Target, note: str, mutation_id: str) -> bytes:
        return json.dumps({
            "verdict": "conforming", "note": note, "mutation_id": mutation_id,
            "base_version": self.versions.get((target.audit_id, target.question_id), 0),
        }).encode()

    def path(self, target: Target) -> str:
        return f"/api/audits/{target.audit_id}/answers/{target.question_id}"

    def save(self, target: Target, note: str, mutation_id: str, *, body: bytes | None = None) -> str:
        """One PUT; records the acknowledgement. Returns an Outcome."""
        body = body or self.body(target, note, mutation_id)
        try:
            status, _h, data = self.session.send(
                "PUT", self.path(target), body, "application/json",
                {"X-CSRFToken": self.session.csrf or ""})
        except (OSError, http.client.HTTPException) as exc:
            return self._unknown(exc)
        if status == 200:
            payload = json.loads(data)["answer"]
            key = (target.audit_id, target.question_id)
            self.versions[key] = payload["version"]
            self.acknowledged[key] = (payload["version"], payload.get("note"))
            if mutation_id not in self.acked_mutations:
                self.acked_mutations.add(mutation_id)
                self.ack_counts[key] = self.ack_counts.get(key, 0) + 1
            return Outcome.APPLIED
        if status == 409:
            current = json.loads(data).get("current") or {}
            self.versions[(target.audit_id, target.question_id)] = current.get("version", 0)
            return Outcome.CONFLICT
        if status >= 500:
            return self._unknown(f"HTTP {status}")
        self.errors.append(f"{self.name}: HTTP {status} {data[:200]!r}")
        return Outcome.REFUSED

    def _unknown(self, why) -> str:
        return Outcome.UNKNOWN

    def save_until_acknowledged(self, target: Target, note: str, *, deadline: float,
                                first_body_cut: bool = False) -> bool:
        """Save, replaying the same mutation id while the outcome is unknown (as the offline queue does)."""
        mutation_id = str(uuid.uuid4())
        if first_body_cut:
            cut_mid_request(self.port, self.session, self.path(target),
                            self.body(target, note, mutation_id))
        while time.monotonic() < deadline + 30:
            outcome = self.save(target, note, mutation_id)
            self.saves += 1
            if outcome == Outcome.APPLIED:
                return True
            if outcome in (Outcome.CONFLICT, Outcome.REFUSED):
                return False
            time.sleep(0.2)  # unknown: the server may be restarting; replay the same mutation
        self.errors.append(f"{self.name}: never acknowledged {mutation_id}")
        return False


def _demo_password() -> str:
    from audit.demo import DEMO_PASSWORD

    return DEMO_PASSWORD


def cut_mid_request(port: int, session: Session, path: str, body: bytes, *, send_all: bool = False) -> None:
    """Open a connection, send the headers and half the body (or all of it), then drop it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\nX-CSRFToken: {session.csrf}\r\n\r\n")
        sock.sendall(head.encode() + (body if send_all else body[: len(body) // 2]))
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()


def run_tablets(port: int, targets: list[Target], *, tablets: int, seconds: float,
                during=None, cut_every: int = 0) -> list[Tablet]:
    """``tablets`` threads saving their own questions for ``seconds``; ``during()`` runs meanwhile."""
    by_audit: dict[int, list[Target]] = {}
    for t in targets:
        by_audit.setdefault(t.audit_id, []).append(t)
    # Each tablet owns distinct questions of one audit, so every save is an expected success.
    owned: list[list[Target]] = [[] for _ in range(tablets)]
    flat = [t for ts in by_audit.values() for t in ts]
    for i, t in enumerate(flat[: tablets * max(1, len(flat) // tablets)]):
        owned[i % tablets].append(t)
    owned = [[t for t in o if t.audit_id == o[0].audit_id] for o in owned if o]
    clients = [Tablet(port, o, f"tablet-{i}") for i, o in enumerate(owned)]
    sessions: dict = {}
    for c in clients:
        c.login(sessions)
    deadline = time.monotonic() + seconds
    run = uuid.uuid4().hex[:8]  # notes unique across runs: an identical note would be a no-op save

    def work(client: Tablet):
        n = 0
        while time.monotonic() < deadline:
            target = client.targets[n % len(client.targets)]
            cut = bool(cut_every) and n % cut_every == cut_every - 1
            client.save_until_acknowledged(target, f"{client.name} run {run} save {n}", deadline=deadline,
                                           first_body_cut=cut)
            n += 1

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    if during:
        during()
    for t in threads:
        t.join(timeout=seconds + 120)
    return clients


def check_nothing_lost(live: LiveDatabase, clients: list[Tablet]) -> dict:
    """Every acknowledged save is in the database exactly once, counted per answer.

    Each tablet owns its questions, and every save changes the note, so an answer's version must
    equal its version at login plus the number of saves acknowledged for it: one lower means a
    lost write, one higher a duplicated one. Every acknowledged mutation id is stored.
    """
    state = database_state(live)
    acked = set().union(*(c.acked_mutations for c in clients))
    problems = [e for c in clients for e in c.errors]
    missing = acked - state["mutations"]
    if missing:
        problems.append(f"{len(missing)} acknowledged mutations missing from the database")
    for c in clients:
        for key, count in c.ack_counts.items():
            version, note = c.acknowledged[key]
            held = state["answers"].get(key)
            expected = c.initial.get(key, 0) + count
            if held is None or held[1] != note:
                problems.append(f"{c.name}: acknowledged {key} {note!r}, database holds {held!r}")
            elif held[0] != expected or version != expected:
                problems.append(f"{c.name}: {key} had {c.initial.get(key, 0)} + {count} acknowledged saves "
                                f"but is at v{held[0]} (acknowledged v{version})")
    return {"problems": problems, "acked": len(acked),
            "saves": sum(sum(c.ack_counts.values()) for c in clients), "state": state}


def server(live: LiveDatabase, tmp_path: Path, workers: int = 4) -> Server:
    return Server("app:app", live.env(), workers=workers, name=live.kind, log_dir=tmp_path)
