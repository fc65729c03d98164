""""Waiting for me": one to-do list per person, read from the workflow itself.

An item waits for a person exactly when the findings workflow grants them a forward action on it
(``workflow.waiting_steps`` / ``action_waits_for``): responses to write, actions to implement,
responses to review, verifications, extensions to decide, SCAR stages, owners to name. Each item
carries the deadline the sweep uses (``Finding.current_deadline``, an action's due date, the
pending extension's current date), so the list, the reminders and the pages name one date.

The candidates are loaded in a fixed number of queries whatever their number: the SQL only
narrows to findings the person could be involved in (owner, unit owner, supplier contact, audit
or follow-up team, action owner; coordinators and administrators: every open finding); the
workflow then decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.extensions import db
from audit.findings.deadlines import DEADLINE_LABELS, local_date
from audit.findings.workflow import FORWARD_SCAR, action_waits_for, is_admin, waiting_steps
from audit.models import (
    ActionStatus,
    Audit,
    AuditTeamMember,
    CorrectiveAction,
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    FindingStatus,
    Role,
    Unit,
    User,
    UserRole,
)

#: What each forward action asks of the person, as the list says it.
STEP_LABELS = {
    "issue": "Finding to issue",
    "assign": "Name an owner who can answer",
    "decide": "Decide: accept or decline",
    "respond": "Response to write",
    "accept": "Response to review",
    "verify": "Verification to do",
    "close": "Verification to do",
    "decide_extension": "Extension to decide",
    "add_action": "Plan further actions",
    "acknowledge": "SCAR to acknowledge",
    "containment": "SCAR containment to record",
    "root_cause": "SCAR root cause to record",
    "plan": "SCAR action plan to submit",
    "complete_action": "Action to implement",
    "escalated": "Overdue, escalated to you: see that it moves",
    "supplier_contact": "Supplier contact to add: nobody can answer this SCAR",
}


#: A finding offers several forward actions for one thing to do (verify or close a minor).
_SAME_ITEM = {"close": "verify"}
#: At most this many findings are examined (the oldest deadlines first).
LIMIT = 300


@dataclass(frozen=True)
class WaitingItem:
    """One thing waiting for one person."""

    step: str  #: the workflow action (or ``complete_action``)
    label: str
    finding: Finding
    action: CorrectiveAction | None
    due_on: dt.date | None
    due_label: str  #: which deadline ("Response", "Containment", "Action"...)
    overdue: bool
    endpoint: str  #: the page the person acts on (supplier contacts: the SCAR page)


def _candidates(user) -> list[Finding]:
    stmt = select(Finding).where(Finding.status != FindingStatus.CLOSED)
    # Coordinators and top management (viewers) hear of escalations about any finding.
    if not (is_admin(user) or user.can(Permission.MANAGE_PROGRAMME) or Role.VIEWER in user.roles):
        my_audits = select(AuditTeamMember.audit_id).where(AuditTeamMember.user_id == user.id)
        involved = [Finding.owner_id == user.id,
                    Finding.unit_id.in_(select(Unit.id).where(Unit.owner_id == user.id)),
                    Finding.audit_id.in_(my_audits), Finding.follow_up_audit_id.in_(my_audits),
                    Finding.id.in_(select(CorrectiveAction.finding_id).where(
                        CorrectiveAction.owner_id == user.id,
                        CorrectiveAction.status == ActionStatus.OPEN))]
        if user.supplier_id is not None:
            involved.append(Finding.supplier_id == user.supplier_id)
        stmt = stmt.where(or_(*involved))
    # People's roles are read by the workflow's rules (can the owner answer?): load them too.
    team = selectinload(Audit.team).joinedload(AuditTeamMember.user).selectinload(User.role_links)
    stmt = stmt.options(
        selectinload(Finding.audit).options(team, joinedload(Audit.site), joinedload(Audit.supplier)),
        selectinload(Finding.follow_up_audit).options(team),
        joinedload(Finding.owner).selectinload(User.role_links),
        selectinload(Finding.unit).joinedload(Unit.owner).selectinload(User.role_links),
        selectinload(Finding.actions).joinedload(CorrectiveAction.owner),
        selectinload(Finding.extensions).joinedload(ExtensionRequest.requested_by),
    ).order_by(Finding.closure_due_on.is_(None), Finding.closure_due_on, Finding.id).limit(LIMIT)
    return list(db.session.scalars(stmt).unique())


def _escalated_to(finding, user, late: int, ladder) -> bool:
    """The sweep's escalation of ``finding``, ``late`` days overdue, reached ``user``'s step
    (the finding then waits for them to see that it moves, until it is no longer overdue)."""
    from audit.findings.reminders import stands_on  # the sweep's own rule of who is on each rung

    return late > 0 and any(late >= days and stands_on(level, finding, user) for days, level in ladder)


def waits_on_the_supplier(finding) -> bool:
    """A SCAR at a stage only the supplier's contacts take (``workflow.SCAR``)."""
    return (finding.is_scar and finding.status is FindingStatus.AWAITING_RESPONSE
            and FORWARD_SCAR.get(finding.scar_stage) is not None)


