"""Checklist templates: default checklists, versioning, editing rules, import and export."""

import pytest
from sqlalchemy import func, select

from audit.core.errors import DomainError
from audit.demo import DemoContext
from audit.extensions import db
from audit.library.checklists import builder, coverage, files, versions
from audit.library.io import ImportFailed
from audit.models import (
    AnswerType,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    Standard,
    TrailEntry,
    VersionStatus,
)

SMALL = """\
template: Small checklist
description: For tests
sections:
  - title: Context
    questions:
      - key: a
        text: Is the context known?
        answer_type: yes_no
        clauses: ["ISO 9001:2015 4.1", "ISO 14001:2015 4.1"]
      - key: b
        text: Which method?
        answer_type: choice
        choices: [Survey, Interview]
        clauses: ["ISO 9001:2015 4.2"]
        condition_key: a
        condition_value: "yes"
        evidence_required: true
        weight: 2.5
  - title: Numbers
    questions:
      - key: c
        text: How many?
        answer_type: number
        min_value: 0
        max_value: 10
        clauses: ["ISO 9001:2015 9.1.3"]
        photo_required: true
      - key: d
        text: When?
        answer_type: date
        guidance: Look at the record.
        clauses: ["ISO 9001:2015 9.3"]
"""


@pytest.fixture
def defaults(library, now):
    result = files.ensure_default_checklists(now=now)
    db.session.commit()
    return result


def _titled_9001_numbers(standard):
    return [c.number for c in standard.clauses if c.title is not None and c.depth >= 1]


def test_default_9001_checklist_covers_every_titled_clause(defaults, library):
    """Every titled ISO 9001 clause from 4.1 to 10.3 has at least one question mapped to it."""
    version = defaults["internal_9001"]
    mapped = {c.number for q in versions.questions_of(version) for c in q.clauses
              if c.standard.code == "ISO 9001"}
    expected = _titled_9001_numbers(library["ISO 9001"])
    assert expected[0] == "4.1" and expected[-1] == "10.3" and len(expected) == 68
    assert [n for n in expected if n not in mapped] == []
    rows = coverage.coverage(version, library["ISO 9001"])
    assert {r["status"] for r in rows} == {"direct"}


def test_surveillance_checklist_covers_mandatory_topics(defaults):
    """The surveillance checklist maps to 9.2, 9.3, 10.2, complaints, 6.2, 10.3, 8.1 and changes."""
    mapped = {c.number for q in versions.questions_of(defaults["surveillance"]) for c in q.clauses}
    assert {"9.2", "9.3", "10.2", "9.1.2", "6.2", "10.3", "8.1", "6.3"} <= mapped


def test_supplier_checklist_focuses_on_8_4(defaults):
    """The supplier checklist covers 8.4 and each of its sub-clauses."""
    mapped = {c.number for q in versions.questions_of(defaults["supplier"]) for c in q.clauses}
    assert {"8.4", "8.4.1", "8.4.2", "8.4.3"} <= mapped


def test_defaults_are_published_and_idempotent(defaults, now):
    """The three defaults are published; a second run returns the same versions."""
    assert all(v.status is VersionStatus.PUBLISHED for v in defaults.values())
    again = files.ensure_default_checklists(now=now)
    assert {k: v.id for k, v in again.items()} == {k: v.id for k, v in defaults.items()}
    assert db.session.scalar(select(func.count(ChecklistTemplateVersion.id))) == 3


def test_demo_step_sets_checklists_and_is_idempotent(app, now):
    """The demo step publishes the defaults into ctx.extra and creates nothing on a rerun."""
    from audit.demo import library as step
    from audit.demo import organisation

    for _ in range(2):
        ctx = DemoContext(now=now, scale=1)
        organisation.seed(ctx)
        step.seed(ctx)
        db.session.commit()
    assert set(ctx.extra["checklists"]) == {"internal_9001", "supplier", "surveillance"}
    assert ctx.extra["checklists"]["supplier"].status is VersionStatus.PUBLISHED
    assert db.session.scalar(select(func.count(ChecklistTemplate.id))) == 3
    assert db.session.scalar(select(func.count(ChecklistTemplateVersion.id))) == 3


def test_published_version_picks_current(defaults, now):
    """published_version returns the newest published version by template name."""
    name = defaults["supplier"].template.name
    assert versions.published_version(name).id == defaults["supplier"].id
    assert versions.published_version("No such checklist") is None
    draft = versions.start_draft(defaults["supplier"].template, actor=None, now=now)
    assert versions.published_version(name).id == defaults["supplier"].id
    versions.publish_version(draft, actor=None, now=now)
    assert versions.published_version(name).id == draft.id
    assert defaults["supplier"].status is VersionStatus.RETIRED


