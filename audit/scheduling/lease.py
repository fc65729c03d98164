"""A database lease: the row in ``scheduler_leases`` says which process may act, until when.

Taking or renewing it is one conditional UPDATE (``holder = me OR expired``), so two processes
can never both believe they hold it; the first ever holder INSERTs the row, and a concurrent
second INSERT fails on the primary key. Each call runs in its own short transaction on its own
connection, independent of the caller's session.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError, OperationalError

from audit.extensions import db
from audit.models import SchedulerLease

LEASE_NAME = "scheduler"


def new_holder_id() -> str:
    """host:pid:random — unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(holder: str, *, now: dt.datetime, ttl_seconds: int, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease for ``holder``; False when another live holder has it."""
    expires = now + dt.timedelta(seconds=ttl_seconds)
    table = SchedulerLease.__table__
    try:
        with db.engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.name == name,
                       (table.c.holder == holder) | (table.c.expires_at < now))
                .values(holder=holder, expires_at=expires)
            )
            if result.rowcount == 1:
                return True
        with db.engine.begin() as conn:
            conn.execute(insert(table).values(name=name, holder=holder, expires_at=expires))
        return True
    except (IntegrityError, OperationalError):
        # The row exists and is held by someone else, or the database is busy: not ours now.
        return False


def release_lease(holder: str, *, now: dt.datetime, name: str = LEASE_NAME) -> None:
    """Give the lease up at shutdown so a standby takes over at once."""
    table = SchedulerLease.__table__
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.name == name, table.c.holder == holder)
                     .values(expires_at=now - dt.timedelta(seconds=1)))
