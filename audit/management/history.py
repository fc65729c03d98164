"""What a value was at a past instant, read back from the trail (``TrailEntry``).

Every status change is trailed with ``{field: [old, new]}`` (creates with ``{field: value}``),
so the value at ``instant`` is the last one set before it; when the first change came later, the
value before that change is its ``old``. Rows without any trailed change keep their current
value. One query per call, whatever the number of objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select

from audit.extensions import db
from audit.models import TrailEntry


def _entries(object_type: str, ids: Iterable[int]) -> dict[int, list[TrailEntry]]:
    ids = sorted(set(ids))
    by_object: dict[int, list[TrailEntry]] = {i: [] for i in ids}
    if not ids:
        return by_object
    rows = db.session.scalars(select(TrailEntry).where(
        TrailEntry.object_type == object_type, TrailEntry.object_id.in_(ids))
        .order_by(TrailEntry.at, TrailEntry.id))
    for entry in rows:
        by_object[entry.object_id].append(entry)
    return by_object


def values_as_of(object_type: str, current: dict[int, object], field: str,
                 instant: dt.datetime) -> dict[int, object]:
    """``{id: value of field at instant}`` for the objects in ``current`` (id → today's value,
    as stored in the trail: an enum's value)."""
    result = {}
    for obj_id, entries in _entries(object_type, current).items():
        changes = [e for e in entries if isinstance(e.changes, dict) and field in e.changes]
        before = [e for e in changes if e.at < instant]
        if before:
            value = before[-1].changes[field]
            result[obj_id] = value[1] if isinstance(value, list) and len(value) == 2 else value
            continue
        later = [e for e in changes if isinstance(e.changes[field], list) and len(e.changes[field]) == 2]
        result[obj_id] = later[0].changes[field][0] if later else current[obj_id]
    return result


def created_after(object_type: str, ids: Iterable[int], instant: dt.datetime) -> set[int]:
    """Ids among ``ids`` whose creation was trailed at or after ``instant`` (they did not exist)."""
    return {obj_id for obj_id, entries in _entries(object_type, ids).items()
            if any(e.action == "create" and e.at >= instant for e in entries)}
