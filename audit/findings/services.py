"""Finding rules. ``raise_finding`` is shared by the checklist screen and the findings pages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, Clause, Finding, FindingStatus, Grade
from audit.trail.services import record, snapshot


def next_finding_reference(audit: Audit) -> str:
    """``<audit reference>-F<nn>``, numbered per audit."""
    count = db.session.scalar(select(func.count(Finding.id)).where(Finding.audit_id == audit.id))
    return f"{audit.reference}-F{(count or 0) + 1:02d}"


def raise_finding(
    audit: Audit,
    *,
    grade: Grade,
    statement: str,
    evidence: str | None = None,
    clauses: list[Clause] | None = None,
    unit=None,
    owner=None,
    answer=None,
    actor,
    now: dt.datetime,
) -> Finding:
    """Record a draft finding on ``audit``.

    Refused once the audit's report is issued: records are frozen then, corrections go through
    new, traceable records (DOMAIN.md §4).
    """
    if audit.report_issued_at is not None:
        raise DomainError("The report of this audit is issued: no new findings can be added.")
    statement = (statement or "").strip()
    if not statement:
        raise DomainError("State the finding: what requirement is not met, and how.",
                          field="statement")
    if grade.is_nonconformity and not clauses:
        raise DomainError("A nonconformity must cite the clause it breaches.", field="clause_ids")
    if grade.is_nonconformity and not (evidence or "").strip():
        raise DomainError("A nonconformity needs its objective evidence.", field="evidence")
    if unit is None and len(audit.units) == 1:
        unit = audit.units[0]
    finding = Finding(
        reference=next_finding_reference(audit),
        audit=audit,
        grade=grade,
        status=FindingStatus.DRAFT,
        statement=statement,
        evidence=(evidence or "").strip() or None,
        clauses=list(clauses or []),
        unit=unit,
        site=audit.site,
        supplier=audit.supplier,
        owner=owner or (unit.owner if unit is not None else None),
        answer=answer,
        raised_by_id=getattr(actor, "id", None),
        raised_at=now,
        updated_at=now,
    )
    db.session.add(finding)
    db.session.flush()
    record(finding, "create", actor=actor, now=now,
           summary=f"Raised {grade.label} {finding.reference}",
           changes=snapshot({"grade": grade, "statement": statement,
                             "clauses": [c.id for c in finding.clauses]}))
    return finding
