"""The clause library: loading, importing and exporting standards, clause trees and the
cross-standard equivalence (titles and numbers only, never requirement text).

Every loader validates the whole input first and reports every problem with its line; only a
clean file is written, so a bad file leaves the database untouched. Loading is idempotent:
clauses are matched by number and keep their ids, so checklists and findings that cite them
stay valid when a library file is loaded again.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.lengths import length_problem
from audit.extensions import db
from audit.library.io import ImportFailed, dump_yaml, field_line, line_of, parse_yaml, read_csv, write_csv
from audit.models import Clause, ClauseTopic, Standard, StandardStatus
from audit.trail.services import record

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_LIBRARY = DATA_DIR / "iso-clauses.yaml"
DEFAULT_EQUIVALENCES = DATA_DIR / "harmonized-structure.yaml"

#: Clause numbers: "4", "7.1.5.1", also annex-style "A.5.1" for other standards.
CLAUSE_NUMBER = re.compile(r"^[A-Za-z0-9]{1,4}(\.[A-Za-z0-9]{1,4}){0,6}$")

CLAUSE_CSV_COLUMNS = ("standard", "edition", "standard_title", "number", "title", "untitled")


def clause_depth(number: str) -> int:
    return number.count(".")


def parent_number(number: str) -> str | None:
    return number.rsplit(".", 1)[0] if "." in number else None


def number_key(number: str) -> tuple:
    """Sort key that orders 9 before 10 and A.2 before A.10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in number.split("."))


# --- validation -------------------------------------------------------------------------------


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def validate_standard_documents(documents: list[dict]) -> list[tuple[int | None, str]]:
    """Every problem of parsed standard documents, as (line, message); empty when all is well."""
    errors: list[tuple[int | None, str]] = []
    seen_standards: set[tuple[str, str]] = set()
    for doc in documents:
        line = line_of(doc)
        code, edition = _text(doc.get("standard")), _text(doc.get("edition"))
        if not code:
            errors.append((line, "“standard” (the code, e.g. ISO 13485) is missing"))
        if not edition:
            errors.append((line, "“edition” (e.g. 2016) is missing"))
        for key, model_attr, value in (("standard", "code", code), ("edition", "edition", edition),
                                       ("title", "title", _text(doc.get("title")))):
            if problem := length_problem(Standard, model_attr, value, f"“{key}”"):
                errors.append((field_line(doc, key), problem))
        if (code, edition) in seen_standards:
            errors.append((line, f"{code}:{edition} appears twice in the file"))
        seen_standards.add((code, edition))
        status = _text(doc.get("status") or "current")
        if status not in {s.value for s in StandardStatus}:
            errors.append((line, f"status “{status}” is not one of current, withdrawn, draft"))
        ends = doc.get("transition_ends_on")
        if ends not in (None, "") and not isinstance(ends, dt.date):
            try:
                dt.date.fromisoformat(str(ends))
            except ValueError:
                errors.append((line, f"transition_ends_on “{ends}” is not a date (YYYY-MM-DD)"))
        amendments = doc.get("amendments")
        if amendments is not None and not isinstance(amendments, list):
            errors.append((line, "“amendments” must be a list"))
        clauses = doc.get("clauses")
        if not isinstance(clauses, list) or not clauses:
            errors.append((line, f"{code or 'standard'}: “clauses” must be a non-empty list"))
            continue
        numbers: set[str] = set()
        for entry in clauses:
            if not isinstance(entry, dict):
                errors.append((line, f"{code}: each clause needs “number” and “title”"))
                continue
            eline = line_of(entry) or line
            number = _text(entry.get("number"))
            if problem := length_problem(Clause, "number", number, f"clause number “{number[:20]}…”"):
                errors.append((eline, problem))
                continue
            if not CLAUSE_NUMBER.match(number):
                errors.append((eline, f"clause number “{number}” is not like 4, 7.1.5 or A.5.1"))
                continue
            if number in numbers:
                errors.append((eline, f"clause {number} appears twice"))
            parent = parent_number(number)
            if parent and parent not in numbers:
                errors.append((eline, f"clause {number} comes before its parent {parent}"))
            numbers.add(number)
            untitled = entry.get("untitled") in (True, "true", "yes", "1")
            title = _text(entry.get("title"))
            if untitled and title:
                errors.append((eline, f"clause {number} is marked untitled but has a title"))
            elif not untitled and not title:
                errors.append((eline, f"clause {number} needs a title (or untitled: true)"))
            elif len(title) > 250:
                errors.append((eline, f"clause {number}: title longer than 250 characters"))
    return errors


