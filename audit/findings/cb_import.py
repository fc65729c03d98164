"""A certification body's findings, transcribed from its report (CSV)."""

from __future__ import annotations

import datetime as dt
import re

from audit.core.errors import DomainError, NotAllowed
from audit.findings.raising import issue_finding, record_finding
from audit.findings.workflow import can_record
from audit.library.io import refuse_control_characters
from audit.models import (
    Audit,
    AuditKind,
    Clause,
    Finding,
    Grade,
)

_GRADE_NAMES = {
    "major": Grade.MAJOR, "major nc": Grade.MAJOR, "major nonconformity": Grade.MAJOR,
    "minor": Grade.MINOR, "minor nc": Grade.MINOR, "minor nonconformity": Grade.MINOR,
    "observation": Grade.OBSERVATION, "area of concern": Grade.OBSERVATION,
    "ofi": Grade.OFI, "opportunity for improvement": Grade.OFI,
    "good practice": Grade.GOOD_PRACTICE, "positive": Grade.GOOD_PRACTICE,
}

CSV_COLUMNS = ("reference", "grade", "clauses", "statement", "evidence")


def import_cb_findings(audit: Audit, csv_text: str, *, actor, now: dt.datetime) -> list[Finding]:
    """Enter the certification body's findings from its report (CSV) and issue them.

    Columns: reference, grade, clauses (numbers separated by ';'), statement, evidence.
    Every row is checked before anything is stored; one bad row refuses the whole file.
    The CB's report is the source here, so the freeze on our own reports does not apply.
    """
    import csv
    import io

    if not can_record(audit, actor):
        raise NotAllowed("Only the audit's auditing team or a coordinator enters its CB findings.")
    if audit.kind is not AuditKind.THIRD_PARTY:
        raise DomainError("CB findings belong to third-party audits.", field="file")
    refuse_control_characters(csv_text)  # an uploaded file passes the request edge unread
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("grade", "statement") if c not in headers]
    if missing:
        raise DomainError(f"The file lacks the column(s): {', '.join(missing)}. Expected: "
                          f"{', '.join(CSV_COLUMNS)}.", field="file")
    clause_map: dict[str, Clause] = {}
    for std in audit.standards:
        for clause in std.clauses:
            clause_map.setdefault(clause.number, clause)
    parsed = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        grade = _GRADE_NAMES.get(row.get("grade", "").lower())
        if grade is None:
            raise DomainError(f"Line {line}: unknown grade “{row.get('grade')}”.", field="file")
        numbers = [n.strip() for n in re.split(r"[;,]", row.get("clauses", "")) if n.strip()]
        unknown = [n for n in numbers if n not in clause_map]
        if unknown:
            raise DomainError(f"Line {line}: clause(s) {', '.join(unknown)} not in the audit's "
                              f"standards.", field="file")
        if not row.get("statement"):
            raise DomainError(f"Line {line}: the statement is empty.", field="file")
        if grade.is_nonconformity and (not numbers or not row.get("evidence")):
            raise DomainError(f"Line {line}: a nonconformity needs clauses and evidence.",
                              field="file")
        parsed.append((row, grade, [clause_map[n] for n in numbers]))
    if not parsed:
        raise DomainError("The file holds no findings.", field="file")
    created = []
    for row, grade, clauses in parsed:
        finding = record_finding(audit, grade=grade, statement=row["statement"],
                               evidence=row.get("evidence"), clauses=clauses, unit=None,
                               owner=None, answer=None, actor=actor, now=now)
        finding.external_reference = row.get("reference") or None
        created.append(finding)
    for finding in created:
        issue_finding(finding, actor=actor, now=now)
    return created
