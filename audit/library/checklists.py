"""Checklist templates: versions, sections and clause-mapped questions, import and export.

Versioning rule: a **published** version never changes. Every editing service calls
``ensure_draft`` first and refuses to touch anything else; to change a published checklist,
``start_draft`` copies it into a new draft (questions keep their keys, so answers can be
compared across versions), and publishing the draft retires the previous published version.
Audits point at the exact version they used (``Audit.checklist_version_id``), so publishing
never changes an audit that is already running or done.

Other features pick the checklist to use with ``published_version(template_name)``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.errors import DomainError
from audit.core.lengths import length_problem
from audit.core.services import same_text
from audit.extensions import db
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
    AnswerType,
    Audit,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    ClauseTopic,
    Standard,
    Verdict,
    VersionStatus,
)
from audit.trail.services import record

DATA_DIR = Path(__file__).parent / "data"

#: Shipped default checklists: key used by other features → data file.
DEFAULT_CHECKLISTS = {
    "internal_9001": DATA_DIR / "checklist-iso9001-internal.yaml",
    "supplier": DATA_DIR / "checklist-supplier-8.4.yaml",
    "surveillance": DATA_DIR / "checklist-surveillance.yaml",
}

QUESTION_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
TEMPLATE_CSV_COLUMNS = (
    "template", "section", "key", "text", "guidance", "answer_type", "clauses", "choices",
    "min_value", "max_value", "evidence_required", "photo_required", "weight",
    "condition_key", "condition_value",
)
QUESTION_FIELDS = (
    "key", "text", "guidance", "answer_type", "choices", "min_value", "max_value",
    "evidence_required", "photo_required", "weight", "condition_key", "condition_value",
)
YES_NO = ("yes", "no")


# --- reading ----------------------------------------------------------------------------------


def version_query():
    """A select of versions with template, sections, questions and clauses eagerly loaded."""
    return select(ChecklistTemplateVersion).options(
        joinedload(ChecklistTemplateVersion.template),
        selectinload(ChecklistTemplateVersion.sections)
        .selectinload(ChecklistSection.questions)
        .selectinload(ChecklistQuestion.clauses)
        .joinedload(Clause.standard),
    )


def load_version(version_id: int) -> ChecklistTemplateVersion | None:
    """One version with everything a page needs, in a constant number of queries."""
    return db.session.scalar(version_query().where(ChecklistTemplateVersion.id == version_id))


def published_version(template_name: str) -> ChecklistTemplateVersion | None:
    """The current published version of the template called ``template_name`` (or None).

    This is what a new audit should use; store its id in ``Audit.checklist_version_id`` and
    the audit keeps that exact version even after the template is edited and republished.
    """
    return db.session.scalar(
        version_query()
        .join(ChecklistTemplateVersion.template)
        .where(ChecklistTemplate.name == template_name,
               ChecklistTemplateVersion.status == VersionStatus.PUBLISHED)
        .order_by(ChecklistTemplateVersion.number.desc())
        .limit(1)
    )


def published_versions() -> list[ChecklistTemplateVersion]:
    """Every template's current published version, by template name (for pickers)."""
    return list(db.session.scalars(
        select(ChecklistTemplateVersion)
        .join(ChecklistTemplateVersion.template)
        .options(joinedload(ChecklistTemplateVersion.template))
        .where(ChecklistTemplateVersion.status == VersionStatus.PUBLISHED)
        .order_by(ChecklistTemplate.name)
    ))


def draft_of(template: ChecklistTemplate) -> ChecklistTemplateVersion | None:
    return next((v for v in template.versions if v.status == VersionStatus.DRAFT), None)


def questions_of(version: ChecklistTemplateVersion) -> list[ChecklistQuestion]:
    return [q for s in version.sections for q in s.questions]


# --- validation of one question ---------------------------------------------------------------


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _number(value, what: str, problems: list) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        problems.append((what, f"{what.replace('_', ' ')} must be a number"))
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        problems.append((what, f"{what.replace('_', ' ')} “{value}” is not a number"))
        return None


def _flag(value, what: str, problems: list) -> bool:
    if value in (None, "", False, 0):
        return False
    if value is True or str(value).strip().lower() in ("true", "yes", "1", "x"):
        return True
    if str(value).strip().lower() in ("false", "no", "0"):
        return False
    problems.append((what, f"{what.replace('_', ' ')} must be true or false, not “{value}”"))
    return False