# --- loading ----------------------------------------------------------------------------------


def load_standards(documents: list[dict], *, actor=None, now: dt.datetime) -> list[Standard]:
    """Create or update standards and clauses from parsed documents, idempotently.

    Each document: ``standard``, ``edition``, ``title``, optional ``amendments``, ``status``
    and ``transition_ends_on``, and ``clauses`` (``number`` plus ``title`` or
    ``untitled: true``) in document order. Existing clauses keep their ids; clauses no longer in
    the file are kept (findings may cite them). Raises ImportFailed, writing nothing, when any
    entry is wrong.
    """
    errors = validate_standard_documents(documents)
    if errors:
        raise ImportFailed(errors)
    loaded = []
    for doc in documents:
        code, edition = _text(doc["standard"]), _text(doc["edition"])
        standard = db.session.scalar(
            select(Standard).where(Standard.code == code, Standard.edition == edition)
        )
        created = standard is None
        if created:
            standard = Standard(code=code, edition=edition, title=_text(doc.get("title")) or code)
            db.session.add(standard)
        meta_changes = {}
        ends = doc.get("transition_ends_on")
        if ends not in (None, "") and not isinstance(ends, dt.date):
            ends = dt.date.fromisoformat(str(ends))
        for attr, value in (
            ("title", _text(doc.get("title")) or standard.title),
            ("amendments", [str(a) for a in doc.get("amendments") or []]),
            ("status", StandardStatus(_text(doc.get("status") or "current"))),
            ("transition_ends_on", ends or None),
        ):
            if getattr(standard, attr) != value:
                meta_changes[attr] = str(value)
                setattr(standard, attr, value)
        db.session.flush()
        existing = {
            c.number: c
            for c in db.session.scalars(select(Clause).where(Clause.standard_id == standard.id))
        }
        by_number: dict[str, Clause] = {}
        changed = 0
        for position, entry in enumerate(doc["clauses"]):
            number = _text(entry["number"])
            untitled = entry.get("untitled") in (True, "true", "yes", "1")
            title = None if untitled else _text(entry.get("title"))
            clause = existing.get(number)
            if clause is None:
                clause = Clause(standard=standard, number=number)
                db.session.add(clause)
            parent = by_number.get(parent_number(number) or "")
            # Parents are in the identity map already, so comparing them costs no query.
            if (clause.id is None or clause.title != title or clause.position != position
                    or clause.parent is not parent):
                changed += 1
                clause.title, clause.position = title, position
                clause.depth = clause_depth(number)
                clause.parent = parent
            by_number[number] = clause
        db.session.flush()
        if created or changed or meta_changes:
            record(standard, "import" if created else "update", actor=actor, now=now,
                   summary=f"Loaded {standard.label}: {len(by_number)} clauses ({changed} changed)",
                   changes={"clauses": len(by_number), "changed": changed, **meta_changes})
        loaded.append(standard)
    return loaded


def load_library_file(path: Path = DEFAULT_LIBRARY, *, actor=None, now: dt.datetime) -> list[Standard]:
    """Load every standard in a multi-document YAML file.

    Loading the shipped library also loads the shipped cross-standard equivalence, so one call
    (CLI ``library load``, the demo, a test fixture) gives the complete default library.
    """
    documents = parse_yaml(Path(path).read_text(encoding="utf-8"))
    standards = load_standards(documents, actor=actor, now=now)
    if Path(path) == DEFAULT_LIBRARY:
        load_equivalence_file(DEFAULT_EQUIVALENCES, actor=actor, now=now)
    return standards


