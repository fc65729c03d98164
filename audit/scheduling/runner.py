"""The scheduler process: APScheduler 3.x running the registered jobs behind the database lease.

Every job run first takes or renews the lease (one conditional UPDATE); a process that does
not hold it skips the run, so a second scheduler simply stands by and takes over when the
first stops renewing. At start each job runs at once if its last recorded run (``job_runs``)
is older than its interval: a scheduler that was down catches up once (coalesced).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import select

from audit.core.registry import Job, registry
from audit.extensions import db
from audit.models import JobRun, utcnow
from audit.scheduling.jobs import describe_result
from audit.scheduling.lease import acquire_lease, new_holder_id, release_lease

log = logging.getLogger(__name__)


class SchedulerProcess:
    """One scheduler: APScheduler plus lease; ``clock`` gives the ``now`` jobs see."""

    def __init__(self, app: Flask, *, clock: Callable[[], dt.datetime] | None = None,
                 interval: int | None = None, jobs: list[Job] | None = None):
        self.app = app
        self.clock = clock or utcnow
        self.interval = interval
        self.jobs = list(jobs if jobs is not None else registry(app).jobs)
        self.holder = new_holder_id()
        self.ttl = int(app.config.get("SCHEDULER_LEASE_SECONDS", 60))
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)
        self._lock = threading.Lock()  # one job body at a time in this process
        self.runs: list[str] = []

    # --- lease --------------------------------------------------------------------------
    def holds_lease(self) -> bool:
        """Take or renew the lease (wall clock, never the injected job clock)."""
        with self.app.app_context():
            try:
                return acquire_lease(self.holder, now=utcnow(), ttl_seconds=self.ttl)
            finally:
                db.session.remove()

    # --- running ------------------------------------------------------------------------
    def run_job(self, job: Job) -> object | None:
        """Run one job if this process holds the lease; record when it completed."""
        with self._lock:
            if not self.holds_lease():
                log.info("job %s skipped: another scheduler holds the lease", job.id)
                return None
            now = self.clock()
            result = job.function(self.app, now)
            self._record(job, now, result)
            self.runs.append(job.id)
            log.info("job %s done: %s", job.id, result)
            return result

    def run_all_once(self) -> dict[str, object]:
        """Run every job once (cron-style use and tests)."""
        return {job.id: self.run_job(job) for job in self.jobs}

    def _record(self, job: Job, now: dt.datetime, result) -> None:
        text = describe_result(result)[:2000]  # what the scheduler page shows
        with self.app.app_context():
            try:
                row = db.session.get(JobRun, job.id)
                if row is None:
                    db.session.add(JobRun(job_id=job.id, last_run_at=now, result=text))
                else:
                    row.last_run_at = max(row.last_run_at, now)
                    row.result = text
                db.session.commit()
            finally:
                db.session.remove()

    def _first_run(self, job: Job, interval: int) -> dt.datetime:
        """Now when the job is overdue (catch-up once), else when its interval ends."""
        with self.app.app_context():
            try:
                last = db.session.scalar(select(JobRun.last_run_at).where(JobRun.job_id == job.id))
            finally:
                db.session.remove()
        wall = utcnow()
        if last is None:
            return wall
        due = last + dt.timedelta(seconds=interval)
        clock_now = self.clock()
        return wall if due <= clock_now else wall + (due - clock_now)

    def start(self) -> None:
        """Schedule the jobs and start APScheduler; raises if it did not start."""
        for job in self.jobs:
            interval = self.interval or job.interval
            self.scheduler.add_job(
                self.run_job, IntervalTrigger(seconds=interval, timezone=dt.UTC), args=[job], id=job.id,
                name=job.id, replace_existing=True, coalesce=True, max_instances=1,
                misfire_grace_time=max(30, interval), next_run_time=self._first_run(job, interval),
            )
        # Renew the lease well before it expires even when no job is due.
        self.scheduler.add_job(self.holds_lease, IntervalTrigger(seconds=max(1, self.ttl // 3), timezone=dt.UTC),
                               id="lease_heartbeat", replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=self.ttl)
        self.scheduler.start()
        if not self.scheduler.running:
            raise RuntimeError("APScheduler did not start")

    def stop(self) -> None:
        """Stop the jobs and hand the lease over at once."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with self.app.app_context():
            try:
                release_lease(self.holder, now=utcnow())
            finally:
                db.session.remove()


_in_process: SchedulerProcess | None = None


def start_in_process(app: Flask) -> SchedulerProcess | None:
    """Start the scheduler inside a single-process dev server (``make run``), never elsewhere."""
    global _in_process
    if _in_process is not None:
        return _in_process
    _in_process = SchedulerProcess(app)
    _in_process.start()
    import atexit

    atexit.register(_in_process.stop)
    log.info("scheduler started in-process (SCHEDULER_IN_PROCESS)")
    return _in_process