def allowed_answers(question_like: dict | ChecklistQuestion) -> tuple[str, ...] | None:
    """Answer values a condition may test for this question, or None when any text is fine."""
    get = question_like.get if isinstance(question_like, dict) else (
        lambda k: getattr(question_like, k))
    kind = get("answer_type")
    if kind == AnswerType.YES_NO:
        return YES_NO
    if kind == AnswerType.VERDICT:
        return tuple(v.value for v in Verdict)
    if kind == AnswerType.CHOICE:
        return tuple(get("choices") or ())
    return None


def clean_question(raw: dict, *, clauses: list[Clause]) -> tuple[dict, list[tuple[str, str]]]:
    """Normalise one question's values; returns (values, [(field, message)]).

    Conditions are checked against the other questions by ``check_conditions``.
    """
    problems: list[tuple[str, str]] = []
    key = _text(raw.get("key")).lower()
    if not QUESTION_KEY.match(key):
        problems.append(("key", f"key “{key}” must be 1-60 lower-case letters, digits, . _ -"))
    text = _text(raw.get("text"))
    if not text:
        problems.append(("text", "the question text is missing"))
    kind_raw = raw.get("answer_type") or AnswerType.VERDICT.value
    try:
        kind = kind_raw if isinstance(kind_raw, AnswerType) else AnswerType(_text(kind_raw).lower())
    except ValueError:
        kind = AnswerType.VERDICT
        problems.append(("answer_type", f"answer type “{kind_raw}” is not one of "
                         + ", ".join(a.value for a in AnswerType)))
    choices_raw = raw.get("choices")
    if isinstance(choices_raw, str):
        choices_raw = [c for c in choices_raw.replace("\n", "|").split("|")]
    choices = [_text(c) for c in (choices_raw or []) if _text(c)]
    if kind == AnswerType.CHOICE:
        if len(choices) < 2:
            problems.append(("choices", "a choice question needs at least two choices"))
        elif len(set(choices)) != len(choices):
            problems.append(("choices", "choices must be different from each other"))
    elif choices:
        problems.append(("choices", "only choice questions have choices"))
    min_value = _number(raw.get("min_value"), "min_value", problems)
    max_value = _number(raw.get("max_value"), "max_value", problems)
    if kind != AnswerType.NUMBER and (min_value is not None or max_value is not None):
        problems.append(("min_value", "only number questions have limits"))
    if min_value is not None and max_value is not None and min_value > max_value:
        problems.append(("max_value", "the upper limit is below the lower limit"))
    weight = _number(raw.get("weight"), "weight", problems)
    if weight is not None and not 0 <= weight <= 100:
        problems.append(("weight", "weight must be between 0 and 100"))
    condition_key = _text(raw.get("condition_key")).lower() or None
    condition_value = _text(raw.get("condition_value")) or None
    if bool(condition_key) != bool(condition_value):
        problems.append(("condition_value",
                         "a condition needs both the question key and the answer value"))
    if condition_key and condition_key == key:
        problems.append(("condition_key", "a question cannot depend on itself"))
    values = {
        "key": key, "text": text, "guidance": _text(raw.get("guidance")) or None,
        "answer_type": kind, "choices": choices or None,
        "min_value": min_value, "max_value": max_value,
        "evidence_required": _flag(raw.get("evidence_required"), "evidence_required", problems),
        "photo_required": _flag(raw.get("photo_required"), "photo_required", problems),
        "weight": weight, "condition_key": condition_key, "condition_value": condition_value,
        "clauses": clauses,
    }
    if len(text) > 2000:
        problems.append(("text", "keep the question under 2000 characters"))
    return values, problems


