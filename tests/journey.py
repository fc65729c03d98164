"""Journey tests' shared moves: the clock set to a day, a registered scheduler job run at a
moment as the scheduler process runs it, and what a person was told or is waiting for."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.core.registry import registry
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.models import Notification


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    """``hour`` o'clock UTC on ``day``: the moment a test moves its clock to."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def registered_job(app, job_id: str):
    """The job ``job_id`` as the app registers it with the scheduler."""
    return next(job for job in registry(app).jobs if job.id == job_id)


def run_job(app, now: dt.datetime, *, job: str):
    """Run the registered job ``job`` at ``now`` and return what it reports.

    The job writes in a session of its own: the test's transaction ends before it runs (or the
    job waits on the test's lock) and after (or the test reads its old snapshot).
    """
    function = registered_job(app, job).function
    db.session.commit()
    result = function(app, now)
    db.session.commit()
    return result


def notice_titles(user, *, kind: str) -> list[str]:
    """The titles of the notifications of ``kind`` made for ``user``, oldest first."""
    return list(db.session.scalars(select(Notification.title).where(
        Notification.user_id == user.id, Notification.kind == kind).order_by(Notification.id)))


def waiting_items(app, user, now: dt.datetime, *, step: str) -> list:
    """The items of ``step`` in ``user``'s "Waiting for me" at ``now``."""
    with app.test_request_context():
        return [item for item in waiting_for(user, now) if item.step == step]
