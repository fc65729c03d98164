"""A customer complaint recorded as a nonconformity (ISO 9001 9.1.2, 10.2), with its cost.

The finding goes through the findings services, never around them: it is raised
(``findings.raising.raise_finding``) on the audit that answers the complaint — the audit its
trigger joined or planned, the trigger being recorded now if the complaint has none — and
issued at once (``issue_finding``: deadlines start, the owner is told). A cost of poor quality
is recorded by ``findings.costs.add_cost`` with its validation (currency, bounds, no future
date). All of it is one unit of work: any refusal stores nothing.
"""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError, NotAllowed
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.findings.costs import add_cost
from audit.findings.raising import issue_finding, raise_finding
from audit.findings.workflow import can_record
from audit.models import AuditStatus, Clause, Complaint, CostCategory, Finding, Grade, Unit
from audit.trail.services import record, snapshot

#: Grades a complaint can be recorded as: it is a nonconformity (costs need one).
GRADES = (Grade.MINOR, Grade.MAJOR)


def default_statement(complaint: Complaint) -> str:
    """The statement the form starts with, taken from the complaint."""
    product = f" about {complaint.product}" if complaint.product else ""
    text = f"Customer complaint {complaint.reference} from {complaint.customer}{product}"
    return f"{text}: {complaint.description}" if complaint.description else f"{text}."


def evidence_of(complaint: Complaint) -> str:
    """The complaint itself is the objective evidence."""
    return (f"Customer complaint {complaint.reference} received {complaint.received_on:%d %b %Y} "
            f"from {complaint.customer} (severity {complaint.severity.label.lower()})."
            + (f" {complaint.description}" if complaint.description else ""))


def _open_for_findings(audit) -> bool:
    return audit is not None and audit.report_issued_at is None and audit.status not in (
        AuditStatus.CANCELLED, AuditStatus.POSTPONED, AuditStatus.CLOSED)


def _audit_for(complaint: Complaint, *, actor, now: dt.datetime):
    """The audit that answers the complaint; records the complaint's audit trigger if needed."""
    from audit.management.registers import raise_complaint_audit

    if complaint.trigger is None:
        raise_complaint_audit(complaint, actor=actor, now=now)
    audit = complaint.trigger.audit
    if not _open_for_findings(audit):
        raise DomainError("The audit that answered this complaint is reported or closed: raise the "
                          "nonconformity from an open audit of the unit.")
    return audit


def raise_nonconformity(complaint: Complaint, data: dict, *, actor, now: dt.datetime) -> Finding:
    """Record ``complaint`` as an issued nonconformity, linked both ways, with an optional cost."""
    if complaint.finding_id is not None:
        raise DomainError(f"This complaint is already recorded as {complaint.finding.reference}.")
    try:
        grade = Grade(data.get("grade"))
    except ValueError:
        grade = None
    if grade not in GRADES:
        raise DomainError("Choose a minor or a major nonconformity.", field="grade")
    unit = get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit")
    clause = get_or_fail(Clause, data.get("clause_id"), field="clause_id", what="clause", optional=True)
    if complaint.unit_id is None:
        complaint.unit = unit
    elif complaint.unit_id != unit.id:
        raise DomainError(f"The complaint concerns {complaint.unit.name}: raise it there.", field="unit_id")
    category = (data.get("cost_category") or "").strip()
    if category:
        try:
            category = CostCategory(category)
        except ValueError:
            raise DomainError("Choose the kind of cost from the list.", field="cost_category") from None
    audit = _audit_for(complaint, actor=actor, now=now)
    if not can_record(audit, actor):
        raise NotAllowed("Only a coordinator or the audit's team records its findings.")
    finding = raise_finding(audit, grade=grade, statement=data.get("statement") or "",
                            evidence=evidence_of(complaint), clauses=[clause] if clause else [],
                            unit=unit, actor=actor, now=now)
    issue_finding(finding, actor=actor, now=now)
    if category:
        amount = (data.get("cost_amount") or "").strip()
        if not amount:
            raise DomainError("Give the amount of the cost.", field="cost_amount")
        add_cost(finding, category=category, amount=amount, currency=data.get("cost_currency") or "",
                 incurred_on=data.get("cost_incurred_on"), note=f"Customer complaint {complaint.reference}",
                 actor=actor, now=now)
    complaint.finding = finding
    db.session.flush()
    record(complaint, "nonconformity", actor=actor, now=now,
           summary=f"Recorded as {grade.label} {finding.reference}",
           changes=snapshot({"finding": finding.reference, "grade": grade}))
    record(finding, "complaint", actor=actor, now=now,
           summary=f"Raised from customer complaint {complaint.reference}",
           changes=snapshot({"complaint": complaint.reference}))
    return finding