def suppliers_with_contacts(findings) -> set[int]:
    """Of the suppliers of ``findings``' SCARs that wait on them, those with an active contact who
    may answer SCARs (one query, none when no SCAR waits on its supplier)."""
    ids = {f.supplier_id for f in findings if waits_on_the_supplier(f)}
    if not ids:
        return set()
    answering = [role for role in Role if Permission.RESPOND_SCAR in permissions_for({role})]
    return set(db.session.scalars(select(User.supplier_id).join(UserRole).where(
        User.supplier_id.in_(ids), User.is_active.is_(True), UserRole.role.in_(answering))))


def waiting_for(user, now: dt.datetime) -> list[WaitingItem]:
    """Everything waiting for ``user``, soonest deadline first (no deadline last)."""
    if user is None or not getattr(user, "is_authenticated", True):
        return []
    from audit.findings.reminders import escalation_ladder  # the sweep's own ladder

    ladder = escalation_ladder()
    items: list[WaitingItem] = []
    page = "scar.detail" if user.supplier_id is not None else "findings.detail"
    candidates = _candidates(user)
    # A SCAR whose supplier has nobody left to answer it is the coordinators' to unblock.
    coordinates = user.can(Permission.MANAGE_PROGRAMME) and not is_admin(user)
    answered = suppliers_with_contacts(candidates) if coordinates else set()
    for finding in candidates:
        today = local_date(finding, now)
        deadline, due = finding.current_deadline()
        seen = set()
        for step in waiting_steps(finding, user):
            key = _SAME_ITEM.get(step, step)
            if key in seen:
                continue
            seen.add(key)
            step_due, step_label = due, DEADLINE_LABELS.get(deadline or "", "")
            if step == "decide_extension":
                pending = next(e for e in finding.extensions if e.status is ExtensionStatus.PENDING)
                step_due, step_label = pending.current_due_on, f"{pending.deadline.capitalize()} (to extend)"
            items.append(WaitingItem(step, STEP_LABELS[step], finding, None, step_due, step_label,
                                     step_due is not None and step_due < today, page))
        if coordinates and waits_on_the_supplier(finding) and finding.supplier_id not in answered:
            seen.add("supplier_contact")
            items.append(WaitingItem("supplier_contact", STEP_LABELS["supplier_contact"], finding, None, due,
                                     DEADLINE_LABELS.get(deadline or "", ""), due is not None and due < today,
                                     page))
        if not seen and due is not None and _escalated_to(finding, user, (today - due).days, ladder):
            items.append(WaitingItem("escalated", STEP_LABELS["escalated"], finding, None, due,
                                     DEADLINE_LABELS.get(deadline or "", ""), True, page))
        for action in finding.actions:
            if action.status is ActionStatus.OPEN and action_waits_for(action, user):
                items.append(WaitingItem("complete_action", STEP_LABELS["complete_action"], finding,
                                         action, action.due_on, "Action",
                                         action.due_on is not None and action.due_on < today, page))
    items.sort(key=lambda i: (i.due_on or dt.date.max, i.finding.id, i.action.id if i.action else 0))
    return items


def waiting_count(user, now: dt.datetime) -> int:
    """How many items wait for ``user`` (the navigation badge)."""
    return len(waiting_for(user, now))
