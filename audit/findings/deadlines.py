"""Finding deadlines: the policy per audit kind and grade, due dates, SCAR stage dates."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import func, select

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    DeadlinePolicy,
    Finding,
    Grade,
    ScarStage,
)
from audit.models.audit import audit_units
from audit.models.finding import SCAR_PLAN_DELAY, SCAR_STAGE_DELAYS
from audit.trail.services import record

#: DOMAIN.md §5 default deadlines in days: (response, closure) per audit kind and grade.
#: ``None`` = no formal deadline (observations and OFIs need only a recorded decision).
DEFAULT_DEADLINES: dict[tuple[str, Grade], tuple[int | None, int | None]] = {}
for _kind in AuditKind:
    DEFAULT_DEADLINES[(_kind.value, Grade.MAJOR)] = (
        14, 90 if _kind is AuditKind.THIRD_PARTY else 60)
    DEFAULT_DEADLINES[(_kind.value, Grade.MINOR)] = (30, 90)
    for _grade in (Grade.OBSERVATION, Grade.OFI, Grade.GOOD_PRACTICE):
        DEFAULT_DEADLINES[(_kind.value, _grade)] = (None, None)

#: SCAR stage deadlines after issue (DOMAIN.md §5, PRACTICE); implementation is the closure date.
SCAR_STAGE_DEADLINES = {
    ScarStage.CONTAINMENT: SCAR_STAGE_DELAYS["containment"],
    ScarStage.ROOT_CAUSE: SCAR_STAGE_DELAYS["root_cause"],
    ScarStage.ACTION_PLAN: SCAR_PLAN_DELAY,
}
#: The names of the SCAR deadlines, as pages and messages say them.
DEADLINE_LABELS = {"containment": "Containment", "root_cause": "Root cause",
                   "action_plan": "Action plan", "implementation": "Implementation",
                   "response": "Response", "closure": "Closure"}


def policy_row(audit_kind: AuditKind, grade: Grade) -> DeadlinePolicy | None:
    """The edited policy of ``grade`` in ``audit_kind`` audits, or None (defaults apply)."""
    return db.session.scalar(select(DeadlinePolicy).where(
        DeadlinePolicy.audit_kind == audit_kind.value, DeadlinePolicy.grade == grade))


def grade_label(audit_kind: AuditKind, grade: Grade) -> str:
    """The grade's name in this kind of audit (configurable; CBs use their own names)."""
    row = policy_row(audit_kind, grade)
    return row.label if row is not None and row.label else grade.label


def deadline_days(audit_kind: AuditKind, grade: Grade) -> tuple[int | None, int | None]:
    """(response, closure) days for a grade in an audit kind: the policy table, else defaults."""
    row = policy_row(audit_kind, grade)
    if row is not None:
        return row.response_days, row.closure_days
    return DEFAULT_DEADLINES[(audit_kind.value, grade)]


def local_date(finding_or_audit, now: dt.datetime) -> dt.date:
    """Today's date where the audit happened (deadlines are calendar days at the auditee)."""
    audit = finding_or_audit.audit if isinstance(finding_or_audit, Finding) else finding_or_audit
    zone = audit.timezone if audit is not None else "UTC"
    return now.astimezone(zoneinfo.ZoneInfo(zone)).date()


def _next_audit_of_unit(finding: Finding, after: dt.date) -> dt.date | None:
    """The planned date of the unit's next audit (a minor closes "by the next audit")."""
    if finding.unit_id is None:
        return None
    return db.session.scalar(
        select(func.min(Audit.planned_date))
        .join(audit_units, audit_units.c.audit_id == Audit.id)
        .where(audit_units.c.unit_id == finding.unit_id, Audit.id != finding.audit_id,
               Audit.planned_date > after,
               Audit.status.notin_(AuditStatus.inactive()))
    )


