"""Raising findings: the shared entry point used by the checklist and the findings pages."""

import pytest

from audit.core.errors import DomainError
from audit.findings.services import raise_finding
from audit.models import FindingStatus, Grade, TrailEntry


def test_raise_finding_numbers_per_audit_and_writes_trail(app, make, library, now):
    """Findings get <audit>-Fnn references and a trail entry each."""
    audit = make.audit(reference="IA-2026-001")
    clause = library["ISO 9001"].clauses[10]
    first = raise_finding(audit, grade=Grade.MINOR, statement="Records missing",
                          evidence="Batch 7 record absent", clauses=[clause], actor=None, now=now)
    second = raise_finding(audit, grade=Grade.OFI, statement="Could label shelves", actor=None, now=now)
    assert (first.reference, second.reference) == ("IA-2026-001-F01", "IA-2026-001-F02")
    assert first.status is FindingStatus.DRAFT
    assert app.extensions["sqlalchemy"].session.query(TrailEntry).filter_by(
        object_type="Finding").count() == 2


def test_nonconformity_needs_clause_and_evidence(app, make, now):
    """An NC without a clause or evidence is refused with a field-specific message."""
    audit = make.audit()
    with pytest.raises(DomainError) as exc:
        raise_finding(audit, grade=Grade.MAJOR, statement="x", evidence="y", actor=None, now=now)
    assert exc.value.field == "clause_ids"


def test_no_findings_after_report_issued(app, make, now):
    """Issuing the report freezes the audit against new findings."""
    audit = make.audit(report_issued_at=now)
    with pytest.raises(DomainError, match="report"):
        raise_finding(audit, grade=Grade.OFI, statement="late idea", actor=None, now=now)
