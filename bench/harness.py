"""The machinery of ``make bench``: databases, gunicorn servers, HTTP clients, statistics.

Only the standard library (threads + http.client) and the pinned requirements are used. Every
server binds 127.0.0.1 on a free port; nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: gunicorn settings shared by the app and its baselines, so ratios compare like with like.
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the results table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- databases


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers on 127.0.0.1:5432, else the reason it does not."""
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


def fresh_postgres(name: str) -> str:
    """(Re)create database ``name`` (must start with ``audit_``) and return its URL."""
    import psycopg

    assert name.startswith("audit_") and name not in ("test", "postgres"), name
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


@dataclass
class Database:
    """One benchmark database: its URL, the instance folder, and how it was built."""

    kind: str  #: "sqlite" or "postgresql"
    url: str
    instance: Path
    scale: int

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.url,
            "AUDIT_INSTANCE_PATH": str(self.instance),
            "AUDIT_SECRET_KEY": "bench-only-secret-key-0123456789abcdef",
            "AUDIT_SCHEDULER_IN_PROCESS": "false",
            "AUDIT_CONFIG": "development",
            "PYTHONUNBUFFERED": "1",
        })
        return env


def build_database(kind: str, scale: int, tag: str = "") -> Database:
    """A fresh database at ``scale``: migrations, then the demo data CLI."""
    instance = OUT / f"{kind}-s{scale}{tag}"
    if instance.exists():
        for p in sorted(instance.rglob("*"), reverse=True):
            p.unlink() if p.is_file() or p.is_symlink() else p.rmdir()
    instance.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = f"sqlite:///{instance}/audit.db"
    else:
        url = fresh_postgres(f"audit_issue8_bench_s{scale}{tag}")
    database = Database(kind, url, instance, scale)
    flask = [str(VENV_BIN / "flask"), "--app", "app"]
    started = time.perf_counter()
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=database.env(), check=True,
                   capture_output=True)
    result = subprocess.run([*flask, "demo-data", "--scale", str(scale)], cwd=ROOT,
                            env=database.env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"demo-data --scale {scale} failed:\n{result.stderr[-2000:]}")
    if kind == "postgresql":
        # Planner statistics, as autovacuum would gather them within a minute of the load: a
        # freshly loaded database estimates one row per table and picks nested loops.
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute("ANALYZE")
    log(f"{kind} scale {scale}: built in {time.perf_counter() - started:.1f}s "
        f"({result.stdout.strip().splitlines()[-1][:160] if result.stdout.strip() else ''})")
    return database


# --------------------------------------------------------------------------- servers


class Server:
    """A gunicorn process serving ``target`` (``module:app``) on a free loopback port."""

    def __init__(self, target: str, env: dict, *, workers: int = WORKERS, name: str = "app",
                 log_dir: Path = OUT, preload: bool = False):
        self.target, self.env, self.workers, self.name = target, env, workers, name
        #: ``gunicorn --preload``: the app is imported once in the master, workers share its pages.
        self.preload = preload
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(log_dir) / f"gunicorn-{name}-{self.port}.log"

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--workers", str(self.workers), "--bind",
             f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5",
             "--log-level", "warning", *(["--preload"] if self.preload else []), self.target],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited: see {self.log_path}")
            with contextlib.suppress(OSError):
                status, _h, _b = request(self.port, "GET", "/healthz")
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} server did not start in {timeout}s: see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in path.read_text().split()]
        return []

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each worker, MiB (from /proc)."""
        sizes = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
                if match:
                    sizes.append(int(match.group(1)) / 1024)
        return sizes

    def worker_memory_mib(self) -> list[dict]:
        """Each worker's memory, MiB: ``rss``, ``pss`` (shared pages split between sharers) and
        ``uss`` (private: Private_Clean + Private_Dirty, what the worker alone costs)."""
        found = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                kb = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", text, re.M)}
                found.append({"rss": kb.get("Rss", 0) / 1024, "pss": kb.get("Pss", 0) / 1024,
                              "uss": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024})
        return found

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --------------------------------------------------------------------------- HTTP


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
    """One HTTP request on a new loopback connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


