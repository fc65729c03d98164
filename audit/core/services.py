"""Small building blocks every feature's services use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, func, literal, select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import User
from audit.trail.services import apply_changes, record, snapshot


def same_text(column, value: str):
    """``column`` equals ``value`` ignoring case, folded by the database on both sides.

    Python's ``str.lower`` folds all of Unicode but SQLite's ``lower()`` only ASCII: mixing the
    two let "Ö" pass a duplicate check and then break the unique constraint (a 500).
    """
    return func.lower(column) == func.lower(literal(value, String))


def require_unique(model, column, value, current=None, *, field: str, what: str) -> None:
    """Raise a DomainError on ``field`` if another row of ``model`` has ``value`` (case-blind)."""
    stmt = select(model.id).where(same_text(column, str(value).strip()))
    if current is not None:
        stmt = stmt.where(model.id != current.id)
    if db.session.scalar(stmt) is not None:
        raise DomainError(f"Another {what} already uses “{value}”.", field=field)


def get_or_fail(model, obj_id, *, field: str, what: str, optional: bool = False):
    """Load ``model`` by id from form input, or raise a DomainError naming ``field``."""
    if not obj_id:
        if optional:
            return None
        raise DomainError(f"Choose a {what}.", field=field)
    obj = db.session.get(model, int(obj_id))
    if obj is None:
        raise DomainError(f"That {what} does not exist (any more).", field=field)
    return obj


def active_owner(owner_id, *, current=None, thing: str = "action", field: str = "owner_id"):
    """The person chosen in ``field`` to own a ``thing``: someone who exists, can still log in
    and is not already its owner (``current``); else a DomainError naming the field."""
    owner = get_or_fail(User, owner_id, field=field, what="owner")
    if not owner.is_active:
        raise DomainError(f"{owner.name} can no longer log in: choose an active owner.", field=field)
    if current is not None and owner.id == current.id:
        raise DomainError(f"{owner.name} already owns this {thing}.", field=field)
    return owner


def save_with_trail(obj, values: dict[str, Any], *, actor, now: dt.datetime, label: str) -> Any:
    """Create (``obj`` without id) or update ``obj`` with ``values``, writing the trail entry."""
    if obj.id is None:
        for key, value in values.items():
            setattr(obj, key, value)
        db.session.add(obj)
        db.session.flush()
        record(obj, "create", actor=actor, now=now, summary=f"Created {label}",
               changes=snapshot(values))
    else:
        changes = apply_changes(obj, values)
        if changes:
            db.session.flush()
            record(obj, "update", actor=actor, now=now, summary=f"Updated {label}",
                   changes=changes)
    return obj