def test_published_version_refuses_edits(defaults, now):
    """Every editing service refuses a published version and changes nothing."""
    version = defaults["surveillance"]
    section = version.sections[0]
    question = section.questions[0]
    before = files.export_template(version, "yaml")
    attempts = [
        lambda: builder.add_section(version, "New", actor=None, now=now),
        lambda: builder.update_section(section, "Renamed", actor=None, now=now),
        lambda: builder.move_section(section, 1, actor=None, now=now),
        lambda: builder.delete_section(section, actor=None, now=now),
        lambda: builder.add_question(section, {"key": "x", "text": "X?"}, actor=None, now=now),
        lambda: builder.update_question(question, {"key": "x", "text": "X?"}, actor=None, now=now),
        lambda: builder.move_question(question, 1, actor=None, now=now),
        lambda: builder.delete_question(question, actor=None, now=now),
        lambda: versions.publish_version(version, actor=None, now=now),
        lambda: versions.discard_draft(version, actor=None, now=now),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError, match="start a new draft"):
            attempt()
    assert files.export_template(versions.load_version(version.id), "yaml") == before


def test_editing_creates_a_draft_and_old_audits_keep_their_version(defaults, make, now):
    """An audit on v1 still sees v1's questions after v2 is edited and published."""
    v1 = defaults["internal_9001"]
    audit = make.audit(checklist_version_id=v1.id)
    v1_questions = [(q.id, q.text) for q in versions.questions_of(v1)]
    draft = versions.start_draft(v1.template, actor=None, now=now)
    assert (draft.number, draft.status, draft.based_on_id) == (2, VersionStatus.DRAFT, v1.id)
    assert versions.start_draft(v1.template, actor=None, now=now) is draft
    first = draft.sections[0].questions[0]
    builder.update_question(first, {"key": first.key, "text": "Reworded question?",
                                "answer_type": "verdict",
                                "clause_ids": [c.id for c in first.clauses]}, actor=None, now=now)
    versions.publish_version(draft, actor=None, now=now, change_note="Reworded")
    db.session.commit()
    db.session.expire_all()
    assert audit.checklist_version_id == v1.id
    old = versions.load_version(audit.checklist_version_id)
    assert [(q.id, q.text) for q in versions.questions_of(old)] == v1_questions
    assert old.status is VersionStatus.RETIRED
    assert versions.questions_of(versions.load_version(draft.id))[0].text == "Reworded question?"
    assert {q.key for q in versions.questions_of(old)} == {q.key for q in versions.questions_of(draft)}


def test_builder_services_edit_and_reorder(library, now):
    """Sections and questions can be added, edited, moved (also across sections) and removed."""
    iso = library["ISO 9001"]
    clause = next(c for c in iso.clauses if c.number == "8.5.1")
    version = versions.create_template("Floor walk", "Short", actor=None, now=now)
    s1 = builder.add_section(version, "First", actor=None, now=now)
    s2 = builder.add_section(version, "Second", actor=None, now=now)
    q1 = builder.add_question(s1, {"key": "q1", "text": "One?", "answer_type": "yes_no",
                               "clause_ids": [clause.id]}, actor=None, now=now)
    q2 = builder.add_question(s1, {"key": "q2", "text": "Two?", "answer_type": "text",
                               "condition_key": "q1", "condition_value": "no",
                               "clause_ids": [clause.id]}, actor=None, now=now)
    builder.add_question(s2, {"key": "q3", "text": "Three?", "clause_ids": [clause.id]},
                     actor=None, now=now)
    builder.move_question(q2, -1, actor=None, now=now)
    assert [q.key for q in s1.questions] == ["q2", "q1"]
    assert "must come earlier" in " ".join(versions.publishing_problems(version))
    builder.move_question(q2, 1, actor=None, now=now)
    builder.move_question(q2, 1, actor=None, now=now)  # past the end: into the next section
    builder.move_question(q1, 1, actor=None, now=now)
    assert [[q.key for q in s.questions] for s in version.sections] == [[], ["q1", "q2", "q3"]]
    builder.move_section(s2, -1, actor=None, now=now)
    assert [s.title for s in version.sections] == ["Second", "First"]
    with pytest.raises(DomainError, match="q2"):
        builder.delete_question(q1, actor=None, now=now)
    builder.delete_section(s1, actor=None, now=now)
    published = versions.publish_version(version, actor=None, now=now)
    assert published.status is VersionStatus.PUBLISHED
    assert db.session.scalar(select(func.count(TrailEntry.id)).where(
        TrailEntry.object_type == "ChecklistTemplateVersion")) >= 8