def check_conditions(questions: list[dict]) -> list[tuple[int, str, str]]:
    """Problems (index, field, message) of conditions: the referenced question must exist,
    come earlier, and the tested value must be an answer it can have."""
    problems = []
    index_of = {q["key"]: i for i, q in enumerate(questions)}
    for i, q in enumerate(questions):
        key = q.get("condition_key")
        if not key:
            continue
        target = index_of.get(key)
        if target is None:
            problems.append((i, "condition_key", f"condition refers to unknown question “{key}”"))
            continue
        if target >= i:
            problems.append((i, "condition_key",
                             f"condition refers to “{key}”, which must come earlier"))
        allowed = allowed_answers(questions[target])
        if allowed is not None and q["condition_value"] not in allowed:
            problems.append((i, "condition_value", f"“{q['condition_value']}” is not a possible "
                             f"answer of “{key}” ({', '.join(allowed)})"))
    return problems


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
    name = _text(doc.get("template"))
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
        title = _text(s_raw.get("title"))
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
                    errors.append((field_line(q_raw, "clauses"), f"no clause “{_text(ref)}” in the library (write it "
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
    plan = {"name": name, "description": _text(doc.get("description")) or None,
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
    version = ChecklistTemplateVersion(template=template, number=_next_number(template),
                                       status=VersionStatus.DRAFT, created_at=now,
                                       change_note=change_note)
    db.session.add(version)
    for s_pos, s_plan in enumerate(plan["sections"]):
        section = ChecklistSection(title=s_plan["title"], position=s_pos)
        for q_pos, values in enumerate(s_plan["questions"]):
            section.questions.append(_new_question(values, q_pos))
        version.sections.append(section)
    db.session.flush()
    count = sum(len(s["questions"]) for s in plan["sections"])
    record(version, "import", actor=actor, now=now,
           summary=f"Imported {template.name} v{version.number}: {count} questions",
           changes={"sections": len(plan["sections"]), "questions": count})
    if publish:
        publish_version(version, actor=actor, now=now, change_note=change_note)
    return version


def _next_number(template: ChecklistTemplate) -> int:
    if template.id is None:
        return 1
    current = db.session.scalar(select(func.max(ChecklistTemplateVersion.number))
                                .where(ChecklistTemplateVersion.template_id == template.id))
    return (current or 0) + 1


def _new_question(values: dict, position: int) -> ChecklistQuestion:
    q = ChecklistQuestion(position=position)
    for field in QUESTION_FIELDS:
        setattr(q, field, values[field])
    q.clauses = list(values["clauses"])
    return q


# --- versioning -------------------------------------------------------------------------------


def ensure_draft(version: ChecklistTemplateVersion, *, content: bool = True) -> None:
    """Refuse any change to a version that is not a draft (published versions are frozen).

    With ``content`` (every edit of sections and questions), a draft that an audit already
    uses is frozen too: the audit must keep exactly the questions it was started with.
    """
    if version.status != VersionStatus.DRAFT:
        raise DomainError(
            f"{version.label} is {version.status.value} and cannot change; "
            "start a new draft to edit this checklist."
        )
    if content and version.id is not None and db.session.scalar(
            select(Audit.id).where(Audit.checklist_version_id == version.id).limit(1)) is not None:
        raise DomainError(
            f"{version.label} is used by an audit and cannot change; publish it and start a "
            "new draft to edit this checklist."
        )


def create_template(name: str, description: str | None = None, *, actor,
                    now: dt.datetime) -> ChecklistTemplateVersion:
    """Create a template with an empty first draft version."""
    name = _text(name)
    if not name:
        raise DomainError("Give the checklist a name.", field="name")
    if len(name) > 160:
        raise DomainError("Keep the name under 160 characters.", field="name")
    if db.session.scalar(select(ChecklistTemplate.id).where(
            same_text(ChecklistTemplate.name, name))) is not None:
        raise DomainError(f"Another checklist is already called “{name}”.", field="name")
    template = ChecklistTemplate(name=name, description=_text(description) or None, created_at=now)
    version = ChecklistTemplateVersion(template=template, number=1, created_at=now)
    db.session.add_all([template, version])
    db.session.flush()
    record(template, "create", actor=actor, now=now, summary=f"Created checklist {name}",
           changes={"name": name, "description": template.description})
    return version


def update_template(template: ChecklistTemplate, name: str, description: str | None, *,
                    actor, now: dt.datetime) -> None:
    """Rename a template or change its description (not part of any version's content)."""
    name = _text(name)
    if not name:
        raise DomainError("Give the checklist a name.", field="name")
    if db.session.scalar(select(ChecklistTemplate.id).where(
            same_text(ChecklistTemplate.name, name),
            ChecklistTemplate.id != template.id)) is not None:
        raise DomainError(f"Another checklist is already called “{name}”.", field="name")
    changes = {}
    for attr, value in (("name", name), ("description", _text(description) or None)):
        if getattr(template, attr) != value:
            changes[attr] = [getattr(template, attr), value]
            setattr(template, attr, value)
    if changes:
        db.session.flush()
        record(template, "update", actor=actor, now=now, summary=f"Updated checklist {name}",
               changes=changes)


def start_draft(template: ChecklistTemplate, *, actor, now: dt.datetime) -> ChecklistTemplateVersion:
    """The template's draft: the existing one, or a new copy of its latest version.

    The copy keeps question keys, texts, flags and clause mappings; it is a separate set of
    rows, so published versions (and the audits using them) are never touched.
    """
    existing = draft_of(template)
    if existing is not None:
        return existing
    source = max(template.versions, key=lambda v: v.number, default=None)
    if source is not None:
        source = load_version(source.id)
    version = ChecklistTemplateVersion(template=template, number=_next_number(template),
                                       status=VersionStatus.DRAFT, created_at=now,
                                       based_on_id=source.id if source else None)
    db.session.add(version)
    for section in source.sections if source else []:
        copy = ChecklistSection(title=section.title, position=section.position)
        for q in section.questions:
            new = ChecklistQuestion(position=q.position)
            for field in QUESTION_FIELDS:
                value = getattr(q, field)
                setattr(new, field, list(value) if isinstance(value, list) else value)
            new.clauses = list(q.clauses)
            copy.questions.append(new)
        version.sections.append(copy)
    db.session.flush()
    record(version, "create", actor=actor, now=now,
           summary=f"Started draft v{version.number} of {template.name}"
           + (f" from v{source.number}" if source else ""),
           changes={"based_on": source.number if source else None})
    return version


def publishing_problems(version: ChecklistTemplateVersion) -> list[str]:
    """Why ``version`` cannot be published yet (empty list: it can)."""
    problems = []
    questions = questions_of(version)
    if not questions:
        problems.append("The checklist has no questions.")
    for section in version.sections:
        if not section.questions:
            problems.append(f"Section “{section.title}” has no questions.")
    for q in questions:
        if not q.clauses:
            problems.append(f"Question “{q.key}” is not mapped to any clause.")
    flat = [{field: getattr(q, field) for field in QUESTION_FIELDS} for q in questions]
    for i, _field, msg in check_conditions(flat):
        problems.append(f"Question “{flat[i]['key']}”: {msg}.")
    return problems


def publish_version(version: ChecklistTemplateVersion, *, actor, now: dt.datetime,
                    change_note: str | None = None) -> ChecklistTemplateVersion:
    """Freeze a draft: it becomes the template's published version; the previous published
    version is retired (audits that use it keep it)."""
    ensure_draft(version, content=False)
    problems = publishing_problems(version)
    if problems:
        raise DomainError("Cannot publish: " + " ".join(problems))
    previous = [v for v in version.template.versions
                if v.status == VersionStatus.PUBLISHED and v.id != version.id]
    for old in previous:
        old.status = VersionStatus.RETIRED
        record(old, "retire", actor=actor, now=now,
               summary=f"Retired {old.label} (superseded by v{version.number})",
               changes={"status": ["published", "retired"]})
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    version.published_by_id = getattr(actor, "id", None)
    if _text(change_note):
        version.change_note = _text(change_note)
    db.session.flush()
    record(version, "publish", actor=actor, now=now, summary=f"Published {version.label}",
           changes={"status": ["draft", "published"], "change_note": version.change_note})
    return version


def discard_draft(version: ChecklistTemplateVersion, *, actor, now: dt.datetime) -> None:
    """Delete a draft version (a template's only version cannot be discarded)."""
    ensure_draft(version)
    template = version.template
    if len(template.versions) == 1:
        raise DomainError("This is the checklist's only version; there is nothing to go back to.")
    record(version, "delete", actor=actor, now=now,
           summary=f"Discarded draft {version.label}", changes={})
    template.versions.remove(version)
    db.session.delete(version)
    db.session.flush()


# --- editing a draft --------------------------------------------------------------------------


def add_section(version: ChecklistTemplateVersion, title: str, *, actor,
                now: dt.datetime) -> ChecklistSection:
    """Append a section to a draft."""
    ensure_draft(version)
    title = _text(title)
    if not title:
        raise DomainError("Give the section a title.", field="title")
    section = ChecklistSection(title=title[:200],
                               position=len(version.sections))
    version.sections.append(section)
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Added section “{title}”",
           changes={"section": title})
    return section


def update_section(section: ChecklistSection, title: str, *, actor, now: dt.datetime) -> None:
    """Rename a section of a draft."""
    ensure_draft(section.version)
    title = _text(title)
    if not title:
        raise DomainError("Give the section a title.", field="title")
    if title != section.title:
        record(section.version, "update", actor=actor, now=now,
               summary=f"Renamed section “{section.title}” to “{title}”",
               changes={"section": [section.title, title]})
        section.title = title[:200]
        db.session.flush()


def delete_section(section: ChecklistSection, *, actor, now: dt.datetime) -> None:
    """Remove a section and its questions from a draft."""
    version = section.version
    ensure_draft(version)
    _refuse_if_conditioned_on(version, {q.key for q in section.questions})
    record(version, "update", actor=actor, now=now, summary=f"Removed section “{section.title}”",
           changes={"section": section.title, "questions": len(section.questions)})
    version.sections.remove(section)
    db.session.delete(section)
    _renumber(version.sections)
    db.session.flush()


def move_section(section: ChecklistSection, offset: int, *, actor, now: dt.datetime) -> None:
    """Move a section up (-1) or down (+1) within its draft."""
    version = section.version
    ensure_draft(version)
    sections = list(version.sections)
    i = sections.index(section)
    j = max(0, min(len(sections) - 1, i + offset))
    if i == j:
        return
    sections.insert(j, sections.pop(i))
    _renumber(sections)
    version.sections[:] = sections
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Moved section “{section.title}”",
           changes={"position": [i + 1, j + 1]})


def _renumber(items) -> None:
    for position, item in enumerate(items):
        item.position = position


def _refuse_if_conditioned_on(version: ChecklistTemplateVersion, keys: set[str],
                              ignore: ChecklistQuestion | None = None) -> None:
    for q in questions_of(version):
        if q.condition_key in keys and q is not ignore and q.key not in keys:
            raise DomainError(f"Question “{q.key}” is shown only depending on “{q.condition_key}”;"
                              " change that condition first.")


def _resolve_clauses(values: dict) -> list[Clause]:
    """The clauses chosen by id, plus their equivalents when ``include_equivalents`` is set."""
    ids = list(dict.fromkeys(int(i) for i in values.get("clause_ids") or []))
    if not ids:
        return []
    found = {c.id: c for c in db.session.scalars(
        select(Clause).where(Clause.id.in_(ids))
        .options(joinedload(Clause.standard),
                 selectinload(Clause.topics).selectinload(ClauseTopic.clauses)))}
    if any(i not in found for i in ids):
        raise DomainError("Some chosen clauses do not exist (any more).", field="clause_ids")
    clauses = [found[i] for i in ids]
    if values.get("include_equivalents"):
        from audit.library.services import equivalent_clauses

        for clause in list(clauses):
            clauses.extend(c for c in equivalent_clauses(clause) if c not in clauses)
    return sorted(clauses, key=lambda c: (c.standard.code, c.standard.edition, c.position))


def _validate_in_version(version, values: dict, current: ChecklistQuestion | None) -> None:
    others = [q for q in questions_of(version) if q is not current]
    if any(q.key == values["key"] for q in others):
        raise DomainError(f"Key “{values['key']}” is already used in this checklist.", field="key")
    if values["condition_key"]:
        target = next((q for q in others if q.key == values["condition_key"]), None)
        if target is None:
            raise DomainError(f"No question with key “{values['condition_key']}” in this "
                              "checklist.", field="condition_key")
        allowed = allowed_answers(target)
        if allowed is not None and values["condition_value"] not in allowed:
            raise DomainError(f"“{values['condition_value']}” is not a possible answer of "
                              f"“{target.key}” ({', '.join(allowed)}).", field="condition_value")


def add_question(section: ChecklistSection, values: dict, *, actor,
                 now: dt.datetime) -> ChecklistQuestion:
    """Append a question to a draft section.

    ``values`` holds the QUESTION_FIELDS (strings as a form sends them are fine) plus
    ``clause_ids``; problems raise DomainError naming the field.
    """
    version = section.version
    ensure_draft(version)
    clean, problems = clean_question(values, clauses=_resolve_clauses(values))
    if problems:
        field, message = problems[0]
        raise DomainError(message[0].upper() + message[1:] + ".", field=field)
    _validate_in_version(version, clean, None)
    question = _new_question(clean, len(section.questions))
    section.questions.append(question)
    db.session.flush()
    record(question, "create", actor=actor, now=now,
           summary=f"Added question {clean['key']} to {version.label}",
           changes=_question_snapshot(question))
    return question


def _question_snapshot(q: ChecklistQuestion) -> dict:
    from audit.trail.services import to_jsonable

    data = {field: to_jsonable(getattr(q, field)) for field in QUESTION_FIELDS}
    data["clauses"] = [clause_ref(c) for c in q.clauses]
    return data


def update_question(question: ChecklistQuestion, values: dict, *, actor,
                    now: dt.datetime) -> None:
    """Change a question of a draft (same rules as ``add_question``)."""
    version = question.section.version
    ensure_draft(version)
    clean, problems = clean_question(values, clauses=_resolve_clauses(values))
    if problems:
        field, message = problems[0]
        raise DomainError(message[0].upper() + message[1:] + ".", field=field)
    _validate_in_version(version, clean, question)
    if clean["key"] != question.key:
        _refuse_if_conditioned_on(version, {question.key}, ignore=question)
    before = _question_snapshot(question)
    for field in QUESTION_FIELDS:
        setattr(question, field, clean[field])
    question.clauses = list(clean["clauses"])
    db.session.flush()
    after = _question_snapshot(question)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        record(question, "update", actor=actor, now=now,
               summary=f"Changed question {question.key} in {version.label}", changes=changes)


def delete_question(question: ChecklistQuestion, *, actor, now: dt.datetime) -> None:
    """Remove a question from a draft (refused while another question depends on it)."""
    section = question.section
    ensure_draft(section.version)
    _refuse_if_conditioned_on(section.version, {question.key})
    record(section.version, "update", actor=actor, now=now,
           summary=f"Removed question {question.key}", changes={"question": question.key})
    section.questions.remove(question)
    db.session.delete(question)
    _renumber(section.questions)
    db.session.flush()


def move_question(question: ChecklistQuestion, offset: int, *, actor, now: dt.datetime) -> None:
    """Move a question up (-1) or down (+1); past the edge of its section it moves into the
    neighbouring section (to its end when moving up, to its start when moving down)."""
    section = question.section
    version = section.version
    ensure_draft(version)
    questions = list(section.questions)
    i = questions.index(question)
    j = i + offset
    if 0 <= j < len(questions):
        questions.insert(j, questions.pop(i))
        section.questions[:] = questions
        _renumber(section.questions)
        where = f"position {j + 1}"
    else:
        sections = list(version.sections)
        k = sections.index(section) + (1 if offset > 0 else -1)
        if not 0 <= k < len(sections):
            return
        target = sections[k]
        section.questions.remove(question)
        if offset > 0:
            target.questions.insert(0, question)
        else:
            target.questions.append(question)
        _renumber(section.questions)
        _renumber(target.questions)
        where = f"section “{target.title}”"
    db.session.flush()
    record(version, "update", actor=actor, now=now, summary=f"Moved question {question.key} to {where}",
           changes={"question": question.key})


# --- coverage ---------------------------------------------------------------------------------


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
    by_id = {c.id: c for c in clauses}
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
        rows.append({"clause": c, "status": status, "questions": keys})
    del by_id
    return rows


def coverage_summary(rows: list[dict]) -> dict:
    """Counts per status and the share of titled clauses covered at all."""
    counts = {s: 0 for s in ("direct", "equivalent", "sub-clauses", "missed")}
    for row in rows:
        counts[row["status"]] += 1
    total = len(rows)
    covered = total - counts["missed"]
    counts["total"] = total
    counts["percent"] = round(100 * covered / total) if total else 0
    return counts


# --- defaults ---------------------------------------------------------------------------------


def ensure_default_checklists(*, actor=None, now: dt.datetime) -> dict[str, ChecklistTemplateVersion]:
    """Import and publish the shipped checklists unless a published version already exists.

    Returns {"internal_9001" | "supplier" | "surveillance": published version}; running it
    twice creates nothing new.
    """
    result = {}
    for key, path in DEFAULT_CHECKLISTS.items():
        text = path.read_text(encoding="utf-8")
        name = _text(parse_yaml(text)[0].get("template"))
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
