"""Moving the audit along its life cycle as it is conducted (plan issued, first answer, report).

The rules of the life cycle stay in ``audit.audits.workflow``; this only asks it.
"""

from __future__ import annotations

import datetime as dt

from audit.audits.services import change_status
from audit.audits.workflow import can_move
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, AuditStatus


def advance_status(audit: Audit, target: AuditStatus, *, actor, now: dt.datetime) -> bool:
    """Move the audit to ``target`` through the audit life-cycle service when its rules allow."""
    if not can_move(audit, target):
        return False
    try:
        with db.session.begin_nested():
            change_status(audit, target, actor=actor, now=now)
    except DomainError:
        return False  # e.g. no dates yet: the answer still counts, the status stays
    return True


def start_fieldwork(audit: Audit, *, actor, now: dt.datetime) -> None:
    """The first answer puts a scheduled audit in progress (when the life cycle allows it)."""
    advance_status(audit, AuditStatus.IN_PROGRESS, actor=actor, now=now)