def import_standards(text: str, fmt: str, *, actor, now: dt.datetime) -> list[Standard]:
    """Import clause trees from an uploaded YAML or CSV text (see ``export_standard``)."""
    if fmt == "yaml":
        documents = parse_yaml(text)
    elif fmt == "csv":
        documents = clause_documents_from_csv(text)
    else:
        raise ImportFailed([(None, f"unknown format “{fmt}”: use yaml or csv")], field="fmt")
    if not documents:
        raise ImportFailed([(None, "the file holds no standard")])
    return load_standards(documents, actor=actor, now=now)


def clause_documents_from_csv(text: str) -> list[dict]:
    """Group CSV rows (one clause per row) into one document per standard, in file order."""
    rows = read_csv(text, required=("standard", "edition", "number"), allowed=CLAUSE_CSV_COLUMNS)
    documents: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row.get("standard", ""), row.get("edition", ""))
        doc = documents.get(key)
        if doc is None:
            doc = documents[key] = type(row)(standard=key[0], edition=key[1], clauses=[])
            doc.line = row.line
        if row.get("standard_title"):
            doc["title"] = row["standard_title"]
        entry = type(row)(number=row.get("number", ""), title=row.get("title", ""))
        entry.line = row.line
        if (row.get("untitled") or "").lower() in ("true", "yes", "1", "x"):
            entry["untitled"] = True
        doc["clauses"].append(entry)
    return list(documents.values())


# --- export -----------------------------------------------------------------------------------


def standard_document(standard: Standard) -> dict:
    """The data-file form of a standard (same shape ``load_standards`` reads)."""
    doc: dict = {"standard": standard.code, "edition": standard.edition}
    if standard.amendments:
        doc["amendments"] = list(standard.amendments)
    doc["title"] = standard.title
    if standard.status != StandardStatus.CURRENT:
        doc["status"] = standard.status.value
    if standard.transition_ends_on:
        doc["transition_ends_on"] = standard.transition_ends_on.isoformat()
    doc["clauses"] = [
        {"number": c.number, "untitled": True} if c.title is None
        else {"number": c.number, "title": c.title}
        for c in standard.clauses
    ]
    return doc


def export_standard(standard: Standard, fmt: str) -> str:
    """A standard's clause tree as YAML or CSV text."""

    if fmt == "yaml":
        return dump_yaml([standard_document(standard)])
    rows = [
        [standard.code, standard.edition, standard.title, c.number, c.title or "",
         "true" if c.title is None else ""]
        for c in standard.clauses
    ]
    return write_csv(list(CLAUSE_CSV_COLUMNS), rows)


# --- cross-standard equivalence ---------------------------------------------------------------


def clause_index() -> dict[tuple[str, str], Clause]:
    """Every clause by (standard label "CODE:EDITION", number), in one query."""
    clauses = db.session.scalars(select(Clause).options(joinedload(Clause.standard)))
    return {(c.standard.label, c.number): c for c in clauses}


def clause_ref(clause: Clause) -> str:
    """The reference used in data files: ``"ISO 9001:2015 8.4.1"``."""
    return f"{clause.standard.label} {clause.number}"


def split_clause_ref(ref: str) -> tuple[str, str]:
    """``"ISO 9001:2015 8.4.1"`` → (``"ISO 9001:2015"``, ``"8.4.1"``)."""
    label, _, number = str(ref).strip().rpartition(" ")
    return label.strip(), number.strip()