@pytest.mark.parametrize("values, field", [
    ({"key": "Bad Key", "text": "X?"}, "key"),
    ({"key": "x", "text": ""}, "text"),
    ({"key": "x", "text": "X?", "answer_type": "colour"}, "answer_type"),
    ({"key": "x", "text": "X?", "answer_type": "choice", "choices": "only one"}, "choices"),
    ({"key": "x", "text": "X?", "answer_type": "number", "min_value": "5", "max_value": "1"},
     "max_value"),
    ({"key": "x", "text": "X?", "answer_type": "text", "min_value": "1"}, "min_value"),
    ({"key": "x", "text": "X?", "weight": "heavy"}, "weight"),
    ({"key": "x", "text": "X?", "condition_key": "first"}, "condition_value"),
    ({"key": "x", "text": "X?", "condition_key": "first", "condition_value": "maybe"},
     "condition_value"),
    ({"key": "x", "text": "X?", "condition_key": "nope", "condition_value": "yes"},
     "condition_key"),
    ({"key": "first", "text": "X?"}, "key"),
])
def test_question_validation_names_the_field(library, now, values, field):
    """Bad question input is refused with the faulty field named and nothing added."""
    version = versions.create_template("Checks", actor=None, now=now)
    section = builder.add_section(version, "S", actor=None, now=now)
    builder.add_question(section, {"key": "first", "text": "First?", "answer_type": "yes_no"},
                     actor=None, now=now)
    with pytest.raises(DomainError) as exc:
        builder.add_question(section, values, actor=None, now=now)
    assert exc.value.field == field
    assert len(section.questions) == 1


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_import_export_import_round_trips(library, now, fmt):
    """import → export → import gives identical content (and identical export text)."""
    first = files.import_template(SMALL, "yaml", actor=None, now=now, publish=True)
    text = files.export_template(first, fmt)
    second = files.import_template(text, fmt, actor=None, now=now, publish=True)
    db.session.commit()
    assert second.template_id == first.template_id and second.number == 2
    assert files.export_template(versions.load_version(second.id), fmt) == text
    assert files.template_document(second) == files.template_document(first)
    b = versions.questions_of(second)[1]
    assert (b.answer_type, b.choices, b.weight, b.condition_key, b.condition_value) == (
        AnswerType.CHOICE, ["Survey", "Interview"], 2.5, "a", "yes")
    assert [c.label for c in versions.questions_of(second)[0].clauses] == [
        "ISO 9001 4.1", "ISO 14001 4.1"]


def test_yaml_round_trip_of_default_checklist(defaults, now):
    """The shipped 9001 checklist exports to YAML that re-imports identically."""
    text = files.export_template(defaults["internal_9001"], "yaml")
    again = files.import_template(text, "yaml", actor=None, now=now)
    assert files.export_template(again, "yaml") == text


def test_bad_template_file_reports_lines_and_imports_nothing(library, now):
    """Every problem is listed with its line; no template, version or question is stored."""
    bad = SMALL.replace('"ISO 9001:2015 4.2"', '"ISO 9001:2015 4.9"') \
        .replace("answer_type: date", "answer_type: calendar") \
        .replace('condition_value: "yes"', "condition_value: perhaps") \
        .replace("key: d", "key: c")
    with pytest.raises(ImportFailed) as exc:
        files.import_template(bad, "yaml", actor=None, now=now)
    message = exc.value.message
    assert "line 14: no clause “ISO 9001:2015 4.9” in the library" in message
    assert "line 16: “perhaps” is not a possible answer of “a” (yes, no)" in message
    assert "line 30: answer type “calendar” is not one of" in message
    assert "line 28: key “c” is used twice" in message
    assert db.session.scalar(select(func.count(ChecklistTemplate.id))) == 0
    assert db.session.scalar(select(func.count(ChecklistQuestion.id))) == 0