def compute_deadlines(finding: Finding, issued_on: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Response and closure due dates for ``finding`` issued on ``issued_on``.

    Majors and minors follow the policy for their audit kind; a minor must also close by the
    unit's next audit when that comes sooner.
    """
    response, closure = deadline_days(finding.audit.kind, finding.grade)
    if finding.is_scar:
        # A supplier's response is its action plan: due with the stage deadlines, never sooner
        # (one set of SCAR dates for the page, the sweep, the supplier list and probation).
        response = SCAR_PLAN_DELAY.days
        closure = max(closure or 0, response)
    response_due = issued_on + dt.timedelta(days=response) if response is not None else None
    closure_due = issued_on + dt.timedelta(days=closure) if closure is not None else None
    if finding.grade is Grade.MINOR and closure_due is not None:
        next_audit = _next_audit_of_unit(finding, issued_on)
        if next_audit is not None and next_audit < closure_due:
            closure_due = next_audit
    return response_due, closure_due


def scar_stage_due(finding: Finding) -> list[tuple[str, dt.date]]:
    """(label, date) of each SCAR stage deadline, in stage order: the dates the sweep and the
    supplier's approval status use (``Finding.scar_due_dates``)."""
    return [(DEADLINE_LABELS[name], day) for name, day in finding.scar_due_dates().items()]


def deadline_label(finding: Finding) -> str:
    """The name of the deadline that matters now ("Containment", "Response", "Closure"...)."""
    name, _ = finding.current_deadline()
    return DEADLINE_LABELS.get(name or "", "")


def policy_rows() -> list[dict]:
    """Every (kind, grade) with its days, name, use, and whether it was edited."""
    stored = {(p.audit_kind, p.grade): p for p in db.session.scalars(select(DeadlinePolicy))}
    rows = []
    for kind in AuditKind:
        for grade in Grade:
            row = stored.get((kind.value, grade))
            days = (row.response_days, row.closure_days) if row else \
                DEFAULT_DEADLINES[(kind.value, grade)]
            rows.append({"kind": kind, "grade": grade, "response_days": days[0],
                         "closure_days": days[1], "custom": row is not None,
                         "label": (row.label if row and row.label else grade.label),
                         "enabled": row.is_enabled if row else True})
    return rows


def set_deadline_policy(kind: AuditKind, grade: Grade, *, response_days: int | None,
                        closure_days: int | None, actor, now: dt.datetime,
                        label: str | None = None, is_enabled: bool = True) -> DeadlinePolicy:
    """Change the deadlines, name or use of a grade in an audit kind (affects later findings)."""
    if actor is None or not actor.can(Permission.MANAGE_PROGRAMME):
        raise NotAllowed("Only coordinators edit deadline policy.")
    for name, value in (("response_days", response_days), ("closure_days", closure_days)):
        if value is not None and not 1 <= value <= 730:
            raise DomainError("Deadlines are between 1 and 730 days.", field=name)
    if response_days and closure_days and response_days > closure_days:
        raise DomainError("The response cannot be due after closure.", field="response_days")
    if kind is AuditKind.THIRD_PARTY and grade is Grade.MAJOR and (closure_days or 0) > 90:
        raise DomainError("Third-party majors close within 90 days at most.",
                          field="closure_days")
    row = db.session.scalar(select(DeadlinePolicy).where(
        DeadlinePolicy.audit_kind == kind.value, DeadlinePolicy.grade == grade))
    label = (label or "").strip() or None
    if label is not None and len(label) > 60:
        raise DomainError("Keep the name under 60 characters.", field="label")
    if row is None:
        row = DeadlinePolicy(audit_kind=kind.value, grade=grade)
        old = (*DEFAULT_DEADLINES[(kind.value, grade)], None, True)
        db.session.add(row)
    else:
        old = (row.response_days, row.closure_days, row.label, row.is_enabled)
    row.response_days, row.closure_days = response_days, closure_days
    row.label, row.is_enabled = label, bool(is_enabled)
    db.session.flush()
    record(row, "update", actor=actor, now=now,
           summary=f"Policy for {grade.label} in {kind.label} audits",
           changes={"response_days": [old[0], response_days],
                    "closure_days": [old[1], closure_days],
                    "label": [old[2], label], "is_enabled": [old[3], bool(is_enabled)]})
    return row
