"""File sizes in words people act on: one wording for every "too large" refusal, so that the
tablet (static/js/photo-prepare.mjs mirrors it), the evidence service and the request limit
say the same thing about the same limit."""

from __future__ import annotations

MEGABYTE = 1_048_576


def megabytes(size: int) -> str:
    """``12582912`` → ``"12 MB"``, ``16567500`` → ``"15.8 MB"`` (one decimal, none when whole)."""
    text = f"{size / MEGABYTE:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + " MB"


def too_large_message(size: int | None, limit: int) -> str:
    """The refusal of a file over ``limit`` bytes; names its size when known."""
    if size is None:
        return f"The file is too large: the limit is {megabytes(limit)}."
    return f"The file is too large ({megabytes(size)}): the limit is {megabytes(limit)}."
