"""Checklist templates as files: YAML/CSV export and import, and the shipped default checklists.

An import checks the whole file first and lists every faulty line; nothing is stored unless the
file is clean. Export and import round-trip.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from audit.core.lengths import length_problem
from audit.extensions import db
from audit.library.checklists.builder import new_question
from audit.library.checklists.validation import (
    QUESTION_FIELDS,
    check_conditions,
    clean_question,
    clean_text,
)
from audit.library.checklists.versions import (
    draft_of,
    next_version_number,
    publish_version,
    published_version,
)
from audit.library.io import (
    ImportFailed,
    LineDict,
    dump_yaml,
    field_line,
    line_of,
    parse_yaml,
    read_csv,
    write_csv,
)
from audit.library.services import clause_index, clause_ref, split_clause_ref
from audit.models import (
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    VersionStatus,
)
from audit.trail.services import record

DATA_DIR = Path(__file__).parent.parent / "data"

#: Shipped default checklists: key used by other features → data file.
DEFAULT_CHECKLISTS = {
    "internal_9001": DATA_DIR / "checklist-iso9001-internal.yaml",
    "supplier": DATA_DIR / "checklist-supplier-8.4.yaml",
    "surveillance": DATA_DIR / "checklist-surveillance.yaml",
}

TEMPLATE_CSV_COLUMNS = (
    "template", "section", "key", "text", "guidance", "answer_type", "clauses", "choices",
    "min_value", "max_value", "evidence_required", "photo_required", "weight",
    "condition_key", "condition_value",
)

# --- import and export ------------------------------------------------------------------------


def _num_out(value: float | None):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def sorted_clauses(clauses) -> list[Clause]:
    """Clauses in a stable order: by standard (code, edition), then document order."""
    return sorted(clauses, key=lambda c: (c.standard.code, c.standard.edition, c.position))


def question_document(q: ChecklistQuestion) -> dict:
    """The data-file form of one question (defaults left out to keep files short)."""
    doc: dict = {"key": q.key, "text": q.text}
    if q.guidance:
        doc["guidance"] = q.guidance
    doc["answer_type"] = q.answer_type.value
    if q.choices:
        doc["choices"] = list(q.choices)
    for attr in ("min_value", "max_value"):
        if getattr(q, attr) is not None:
            doc[attr] = _num_out(getattr(q, attr))
    doc["clauses"] = [clause_ref(c) for c in sorted_clauses(q.clauses)]
    if q.evidence_required:
        doc["evidence_required"] = True
    if q.photo_required:
        doc["photo_required"] = True
    if q.weight is not None:
        doc["weight"] = _num_out(q.weight)
    if q.condition_key:
        doc["condition_key"] = q.condition_key
        doc["condition_value"] = q.condition_value
    return doc


def template_document(version: ChecklistTemplateVersion) -> dict:
    """The data-file form of a template version (what ``import_template`` reads)."""
    doc: dict = {"template": version.template.name}
    if version.template.description:
        doc["description"] = version.template.description
    doc["sections"] = [
        {"title": s.title, "questions": [question_document(q) for q in s.questions]}
        for s in version.sections
    ]
    return doc


def export_template(version: ChecklistTemplateVersion, fmt: str) -> str:
    """A template version as YAML or CSV text (one question per CSV row)."""
    if fmt == "yaml":
        return dump_yaml([template_document(version)])
    rows = []
    for section in version.sections:
        for q in section.questions:
            d = question_document(q)
            rows.append([
                version.template.name, section.title, q.key, q.text, q.guidance,
                q.answer_type.value, "; ".join(d["clauses"]), "|".join(q.choices or []),
                _num_out(q.min_value), _num_out(q.max_value),
                "true" if q.evidence_required else "", "true" if q.photo_required else "",
                _num_out(q.weight), q.condition_key, q.condition_value,
            ])
    return write_csv(list(TEMPLATE_CSV_COLUMNS), rows)


def template_document_from_csv(text: str) -> dict:
    """Rebuild the template document from CSV rows (consecutive rows of a section group)."""
    rows = read_csv(text, required=("template", "section", "key", "text"),
                    allowed=TEMPLATE_CSV_COLUMNS)
    if not rows:
        raise ImportFailed([(None, "the file holds no question")])
    names = {r.get("template", "") for r in rows}
    if len(names) > 1:
        raise ImportFailed([(rows[0].line, "every row must name the same template, found: "
                             + ", ".join(sorted(names)))])
    doc = LineDict(template=rows[0].get("template", ""), sections=[])
    doc.line = rows[0].line
    current = None
    for row in rows:
        if current is None or current["title"] != row.get("section", ""):
            current = LineDict(title=row.get("section", ""), questions=[])
            current.line = row.line
            doc["sections"].append(current)
        q = LineDict({k: v for k, v in row.items() if k not in ("template", "section") and v})
        q.line = row.line
        if row.get("clauses"):
            q["clauses"] = [c.strip() for c in row["clauses"].split(";") if c.strip()]
        current["questions"].append(q)
    return doc


def _plan_template(doc: dict) -> tuple[dict, list[tuple[int | None, str]]]:
    """Validate a template document completely; returns (plan, errors)."""
    errors: list[tuple[int | None, str]] = []
    line = line_of(doc)
    name = clean_text(doc.get("template"))
    if not name:
        errors.append((line, "“template” (the checklist's name) is missing"))
    elif len(name) > 160:
        errors.append((line, "the template name is longer than 160 characters"))
    sections_raw = doc.get("sections")
    if not isinstance(sections_raw, list) or not sections_raw:
        errors.append((line, "“sections” must be a non-empty list"))
        sections_raw = []
    index = clause_index()
    sections, flat, lines = [], [], []
    keys: set[str] = set()
    for s_raw in sections_raw:
        s_line = line_of(s_raw) or line
        if not isinstance(s_raw, dict):
            errors.append((s_line, "each section needs a title and questions"))
            continue
        title = clean_text(s_raw.get("title"))
        if not title:
            errors.append((s_line, "a section title is missing"))
        elif problem := length_problem(ChecklistSection, "title", title, "the section title"):
            errors.append((s_line, problem))
        questions_raw = s_raw.get("questions")
        if not isinstance(questions_raw, list) or not questions_raw:
            errors.append((s_line, f"section “{title}” has no questions"))
            questions_raw = []
        questions = []
        for q_raw in questions_raw:
            q_line = line_of(q_raw) or s_line
            if not isinstance(q_raw, dict):
                errors.append((q_line, "each question must be a mapping with key and text"))
                continue
            unknown = set(q_raw) - set(QUESTION_FIELDS) - {"clauses"}
            if unknown:
                errors.append((q_line, "unknown field(s): " + ", ".join(sorted(map(str, unknown)))))
            refs = q_raw.get("clauses") or []
            if isinstance(refs, str):
                refs = [r for r in refs.split(";")]
            clauses = []
            for ref in refs:
                clause = index.get(split_clause_ref(ref))
                if clause is None:
                    errors.append((field_line(q_raw, "clauses"), f"no clause “{clean_text(ref)}” in the library (write it "
                                           "like “ISO 9001:2015 8.4.1”)"))
                elif clause not in clauses:
                    clauses.append(clause)
            values, problems = clean_question(q_raw, clauses=clauses)
            errors.extend((field_line(q_raw, field), msg) for field, msg in problems)
            if values["key"] in keys:
                errors.append((field_line(q_raw, "key"), f"key “{values['key']}” is used twice"))
            keys.add(values["key"])
            questions.append(values)
            flat.append(values)
            lines.append(q_raw)
        sections.append({"title": title, "questions": questions})
    for i, field, msg in check_conditions(flat):
        errors.append((field_line(lines[i], field), msg))
    plan = {"name": name, "description": clean_text(doc.get("description")) or None,
            "sections": sections}
    return plan, errors


def import_template(text: str, fmt: str, *, actor, now: dt.datetime, publish: bool = False,
                    change_note: str | None = None) -> ChecklistTemplateVersion:
    """Import a template (YAML or CSV, as ``export_template`` writes) as a new version.

    A new template gets version 1; an existing one gets a new version after its last. The
    whole file is checked first: any problem raises ImportFailed listing every faulty line,
    and nothing is stored. With ``publish`` the new version is published at once.
    """
    if fmt == "yaml":
        documents = parse_yaml(text)
        if len(documents) != 1:
            raise ImportFailed([(None, "a template file holds exactly one YAML document")])
        doc = documents[0]
    elif fmt == "csv":
        doc = template_document_from_csv(text)
    else:
        raise ImportFailed([(None, f"unknown format “{fmt}”: use yaml or csv")], field="fmt")
    return import_template_document(doc, actor=actor, now=now, publish=publish,
                                    change_note=change_note)


def import_template_document(doc: dict, *, actor, now: dt.datetime, publish: bool = False,
                             change_note: str | None = None) -> ChecklistTemplateVersion:
    """Import one parsed template document (see ``import_template``)."""
    plan, errors = _plan_template(doc)
    template = None
    if plan["name"]:
        template = db.session.scalar(
            select(ChecklistTemplate).where(func.lower(ChecklistTemplate.name)
                                            == plan["name"].lower()))
        if template is not None and draft_of(template) is not None:
            errors.append((line_of(doc), f"“{template.name}” already has a draft "
                           f"(v{draft_of(template).number}); publish or discard it first"))
    if errors:
        raise ImportFailed(errors)
    created = template is None
    if created:
        template = ChecklistTemplate(name=plan["name"], description=plan["description"],
                                     created_at=now)
        db.session.add(template)
        db.session.flush()
        record(template, "create", actor=actor, now=now, summary=f"Imported template {template.name}",
               changes={"name": template.name})
    elif plan["description"] and plan["description"] != template.description:
        record(template, "update", actor=actor, now=now, summary=f"Updated {template.name}",
               changes={"description": [template.description, plan["description"]]})
        template.description = plan["description"]
    version = ChecklistTemplateVersion(template=template, number=next_version_number(template),
                                       status=VersionStatus.DRAFT, created_at=now,
                                       change_note=change_note)
    db.session.add(version)
    for s_pos, s_plan in enumerate(plan["sections"]):
        section = ChecklistSection(title=s_plan["title"], position=s_pos)
        for q_pos, values in enumerate(s_plan["questions"]):
            section.questions.append(new_question(values, q_pos))
        version.sections.append(section)
    db.session.flush()
    count = sum(len(s["questions"]) for s in plan["sections"])
    record(version, "import", actor=actor, now=now,
           summary=f"Imported {template.name} v{version.number}: {count} questions",
           changes={"sections": len(plan["sections"]), "questions": count})
    if publish:
        publish_version(version, actor=actor, now=now, change_note=change_note)
    return version



# --- defaults ---------------------------------------------------------------------------------


def ensure_default_checklists(*, actor=None, now: dt.datetime) -> dict[str, ChecklistTemplateVersion]:
    """Import and publish the shipped checklists unless a published version already exists.

    Returns {"internal_9001" | "supplier" | "surveillance": published version}; running it
    twice creates nothing new.
    """
    result = {}
    for key, path in DEFAULT_CHECKLISTS.items():
        text = path.read_text(encoding="utf-8")
        name = clean_text(parse_yaml(text)[0].get("template"))
        version = published_version(name)
        if version is None:
            template = db.session.scalar(select(ChecklistTemplate).where(
                ChecklistTemplate.name == name))
            if template is not None and draft_of(template) is not None:
                version = publish_version(draft_of(template), actor=actor, now=now)
            else:
                version = import_template(text, "yaml", actor=actor, now=now, publish=True,
                                          change_note="Shipped default checklist")
        result[key] = version
    return result