def load_equivalences(document: dict, *, actor=None, now: dt.datetime) -> list[ClauseTopic]:
    """Create or update harmonized-structure topics and their clause links, idempotently."""
    index = clause_index()
    topics = document.get("topics")
    errors: list[tuple[int | None, str]] = []
    if not isinstance(topics, list):
        raise ImportFailed([(line_of(document), "“topics” must be a list")])
    planned = []
    keys: set[str] = set()
    for entry in topics:
        line = line_of(entry)
        key, name = _text(entry.get("key")), _text(entry.get("name"))
        if not key or not name:
            errors.append((line, "each topic needs a key and a name"))
            continue
        if key in keys:
            errors.append((line, f"topic {key} appears twice"))
        keys.add(key)
        clauses = []
        for label, numbers in (entry.get("clauses") or {}).items():
            for number in numbers or []:
                clause = index.get((str(label), str(number)))
                if clause is None:
                    errors.append((line, f"topic {key}: no clause {label} {number} in the library"))
                else:
                    clauses.append(clause)
        planned.append((entry, key, name, clauses))
    if errors:
        raise ImportFailed(errors)
    existing = {t.key: t for t in db.session.scalars(
        select(ClauseTopic).options(selectinload(ClauseTopic.clauses)))}
    result = []
    for position, (entry, key, name, clauses) in enumerate(planned):
        topic = existing.get(key)
        created = topic is None
        if created:
            topic = ClauseTopic(key=key, name=name, position=position)
            db.session.add(topic)
        new_ids = sorted(c.id for c in clauses)
        old_ids = sorted(c.id for c in topic.clauses) if not created else []
        description = _text(entry.get("description")) or None
        if created or new_ids != old_ids or topic.name != name or topic.position != position \
                or topic.description != description:
            topic.name, topic.position, topic.description = name, position, description
            topic.clauses = clauses
            db.session.flush()
            record(topic, "import" if created else "update", actor=actor, now=now,
                   summary=f"Equivalence {key}: {', '.join(clause_ref(c) for c in clauses)}",
                   changes={"clauses": [clause_ref(c) for c in clauses]})
        result.append(topic)
    return result


def load_equivalence_file(path: Path = DEFAULT_EQUIVALENCES, *, actor=None,
                          now: dt.datetime) -> list[ClauseTopic]:
    """Load the topics of an equivalence YAML file."""
    documents = parse_yaml(Path(path).read_text(encoding="utf-8"))
    return [t for doc in documents for t in load_equivalences(doc, actor=actor, now=now)]


def equivalent_clauses(clause: Clause) -> list[Clause]:
    """Clauses of other standards with the same meaning (sharing a harmonized topic).

    Expects ``clause.topics`` and their clauses loaded (see ``clause_tree_query``) when called
    in a loop.
    """
    seen: dict[int, Clause] = {}
    for topic in clause.topics:
        for other in topic.clauses:
            if other.standard_id != clause.standard_id:
                seen.setdefault(other.id, other)
    return sorted(seen.values(), key=lambda c: (c.standard_id, c.position))


# --- browsing ---------------------------------------------------------------------------------


def clause_tree(standard: Standard, search: str | None = None) -> list[Clause]:
    """A standard's clauses in document order with their equivalents loaded (constant queries).

    ``search`` matches a number prefix ("8.4") or words of the title; the ancestors of every
    match are kept so the tree still reads top-down.
    """
    stmt = (
        select(Clause)
        .where(Clause.standard_id == standard.id)
        .options(selectinload(Clause.topics).selectinload(ClauseTopic.clauses)
                 .joinedload(Clause.standard))
        .order_by(Clause.position)
    )
    clauses = list(db.session.scalars(stmt))
    query = _text(search).lower()
    if not query:
        return clauses
    by_number = {c.number: c for c in clauses}
    keep: set[str] = set()
    for c in clauses:
        if c.number == query or c.number.startswith(query + ".") or (
                c.title and all(word in c.title.lower() for word in query.split())):
            number: str | None = c.number
            while number:
                keep.add(number)
                number = parent_number(number)
    return [c for c in clauses if c.number in keep and c.number in by_number]


def search_clauses(query: str, limit: int = 50) -> list[Clause]:
    """Clauses of every standard whose number or title matches ``query`` (for pickers)."""
    q = _text(query)
    if not q:
        return []
    stmt = (
        select(Clause)
        .join(Clause.standard)
        .options(joinedload(Clause.standard))
        .where(or_(Clause.number.startswith(q), Clause.title.ilike(f"%{q}%")))
        .order_by(Standard.code, Clause.position)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