class Session:
    """A logged-in browser-like client: keeps the session cookie and the CSRF token."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        headers.update(extra or {})
        return headers

    def _remember(self, headers: dict) -> None:
        raw = headers.get("set-cookie")
        if raw:
            for part in re.split(r",(?=\s*[A-Za-z_]+=)", raw):
                name, _, rest = part.strip().partition("=")
                self.cookies[name] = rest.split(";", 1)[0]

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        status, h, body = request(self.port, "GET", path, headers=self._headers(headers))
        self._remember(h)
        match = re.search(rb'name="csrf-token" content="([^"]+)"', body) or re.search(
            rb'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', body)
        if match:
            self.csrf = match.group(1).decode()
        return status, h, body

    def send(self, method: str, path: str, body: bytes, content_type: str,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
        extra = {"Content-Type": content_type, **(headers or {})}
        status, h, data = request(self.port, method, path, body=body, headers=self._headers(extra))
        self._remember(h)
        return status, h, data

    def login(self, email: str, password: str) -> None:
        self.get("/login")
        form = {"email": email, "password": password}
        if self.csrf:
            form["csrf_token"] = self.csrf
        status, _h, _b = self.send("POST", "/login", urlencode(form).encode(),
                                   "application/x-www-form-urlencoded")
        if status != 302:
            raise RuntimeError(f"login as {email} failed with {status}")
        self.get("/")  # pick up a fresh CSRF token for the logged-in session


# --------------------------------------------------------------------------- statistics


@dataclass
class Stats:
    """Latencies (seconds) of one series of requests, plus counts."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    bytes: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")


#: Unmeasured calls before a series: each gunicorn worker's first request builds its SQL and
#: template caches once per process lifetime; with 60 requests over 4 workers those few cold
#: requests were the whole p99. Every series (app, same-work, floor) warms the same way.
WARMUP_CALLS = 2 * WORKERS


def interleaved_series(calls: list, n: int) -> list[Stats]:
    """Call each of ``calls`` (returning (ok, nbytes)) ``n`` times after ``WARMUP_CALLS``
    unmeasured calls each, taking turns (a, b, c, a, b, c, ...):
    the application and its baselines then meet the same machine, whatever else it is doing
    while the measure runs. One series after another let a busy second skew a ratio by 20 %."""
    for call in calls:
        for _ in range(WARMUP_CALLS):
            call()
    stats = [Stats() for _ in calls]
    started = time.perf_counter()
    for _ in range(n):
        for call, series in zip(calls, stats, strict=True):
            t0 = time.perf_counter()
            ok, nbytes = call()
            series.latencies.append(time.perf_counter() - t0)
            series.bytes = nbytes
            series.errors += 0 if ok else 1
    wall = time.perf_counter() - started
    for series in stats:
        # Each series' share of the wall time, for its throughput column.
        series.wall = wall * sum(series.latencies) / max(sum(sum(s.latencies) for s in stats), 1e-9)
    return stats


def interleaved_concurrent(make_calls: list, clients: int, seconds: float, rounds: int = 3) -> list[Stats]:
    """``concurrent_series`` for several targets in turns: ``rounds`` rounds of ``seconds /
    rounds`` each per target (a, b, c, a, b, c, ...), merged per target, so that the
    application and its baselines share the machine's good and bad seconds alike."""
    merged = [Stats() for _ in make_calls]
    for _ in range(rounds):
        for make_call, total in zip(make_calls, merged, strict=True):
            part = concurrent_series(make_call, clients, seconds / rounds)
            total.latencies.extend(part.latencies)
            total.errors += part.errors
            total.wall += part.wall
    return merged


def concurrent_series(make_call, clients: int, seconds: float) -> Stats:
    """``clients`` threads each calling their own ``make_call(i)()`` for ``seconds``."""
    stats = Stats()
    lock = threading.Lock()
    calls = [make_call(i) for i in range(clients)]
    stop = time.perf_counter() + seconds
    barrier = threading.Barrier(clients + 1)

    def worker(call):
        barrier.wait()
        local, errors = [], 0
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                ok, _n = call()
            except OSError:
                ok = False
            local.append(time.perf_counter() - t0)
            errors += 0 if ok else 1
        with lock:
            stats.latencies.extend(local)
            stats.errors += errors

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    stats.wall = time.perf_counter() - started
    return stats