def test_bad_template_csv_reports_row_lines(library, now):
    """CSV problems carry the CSV line of the faulty row."""
    first = files.import_template(SMALL, "yaml", actor=None, now=now, publish=True)
    rows = files.export_template(first, "csv").splitlines()
    rows[3] = rows[3].replace(",number,", ",numeric,")
    text = "\n".join(rows).replace("Small checklist", "Other checklist") + "\n"
    with pytest.raises(ImportFailed) as exc:
        files.import_template(text, "csv", actor=None, now=now)
    assert {line for line, _ in exc.value.errors} == {4}
    assert db.session.scalar(select(func.count(ChecklistTemplate.id))) == 1


def test_import_refused_while_a_draft_exists(library, now):
    """Importing a new version while the template has an unpublished draft is refused."""
    files.import_template(SMALL, "yaml", actor=None, now=now)
    with pytest.raises(ImportFailed, match="already has a draft"):
        files.import_template(SMALL, "yaml", actor=None, now=now)


def test_coverage_counts_equivalents_and_misses(library, now):
    """A 9001 question serves 14001 through the harmonized structure; unmapped clauses are missed."""
    version = files.import_template(SMALL, "yaml", actor=None, now=now)
    rows = {r["clause"].number: r for r in coverage.coverage(version, library["ISO 45001"])}
    assert rows["4.1"]["status"] == "equivalent" and rows["4.1"]["questions"] == ["a"]
    assert rows["9.3"]["status"] == "equivalent"
    assert rows["8.2"]["status"] == "missed"
    direct = {r["clause"].number: r["status"] for r in coverage.coverage(version, library["ISO 14001"])}
    assert direct["4.1"] == "direct"
    summary = coverage.coverage_summary(list(rows.values()))
    assert summary["missed"] > 0 and summary["total"] == len(rows)


def test_clause_fk_kept_when_library_reloads(defaults, now):
    """Reloading the library keeps the clause rows checklists point at."""
    from audit.library.services import load_library_file

    ids = {c.id for q in versions.questions_of(defaults["internal_9001"]) for c in q.clauses}
    load_library_file(now=now)
    db.session.commit()
    assert db.session.scalar(select(func.count(Clause.id)).where(Clause.id.in_(ids))) == len(ids)
    assert db.session.scalar(select(func.count(Standard.id))) == 3


def test_database_guard_refuses_direct_changes_to_published_content(defaults, now):
    """Even code that bypasses the services cannot flush a change to a published question."""
    from audit.models.checklist import FrozenVersionError

    question = defaults["surveillance"].sections[0].questions[0]
    original = question.text
    question.text = "Changed behind the services' back"
    with pytest.raises(FrozenVersionError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(ChecklistQuestion, question.id).text == original
    section = defaults["surveillance"].sections[0]
    db.session.delete(section)
    with pytest.raises(FrozenVersionError):
        db.session.flush()
    db.session.rollback()


def test_database_guard_allows_retiring_and_building_published_versions(defaults, now):
    """Retiring a published version and creating an already-published one are allowed."""
    draft = versions.start_draft(defaults["supplier"].template, actor=None, now=now)
    versions.publish_version(draft, actor=None, now=now)
    db.session.commit()
    assert defaults["supplier"].status is VersionStatus.RETIRED
    template = ChecklistTemplate(name="Built in one go")
    version = ChecklistTemplateVersion(template=template, number=1, status=VersionStatus.PUBLISHED)
    version.sections.append(ChecklistSection(title="S", questions=[
        ChecklistQuestion(key="k", text="Q?", position=0)]))
    db.session.add(version)
    db.session.commit()


def test_draft_used_by_an_audit_cannot_change(library, make, now):
    """A draft an audit already points at is frozen for content edits but can be published."""
    version = files.import_template(SMALL, "yaml", actor=None, now=now)
    make.audit(checklist_version_id=version.id)
    with pytest.raises(DomainError, match="used by an audit"):
        builder.add_section(version, "More", actor=None, now=now)
    with pytest.raises(DomainError, match="used by an audit"):
        versions.discard_draft(version, actor=None, now=now)
    versions.publish_version(version, actor=None, now=now)
    assert version.status is VersionStatus.PUBLISHED


@pytest.mark.parametrize("name", ["Ölprüfung", "\x85Önorm"])
def test_duplicate_non_ascii_name_is_a_message_not_a_crash(app, now, name):
    """SQLite's lower() folds ASCII only: the duplicate check must fold on both sides alike,
    or a second "Ölprüfung" passes it and breaks the unique constraint (found by the fuzzer)."""
    versions.create_template(name, actor=None, now=now)
    db.session.commit()
    with pytest.raises(DomainError, match="already called"):
        versions.create_template(name, actor=None, now=now)
