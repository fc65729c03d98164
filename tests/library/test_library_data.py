"""The shipped clause library, its idempotent loading, equivalence and clause import/export."""

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from audit.extensions import db
from audit.library.io import ImportFailed
from audit.library.services import (
    DEFAULT_LIBRARY,
    clause_tree,
    equivalent_clauses,
    export_standard,
    import_standards,
    load_library_file,
)
from audit.models import Clause, ClauseTopic, Standard, TrailEntry

REFERENCE = Path("/work/shared/reference/iso-clauses.yaml")


def _reference_documents():
    path = REFERENCE if REFERENCE.exists() else DEFAULT_LIBRARY
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _clause(standard, number):
    return next(c for c in standard.clauses if c.number == number)


def test_library_holds_every_reference_entry(library):
    """Every entry of iso-clauses.yaml is in the library with identical number, title and order."""
    for doc in _reference_documents():
        standard = db.session.scalar(select(Standard).where(
            Standard.code == doc["standard"], Standard.edition == str(doc["edition"])))
        assert standard is not None, doc["standard"]
        expected = [(c["number"], None if c.get("untitled") else c["title"]) for c in doc["clauses"]]
        assert [(c.number, c.title) for c in standard.clauses] == expected
        assert standard.amendments == doc.get("amendments", [])


def test_parents_and_depths_follow_numbers(library):
    """Each clause's parent is the clause whose number is its prefix."""
    iso9001 = library["ISO 9001"]
    c = _clause(iso9001, "7.1.5.2")
    assert (c.parent.number, c.parent.parent.number, c.depth) == ("7.1.5", "7.1", 3)
    assert _clause(iso9001, "9.2.2").is_untitled


def test_loading_twice_changes_nothing(library, now):
    """A second load keeps clause ids and writes no trail entry."""
    ids = db.session.scalars(select(Clause.id).order_by(Clause.id)).all()
    trail = db.session.scalar(select(func.count(TrailEntry.id)))
    load_library_file(now=now)
    db.session.commit()
    assert db.session.scalars(select(Clause.id).order_by(Clause.id)).all() == ids
    assert db.session.scalar(select(func.count(TrailEntry.id))) == trail


def test_cli_library_load_is_idempotent(app, runner):
    """`flask library load` loads the three standards and can be run again."""
    first = runner.invoke(args=["library", "load"])
    second = runner.invoke(args=["library", "load"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert "ISO 9001:2015: 91 clauses" in second.output
    assert db.session.scalar(select(func.count(Standard.id))) == 3


def test_equivalence_is_by_meaning_not_number(library):
    """Emergency preparedness links 14001 8.2 with 45001 8.2, never with 9001 8.2."""
    iso9001, iso14001 = library["ISO 9001"], library["ISO 14001"]
    emergency = {c.label for c in equivalent_clauses(_clause(iso14001, "8.2"))}
    assert emergency == {"ISO 45001 8.2"}
    assert equivalent_clauses(_clause(iso9001, "8.2")) == []
    changes = {c.label for c in equivalent_clauses(_clause(iso9001, "6.3"))}
    assert changes == {"ISO 45001 8.1.3"}


def test_every_harmonized_clause_has_equivalents(library):
    """Each clause 4.1-10.3 shared by all three standards is linked to the other two."""
    for number in ("4.1", "4.2", "4.3", "4.4", "5.1", "5.2", "5.3", "6.1", "6.2", "7.1", "7.2",
                   "7.3", "7.4", "7.5", "8.1", "9.1", "9.2", "9.3", "10.1", "10.2", "10.3"):
        others = {c.standard.code for c in equivalent_clauses(_clause(library["ISO 9001"], number))}
        assert others == {"ISO 14001", "ISO 45001"}, number
    assert db.session.scalar(select(func.count(ClauseTopic.id))) >= 25


def test_clause_tree_search_keeps_ancestors(library):
    """Searching "calibration"-like words returns matches with their parents for context."""
    tree = clause_tree(library["ISO 9001"], "traceability")
    assert [c.number for c in tree] == ["7", "7.1", "7.1.5", "7.1.5.2", "8", "8.5", "8.5.2"]
    assert [c.number for c in clause_tree(library["ISO 9001"], "8.4")] == [
        "8", "8.4", "8.4.1", "8.4.2", "8.4.3"]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_clause_tree_export_import_round_trips(library, now, fmt):
    """Exporting a standard and importing the file under another edition yields the same tree."""
    text = export_standard(library["ISO 45001"], fmt)
    copy = text.replace("2018", "2099") if fmt == "yaml" else text.replace(",2018,", ",2099,")
    (imported,) = import_standards(copy, fmt, actor=None, now=now)
    db.session.commit()
    assert imported.label == "ISO 45001:2099"
    assert [(c.number, c.title) for c in imported.clauses] == [
        (c.number, c.title) for c in library["ISO 45001"].clauses]
    assert export_standard(imported, fmt) == copy


def test_custom_standard_import_csv(app, now):
    """An organisation can add its own standard (annex-style numbers, untitled paragraphs)."""
    text = ("standard,edition,number,title,untitled\n"
            "ACME CR,2025,1,Customer-specific requirements,\n"
            "ACME CR,2025,1.1,Packaging,\n"
            "ACME CR,2025,1.1.1,,true\n"
            "ACME CR,2025,A,Annex A,\n"
            "ACME CR,2025,A.1,Labels,\n")
    (std,) = import_standards(text, "csv", actor=None, now=now)
    assert [(c.number, c.title) for c in std.clauses] == [
        ("1", "Customer-specific requirements"), ("1.1", "Packaging"), ("1.1.1", None),
        ("A", "Annex A"), ("A.1", "Labels")]
    assert std.clauses[4].parent.number == "A"


def test_bad_clause_csv_reports_lines_and_imports_nothing(app, now):
    """Every faulty row is reported with its line; no standard or clause is stored."""
    text = ("standard,edition,number,title,untitled\n"
            "ACME CR,2025,1,Requirements,\n"
            "ACME CR,2025,1.2.3,Orphan,\n"
            "ACME CR,2025,1,Duplicate,\n"
            "ACME CR,2025,2,,\n"
            "ACME CR,2025,not a number,X,\n")
    with pytest.raises(ImportFailed) as exc:
        import_standards(text, "csv", actor=None, now=now)
    lines = [line for line, _ in exc.value.errors]
    assert lines == [3, 4, 5, 6]
    assert "line 3: clause 1.2.3 comes before its parent 1.2" in exc.value.message
    assert "line 5: clause 2 needs a title" in exc.value.message
    assert db.session.scalar(select(func.count(Standard.id))) == 0
    assert db.session.scalar(select(func.count(Clause.id))) == 0


def test_bad_yaml_syntax_reports_line(app, now):
    """A YAML syntax error names its line and nothing is stored."""
    text = "standard: X\nedition: '1'\nclauses:\n  - {number: 1, title: A}\n  - {number: [\n"
    with pytest.raises(ImportFailed, match=r"line \d+: not valid YAML"):
        import_standards(text, "yaml", actor=None, now=now)
    assert db.session.scalar(select(func.count(Standard.id))) == 0


def test_yaml_clause_errors_have_lines(app, now):
    """A clause entry's own line is reported for its problem."""
    text = ("standard: ACME\nedition: '1'\nclauses:\n"
            "  - {number: '1', title: Top}\n"
            "  - {number: '1.1'}\n")
    with pytest.raises(ImportFailed) as exc:
        import_standards(text, "yaml", actor=None, now=now)
    assert exc.value.errors == [(5, "clause 1.1 needs a title (or untitled: true)")]
