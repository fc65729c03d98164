"""Supplier probation: overdue or rejected SCARs and open majors put a supplier on probation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings.deadlines import DEADLINE_LABELS, local_date
from audit.findings.workflow import OPEN_STATUSES
from audit.models import (
    Finding,
    FindingStatus,
    Grade,
)
from audit.trail.services import record


def supplier_problems(supplier, now: dt.datetime) -> list[str]:
    """Why ``supplier`` belongs on probation: overdue or rejected SCARs, open majors.

    "Overdue" is judged on each SCAR's local date (``deadlines.local_date``), as the sweep's
    notices and the SCAR page judge it, so near midnight they cannot disagree by a day."""
    from audit.models import ApprovalStatus  # noqa: F401  (keeps the import local to the rule)

    findings = db.session.scalars(select(Finding).where(
        Finding.supplier_id == supplier.id, Finding.status.in_(OPEN_STATUSES),
        Finding.grade.in_([Grade.MAJOR, Grade.MINOR]))).all()
    problems = []
    for f in findings:
        if f.grade is Grade.MAJOR:
            problems.append(f"open major {f.reference}")
        elif f.is_scar and f.is_overdue(local_date(f, now)):
            # The stage and date the SCAR page, the list and the sweep's notice name.
            deadline, due = f.current_deadline()
            problems.append(f"overdue SCAR {f.reference} ({DEADLINE_LABELS[deadline].lower()} due {due:%d %b %Y})")
        elif f.is_scar and f.rejection_count and f.status is FindingStatus.AWAITING_RESPONSE:
            problems.append(f"rejected SCAR {f.reference}")
    return problems


def update_supplier_status(supplier, *, actor, now: dt.datetime) -> bool:
    """Put a supplier on probation, or back to approved once it has recovered.

    Only approved (or conditionally approved) suppliers go on probation, and only suppliers on
    probation come back to approved: other states belong to supplier evaluation.
    Returns True when the status changed.
    """
    from audit.models import ApprovalStatus

    if supplier is None:
        return False
    problems = supplier_problems(supplier, now)
    old = supplier.approval_status
    if problems and old in (ApprovalStatus.APPROVED, ApprovalStatus.CONDITIONALLY_APPROVED):
        new = ApprovalStatus.ON_PROBATION
        summary = f"{supplier.name} on probation: " + ", ".join(problems)
    elif not problems and old is ApprovalStatus.ON_PROBATION:
        new = ApprovalStatus.APPROVED
        summary = f"{supplier.name} recovered: no overdue or rejected SCARs, no open majors"
    else:
        return False
    supplier.approval_status = new
    db.session.flush()
    record(supplier, "transition", actor=actor, now=now, summary=summary,
           changes={"approval_status": [old.value, new.value]})
    return True
