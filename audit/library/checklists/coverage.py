"""Checklist coverage: which clauses of a standard a checklist version examines, and how."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.extensions import db
from audit.library.checklists.versions import questions_of
from audit.models import ChecklistTemplateVersion, Clause, ClauseTopic, Standard

#: Coverage status → (label in the table, pill class); the page's table and summary use both.
COVERAGE_STATES = {
    "direct": ("covered", "ok"),
    "equivalent": ("via equivalent", "ok"),
    "sub-clauses": ("sub-clauses only", "warn"),
    "missed": ("missed", "bad"),
}

def coverage(version: ChecklistTemplateVersion, standard: Standard,
             use_equivalents: bool = True) -> list[dict]:
    """For every clause of ``standard`` from 4.1 on: how ``version`` covers it.

    status: "direct" (a question maps to it), "equivalent" (a question maps to a clause of
    another standard with the same meaning), "sub-clauses" (only some children are covered),
    or "missed". Untitled paragraphs count for their parent. Constant number of queries.
    """
    clauses = list(db.session.scalars(
        select(Clause).where(Clause.standard_id == standard.id)
        .options(selectinload(Clause.topics).selectinload(ClauseTopic.clauses))
        .order_by(Clause.position)))
    mapped: dict[int, list[str]] = {}
    for q in questions_of(version):
        for c in q.clauses:
            mapped.setdefault(c.id, []).append(q.key)
    rows = []
    direct_numbers = set()
    for c in clauses:
        if c.id in mapped:
            direct_numbers.add(c.number)
    for c in clauses:
        if c.depth == 0 or c.title is None:
            continue
        keys = list(mapped.get(c.id, []))
        # An untitled paragraph's questions count for the titled clause above it.
        for child in clauses:
            if child.parent_id == c.id and child.title is None:
                keys += mapped.get(child.id, [])
        status = "direct" if keys else "missed"
        via: list[str] = []
        if not keys and use_equivalents:
            for topic in c.topics:
                for other in topic.clauses:
                    if other.standard_id != standard.id and other.id in mapped:
                        via.extend(mapped[other.id])
            if via:
                status, keys = "equivalent", sorted(set(via))
        if status == "missed" and any(n.startswith(c.number + ".") for n in direct_numbers):
            status = "sub-clauses"
        label, css = COVERAGE_STATES[status]
        rows.append({"clause": c, "status": status, "questions": keys, "label": label, "css": css})
    return rows


def coverage_summary(rows: list[dict]) -> dict:
    """Counts per status and the share of titled clauses covered at all."""
    counts = {s: 0 for s in COVERAGE_STATES}
    for row in rows:
        counts[row["status"]] += 1
    total = len(rows)
    covered = total - counts["missed"]
    counts["total"] = total
    counts["percent"] = round(100 * covered / total) if total else 0
    return counts
