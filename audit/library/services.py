"""Loading standards and their clause trees from YAML data files (titles only)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Clause, Standard, StandardStatus
from audit.trail.services import record

DEFAULT_LIBRARY = Path(__file__).parent / "data" / "iso-clauses.yaml"


def clause_depth(number: str) -> int:
    return number.count(".")


def parent_number(number: str) -> str | None:
    return number.rsplit(".", 1)[0] if "." in number else None


def load_standards(documents: list[dict], *, actor=None, now: dt.datetime) -> list[Standard]:
    """Create or update standards and clauses from parsed documents, idempotently.

    Each document: ``standard``, ``edition``, ``title``, optional ``amendments`` and ``status``,
    and ``clauses`` (``number`` plus ``title`` or ``untitled: true``) in document order.
    Existing clauses keep their ids so checklists and findings that cite them stay valid.
    """
    loaded = []
    for doc in documents:
        code, edition = str(doc["standard"]).strip(), str(doc["edition"]).strip()
        standard = db.session.scalar(
            select(Standard).where(Standard.code == code, Standard.edition == edition)
        )
        created = standard is None
        if created:
            standard = Standard(code=code, edition=edition, title=doc.get("title") or code)
            db.session.add(standard)
        standard.title = doc.get("title") or standard.title
        standard.amendments = list(doc.get("amendments") or [])
        standard.status = StandardStatus(doc.get("status") or "current")
        db.session.flush()
        existing = {c.number: c for c in db.session.scalars(
            select(Clause).where(Clause.standard_id == standard.id))}
        by_number: dict[str, Clause] = {}
        changed = 0
        for position, entry in enumerate(doc.get("clauses") or []):
            number = str(entry["number"]).strip()
            if number in by_number:
                raise DomainError(f"{code}: clause {number} appears twice.")
            title = None if entry.get("untitled") else str(entry.get("title") or "").strip() or None
            clause = existing.get(number) or Clause(standard=standard, number=number)
            parent = by_number.get(parent_number(number) or "")
            if (clause.id is None or clause.title != title or clause.position != position
                    or clause.parent_id != (parent.id if parent else None)):
                changed += 1
            clause.title, clause.position, clause.depth = title, position, clause_depth(number)
            clause.parent = parent
            db.session.add(clause)
            db.session.flush()
            by_number[number] = clause
        if created or changed:
            record(standard, "import" if created else "update", actor=actor, now=now,
                   summary=f"Loaded {standard.label}: {len(by_number)} clauses ({changed} changed)",
                   changes={"clauses": len(by_number), "changed": changed})
        loaded.append(standard)
    return loaded


def load_library_file(path: Path = DEFAULT_LIBRARY, *, actor=None, now: dt.datetime) -> list[Standard]:
    """Load every standard in a multi-document YAML file."""
    with open(path, encoding="utf-8") as fh:
        documents = [d for d in yaml.safe_load_all(fh) if d]
    return load_standards(documents, actor=actor, now=now)
