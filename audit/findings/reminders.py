"""Deadline reminders and escalation for findings and their actions (a scheduler sweep).

The sweep is safe to run any number of times: every notification carries a dedupe key built
from the finding, the deadline kind, the due date and the recipient, so a second run (or a
second scheduler) sends nothing new, and an approved extension (new due date) starts afresh.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.extensions import db
from audit.findings.deadlines import DEADLINE_LABELS
from audit.findings.services import OPEN_STATUSES, local_date, update_supplier_status
from audit.models import (
    ActionStatus,
    Audit,
    CorrectiveAction,
    Finding,
    Role,
    Supplier,
    User,
    UserRole,
)
from audit.models.organisation import Unit
from audit.notifications.services import notify

#: Owners are reminded this many days before a deadline.
REMIND_DAYS_BEFORE = 7
#: Coordinators and the unit owner hear about a deadline missed by this many days.
ESCALATE_AFTER_DAYS = 7


def _coordinators() -> list[User]:
    return list(db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR,
                                          User.is_active.is_(True)).order_by(User.id)))


def _responders(finding: Finding) -> list[User]:
    if finding.is_scar:
        return list(db.session.scalars(select(User).where(
            User.supplier_id == finding.supplier_id, User.is_active.is_(True))))
    return [finding.owner] if finding.owner is not None else []


def _link(finding: Finding) -> str:
    return f"/{'scar' if finding.is_scar else 'findings'}/{finding.id}"


def sweep_finding_deadlines(now: dt.datetime) -> dict[str, int]:
    """Remind owners before deadlines, flag overdue findings, escalate, review suppliers.

    Returns counts of notifications queued by kind (for the job log and the tests). The caller
    (job) commits.
    """
    counts = {"reminders": 0, "overdue": 0, "escalations": 0, "action_reminders": 0,
              "suppliers_changed": 0}
    # Deadlines are calendar days where the audit happened: "today" is the auditee's date.
    with_zone = selectinload(Finding.audit).options(joinedload(Audit.site), joinedload(Audit.supplier))
    findings = db.session.scalars(
        select(Finding)
        .where(Finding.status.in_(OPEN_STATUSES))
        .options(selectinload(Finding.owner), with_zone,
                 selectinload(Finding.unit).selectinload(Unit.owner))
        .order_by(Finding.id)
    ).all()
    coordinators = None
    for finding in findings:
        # The same deadline the page, the to-do list and the supplier's status name.
        deadline, due = finding.current_deadline()
        if due is None:
            continue
        which = DEADLINE_LABELS[deadline].lower()
        days_left = (due - local_date(finding, now)).days
        label = f"{finding.grade.label} {finding.reference}"
        if 0 <= days_left <= REMIND_DAYS_BEFORE:
            for user in _responders(finding):
                if notify(user, kind="finding_due_soon",
                          title=f"{label}: {which} due {due:%d %b %Y}",
                          body=finding.statement, link=_link(finding),
                          dedupe_key=f"finding:{finding.id}:remind:{which}:{due}:{user.id}",
                          now=now):
                    counts["reminders"] += 1
        elif days_left < 0:
            for user in _responders(finding):
                if notify(user, kind="finding_overdue",
                          title=f"{label}: {which} overdue since {due:%d %b %Y}",
                          body=finding.statement, link=_link(finding),
                          dedupe_key=f"finding:{finding.id}:overdue:{which}:{due}:{user.id}",
                          now=now):
                    counts["overdue"] += 1
            if -days_left >= ESCALATE_AFTER_DAYS:
                if coordinators is None:
                    coordinators = _coordinators()
                targets = list(coordinators)
                if finding.unit is not None and finding.unit.owner is not None:
                    targets.append(finding.unit.owner)
                seen = set()
                for user in targets:
                    if user.id in seen:
                        continue
                    seen.add(user.id)
                    if notify(user, kind="finding_escalated",
                              title=f"Escalation: {label} {which} overdue by {-days_left} days",
                              body=f"Owner: {finding.owner.name if finding.owner else '—'}. "
                                   f"{finding.statement}",
                              link=f"/findings/{finding.id}",
                              dedupe_key=f"finding:{finding.id}:escalate:{which}:{due}:{user.id}",
                              now=now):
                        counts["escalations"] += 1

    actions = db.session.scalars(
        select(CorrectiveAction)
        .join(Finding)
        .where(CorrectiveAction.status == ActionStatus.OPEN,
               Finding.status.in_(OPEN_STATUSES),
               CorrectiveAction.due_on.is_not(None),
               # A day of margin: zones east of UTC are already a day ahead.
               CorrectiveAction.due_on <= now.date() + dt.timedelta(days=REMIND_DAYS_BEFORE + 1))
        .options(selectinload(CorrectiveAction.owner),
                 selectinload(CorrectiveAction.finding).options(with_zone))
        .order_by(CorrectiveAction.id)
    ).all()
    for action in actions:
        today = local_date(action.finding, now)
        if action.owner is None or action.due_on > today + dt.timedelta(days=REMIND_DAYS_BEFORE):
            continue
        state = "overdue" if action.due_on < today else "due"
        if notify(action.owner, kind="action_due",
                  title=f"Action on {action.finding.reference} {state} {action.due_on:%d %b %Y}",
                  body=action.description, link=_link(action.finding),
                  dedupe_key=f"action:{action.id}:{state}:{action.due_on}:{action.owner.id}",
                  now=now):
            counts["action_reminders"] += 1

    supplier_ids = {f.supplier_id for f in findings if f.supplier_id is not None}
    suppliers = db.session.scalars(select(Supplier).where(Supplier.id.in_(supplier_ids))).all() \
        if supplier_ids else []
    from audit.models import ApprovalStatus

    on_probation = db.session.scalars(select(Supplier).where(
        Supplier.approval_status == ApprovalStatus.ON_PROBATION)).all()
    for supplier in {s.id: s for s in [*suppliers, *on_probation]}.values():
        if update_supplier_status(supplier, actor=None, now=now):
            counts["suppliers_changed"] += 1
    db.session.flush()
    return counts
