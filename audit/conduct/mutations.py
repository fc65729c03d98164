"""Offline replays: a client mutation id applied once returns its first result again.

Tablets queue changes while offline and may send one twice; the id makes the replay harmless.
"""

from __future__ import annotations

from sqlalchemy import select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import AppliedMutation, Audit


def replayed_result(mutation_id: str | None, audit: Audit, kind: str) -> dict | None:
    """The stored result of ``mutation_id`` when it was applied already (None: apply it)."""
    if not mutation_id:
        return None
    done = db.session.scalar(select(AppliedMutation).where(AppliedMutation.mutation_id == mutation_id))
    if done is None:
        return None
    if done.audit_id != audit.id or done.kind != kind:
        raise DomainError("This mutation id was already used for something else.", field="mutation_id")
    return done.result


def remember_result(mutation_id: str | None, audit: Audit, kind: str, result: dict, *, actor, now) -> None:
    """Store the result of an applied mutation so a replay returns it."""
    if mutation_id:
        db.session.add(AppliedMutation(mutation_id=mutation_id, audit_id=audit.id, kind=kind,
                                       user_id=getattr(actor, "id", None), result=result,
                                       applied_at=now))
        db.session.flush()


def check_mutation_id(mutation_id: str | None) -> None:
    """Refuse a mutation id of the wrong length (clients send 1 to 64 characters)."""
    if mutation_id is not None and not (1 <= len(mutation_id) <= 64):
        raise DomainError("A mutation id has 1 to 64 characters.", field="mutation_id")
