"""Bulk changes from the audit list: move by N days or to a date, assign a lead, postpone or
cancel several audits at once.

Each audit goes through exactly the service a single change uses (``reschedule_audit``,
``add_team_member``, ``change_status`` with ``manual=True``), so the same rules hold: the
audit workflow's table of states and who may move it, the one calendar rule (a weekend or a
holiday needs the reason), team competence, impartiality and double booking, the trail, and
one announcement per person per change. Each audit runs in its own savepoint: the ones that
pass are applied, each refused one is reported with its reason and leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.services import add_team_member, change_status, reschedule_audit, to_local
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, AuditStatus, AuditTeamMember, TeamRole, User

#: action → label of the bulk form's choice.
ACTIONS = {
    "shift": "Move by a number of days",
    "move_to": "Move to a date",
    "assign_lead": "Assign a lead auditor",
    "postpone": "Postpone",
    "cancel": "Cancel",
}
#: Where an undated audit starts and ends when moved to a date (local time at the site).
DAY_START, DAY_END = dt.time(9, 0), dt.time(17, 0)


@dataclass
class BulkOutcome:
    """What a bulk change did: the audits changed, and each refused one with its reason."""

    applied: list[Audit] = field(default_factory=list)
    refused: list[tuple[Audit, str]] = field(default_factory=list)


def load_selected(ids, readable) -> list[Audit]:
    """The selected audits the user may read, by reference, with what the rules read (one
    statement plus the eager loads, whatever the number selected)."""
    if not ids:
        return []
    return list(db.session.scalars(
        select(Audit).where(Audit.id.in_(list(ids)), readable)
        .options(joinedload(Audit.site), joinedload(Audit.programme), joinedload(Audit.supplier),
                 selectinload(Audit.units), selectinload(Audit.standards),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user))
        .order_by(Audit.reference)).unique())


def new_dates(audit: Audit, *, days: int | None = None,
              to_date: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The local start and end ``audit`` moves to: ``days`` later (negative = earlier), or to
    ``to_date`` keeping its local times and length (an undated audit: 09:00 on the day to
    17:00 on its last planned day)."""
    if audit.starts_at is None:
        if to_date is None:
            raise DomainError(f"{audit.reference} has no dates yet: move it to a date instead.")
        last = to_date + dt.timedelta(days=(audit.planned_days or 1) - 1)
        return dt.datetime.combine(to_date, DAY_START), dt.datetime.combine(last, DAY_END)
    start, end = to_local(audit.starts_at, audit.timezone), to_local(audit.ends_at, audit.timezone)
    # Wall-clock arithmetic on local times: 09:00 stays 09:00 across a DST change.
    shift = dt.timedelta(days=days) if to_date is None else to_date - start.date()
    return start + shift, end + shift


def _apply_one(audit: Audit, action: str, *, days, to_date, lead: User | None, reason: str | None,
               actor, now: dt.datetime) -> None:
    if action in ("shift", "move_to"):
        starts, ends = new_dates(audit, days=days, to_date=to_date)
        # As the single reschedule form: the reason is also what waives a weekend or holiday.
        reschedule_audit(audit, starts_local=starts, ends_local=ends, reason=reason, override_reason=reason,
                         actor=actor, now=now)
    elif action == "assign_lead":
        add_team_member(audit, lead, TeamRole.LEAD, actor=actor, now=now)
    elif action in ("postpone", "cancel"):
        target = AuditStatus.POSTPONED if action == "postpone" else AuditStatus.CANCELLED
        change_status(audit, target, reason=reason, actor=actor, now=now, manual=True)
    else:
        raise DomainError("Choose what to do with the selected audits.", field="action")


def apply_bulk(audits: list[Audit], action: str, *, days: int | None = None, to_date: dt.date | None = None,
               lead: User | None = None, reason: str | None = None, actor, now: dt.datetime) -> BulkOutcome:
    """Apply ``action`` to each of ``audits`` through the single-change services; the caller
    commits. A refused audit is rolled back to its savepoint and reported with its reason."""
    outcome = BulkOutcome()
    reason = (reason or "").strip() or None
    for audit in audits:
        try:
            with db.session.begin_nested():
                _apply_one(audit, action, days=days, to_date=to_date, lead=lead, reason=reason,
                           actor=actor, now=now)
        except DomainError as exc:
            outcome.refused.append((audit, exc.message))
        else:
            outcome.applied.append(audit)
    return outcome
