"""Values their column cannot hold are refused on every database, with a message, before the flush.

SQLite stores any length in a ``VARCHAR(40)``; PostgreSQL raises ``DataError`` (a 500). An
imported standard code of 300 characters was therefore stored on one and crashed the other.
A ``before_flush`` hook compares every pending string with its column's length and raises a
``DomainError``, which the service's caller rolls back and shows, so nothing is stored and all
databases behave alike. Importers also check lengths themselves to name the offending line.
The same hook refuses whole numbers beyond a 32-bit INTEGER column and decimals beyond a
NUMERIC column's precision (PostgreSQL: "integer out of range", "numeric field overflow").
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric, event, inspect

from audit.core.errors import DomainError
from audit.core.text import INT32_MAX, INT32_MIN


def column_length(model, attribute: str) -> int | None:
    """The declared length of ``model.attribute``'s string column, or None when unbounded."""
    column = inspect(model).columns.get(attribute)
    return getattr(column.type, "length", None) if column is not None else None


def length_problem(model, attribute: str, value, what: str | None = None) -> str | None:
    """A message when ``value`` is longer than ``model.attribute``'s column allows, else None."""
    limit = column_length(model, attribute)
    if limit is None or not isinstance(value, str) or len(value) <= limit:
        return None
    return f"{what or _label(model, attribute)} is too long: at most {limit} characters ({len(value)} given)"


def range_problem(model, attribute: str, value) -> str | None:
    """A message when the number ``value`` does not fit ``model.attribute``'s numeric column."""
    column = inspect(model).columns.get(attribute)
    if column is None or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    kind = column.type
    if isinstance(kind, Integer) and not isinstance(kind, BigInteger) and isinstance(value, int):
        if not INT32_MIN <= value <= INT32_MAX:
            return f"{_label(model, attribute)} is too large a number"
    elif isinstance(kind, Numeric) and kind.precision:
        limit = Decimal(10) ** (kind.precision - (kind.scale or 0))
        if not abs(Decimal(str(value))) < limit:
            return f"{_label(model, attribute)} is too large: it must be below {limit:,}"
    return None


def _label(model, attribute: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()
    return f"the {words} {attribute.replace('_', ' ')}"


def _check_pending(session, _flush_context, _instances) -> None:
    for obj in itertools.chain(session.new, session.dirty):
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            # Loaded values only (never a query inside flush); of a stored row only what changed,
            # so an old over-long value cannot block an unrelated edit.
            if not state.transient and not state.pending and not state.attrs[attr.key].history.added:
                continue
            value = state.dict.get(attr.key)
            if isinstance(value, str):
                problem = length_problem(type(obj), attr.key, value)
            else:
                problem = range_problem(type(obj), attr.key, value)
            if problem:
                raise DomainError(problem[0].upper() + problem[1:] + ".")


def init_app(session) -> None:
    """Install the check on ``session`` (the application's scoped session), once."""
    if not event.contains(session, "before_flush", _check_pending):
        event.listen(session, "before_flush", _check_pending)
