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
from audit.findings.workflow import action_waits_for, audit_side_turn, page_for, waiting_steps
from audit.models import (
    ActionStatus,
    Audit,
    AuditTeamMember,
    CorrectiveAction,
    Finding,
    Role,
    Supplier,
    User,
    UserRole,
)
from audit.models.organisation import Unit
from audit.notifications.services import notify
from audit.trail.services import record

#: Owners are reminded this many days before a deadline.
REMIND_DAYS_BEFORE = 7
#: The escalation ladder: (days overdue, who hears). The owner hears on the day (the overdue
#: notice); each later step once, recorded in the finding's trail. ``FINDING_ESCALATION_LADDER``
#: in config overrides the days.
ESCALATION_LADDER = ((7, "unit_owner"), (14, "coordinators"), (30, "top_management"))
#: The first escalation step (kept for callers that speak of "escalation" as one delay).
ESCALATE_AFTER_DAYS = ESCALATION_LADDER[0][0]
LEVEL_LABELS = {"unit_owner": "the unit owner", "coordinators": "the coordinators",
                "top_management": "top management"}


#: What each deadline asks of the people who answer the finding (the sweep messages say it).
EXPECTED = {
    "containment": "Acknowledge the SCAR if not done yet and record the containment on its page.",
    "root_cause": "Record the root cause (5 Whys, Ishikawa or 8D) on the SCAR page.",
    "action_plan": "Submit the corrective action plan on the SCAR page.",
    "implementation": "Implement the planned actions and record the evidence on the SCAR page.",
    "response": "Submit the response: containment, root cause and corrective actions.",
    "closure": "Implement the actions and record the evidence so that the finding can be verified and closed.",
}


#: What each audit-side step asks of the people whose turn it is (the finding's own deadline
#: runs on while they have not acted).
STEP_EXPECTED = {
    "issue": "Issue the finding so that its owner can answer it.",
    "assign": "Name an owner who can answer the finding.",
    "accept": "Review the submitted response: accept it, or send it back with the reason.",
    "verify": "Verify the effectiveness of the actions, then close the finding or record that "
              "they were not effective.",
    "decide_extension": "Decide the pending extension request.",
}
STEP_EXPECTED["close"] = STEP_EXPECTED["verify"]


def _body(happened: str, expected: str, due: dt.date, which: str, detail: str = "") -> str:
    """The sweep message in the transitions' shape (``notifying``): what happened, what is
    expected, by when; the e-mail templates lay these lines out and add the page's link."""
    lines = [f"What happened: {happened}"]
    if detail:
        lines.append(detail)
    lines += [f"What is expected of you: {expected}", f"By: {due:%d %b %Y} ({which} deadline)"]
    return "\n".join(lines)


def escalation_ladder() -> tuple[tuple[int, str], ...]:
    """The configured ladder, lowest step first."""
    from flask import current_app

    ladder = current_app.config.get("FINDING_ESCALATION_LADDER") or ESCALATION_LADDER
    return tuple(sorted((int(days), level) for days, level in ladder))


class _People:
    """Coordinators and top management, each loaded once per sweep."""

    def __init__(self):
        self._by_role: dict[Role, list[User]] = {}

    def with_role(self, role: Role) -> list[User]:
        if role not in self._by_role:
            self._by_role[role] = list(db.session.scalars(
                select(User).join(UserRole).where(UserRole.role == role, User.is_active.is_(True),
                                                  User.supplier_id.is_(None)).order_by(User.id)))
        return self._by_role[role]

    def at(self, level: str, finding: Finding) -> list[User]:
        """The people on ``level`` of the ladder for ``finding`` (``stands_on``, the rule their
        to-do lists read too)."""
        if level == "unit_owner":
            unit_owner = finding.unit.owner if finding.unit is not None else None
            return [unit_owner] if unit_owner is not None and stands_on(level, finding, unit_owner) else []
        # Top management reads the organisation without acting in it: the viewer role.
        return self.with_role(Role.COORDINATOR if level == "coordinators" else Role.VIEWER)


def stands_on(level: str, finding, user) -> bool:
    """Whether ``user`` stands on ``level`` of the escalation ladder for ``finding``: the people
    the sweep escalates to there, and whose to-do list then shows the finding.

    The unit owner is the auditee's line manager: their rung concerns the auditee's turn only
    (a late verification is the audit side's, climbing to the coordinators), and never the
    finding's own owner, who had the overdue notice.
    """
    if level == "unit_owner":
        return (finding.unit is not None and finding.unit.owner_id == user.id
                and finding.owner_id != user.id and not audit_side_turn(finding))
    if level == "coordinators":
        return Role.COORDINATOR in user.roles
    return level == "top_management" and Role.VIEWER in user.roles


def turn_holders(finding: Finding, people: _People) -> dict[User, str]:
    """The people whose turn ``finding`` is now, each with the step it waits for from them.

    On the auditee's turn: those who answer it (its owner, or the supplier's contacts). On the
    audit side's turn: whoever ``waiting_steps`` grants the step -- the audit's
    or the follow-up audit's lead and auditors, a coordinator when none of them can -- the same
    rule as their "Waiting for me", so a notice never goes to someone the page offers nothing.
    """
    if not audit_side_turn(finding):
        return {user: "respond" for user in _responders(finding)}
    candidates = [m.user for audit in (finding.audit, finding.follow_up_audit) if audit is not None
                  for m in audit.team if m.user is not None and m.user.is_active]
    candidates += people.with_role(Role.COORDINATOR)
    holders: dict[User, str] = {}
    for user in candidates:
        if user not in holders and (steps := waiting_steps(finding, user)):
            holders[user] = steps[0]
    return holders


def _expected(step: str, deadline: str) -> str:
    """What the notice asks of someone whose step is ``step``, the finding's ``deadline`` running."""
    return STEP_EXPECTED.get(step) or EXPECTED.get(deadline, "")


def _escalate(finding: Finding, which: str, due: dt.date, late: int, now: dt.datetime,
              people: _People, holders: dict[User, str]) -> int:
    """Climb the ladder up to ``late`` days overdue: each step notifies its people once and
    writes one trail row (the history on the finding's page). Returns notifications queued.

    The people whose turn it is had the overdue notice and are not escalated to as well."""
    sent = 0
    label = f"{finding.grade.label} {finding.reference}"
    if audit_side_turn(finding):
        waiting_on = ", ".join(sorted(u.name for u in holders)) or "nobody"
        expected = f"Make sure the audit side ({waiting_on}) can act now, or hand the step to someone who can."
    else:
        expected = "Make sure the owner can act now, or reassign the finding to someone who can."
    for days, level in escalation_ladder():
        if late < days:
            break
        step_sent = 0
        for user in people.at(level, finding):
            if user in holders:
                continue
            if notify(user, kind="finding_escalated",
                      title=f"Escalation: {label} {which} overdue by {late} days",
                      body=_body(f"the {which} deadline of {label} passed {late} days ago; it was "
                                 f"escalated to {LEVEL_LABELS[level]}.", expected,
                                 due, which, f"Owner: {finding.owner.name if finding.owner else '—'}. "
                                             f"{finding.statement}"),
                      link=page_for(finding, user),
                      dedupe_key=f"finding:{finding.id}:escalate:{level}:{which}:{due}:{user.id}", now=now):
                step_sent += 1
        if step_sent:
            record(finding, "escalate", actor=None, now=now,
                   summary=f"Escalated to {LEVEL_LABELS[level]}: {which} overdue by {late} days",
                   changes={"level": level, "due": due.isoformat(), "days_overdue": late})
        sent += step_sent
    return sent


def _responders(finding: Finding) -> list[User]:
    if finding.is_scar:
        return list(db.session.scalars(select(User).where(
            User.supplier_id == finding.supplier_id, User.is_active.is_(True))))
    return [finding.owner] if finding.owner is not None else []


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
                 selectinload(Finding.unit).selectinload(Unit.owner),
                 # whose turn it is (``turn_holders``): the teams, actions and extensions it reads
                 selectinload(Finding.audit).selectinload(Audit.team).joinedload(AuditTeamMember.user),
                 selectinload(Finding.follow_up_audit).selectinload(Audit.team)
                 .joinedload(AuditTeamMember.user),
                 selectinload(Finding.actions).joinedload(CorrectiveAction.owner),
                 selectinload(Finding.extensions))
        .order_by(Finding.id)
    ).all()
    people = _People()
    for finding in findings:
        # The same deadline the page, the to-do list and the supplier's status name.
        deadline, due = finding.current_deadline()
        if due is None:
            continue
        which = DEADLINE_LABELS[deadline].lower()
        days_left = (due - local_date(finding, now)).days
        label = f"{finding.grade.label} {finding.reference}"
        holders = turn_holders(finding, people) if days_left <= REMIND_DAYS_BEFORE else {}
        if 0 <= days_left <= REMIND_DAYS_BEFORE:
            for user, step in holders.items():
                if notify(user, kind="finding_due_soon",
                          title=f"{label}: {which} due {due:%d %b %Y}",
                          body=_body(f"the {which} deadline of {label} is "
                                     + ("today." if days_left == 0 else f"in {days_left} day{'s' if days_left > 1 else ''}."),
                                     _expected(step, deadline), due, which, finding.statement),
                          link=page_for(finding, user),
                          dedupe_key=f"finding:{finding.id}:remind:{which}:{due}:{user.id}",
                          now=now):
                    counts["reminders"] += 1
        elif days_left < 0:
            for user, step in holders.items():
                more_time = (" or ask for an extension on the page;" if step == "respond"
                             else ";")
                if notify(user, kind="finding_overdue",
                          title=f"{label}: {which} overdue since {due:%d %b %Y}",
                          body=_body(f"the {which} deadline of {label} passed on {due:%d %b %Y}.",
                                     f"{_expected(step, deadline)} Do it now,{more_time} it is escalated "
                                     "if it stays overdue.",
                                     due, which, finding.statement),
                          link=page_for(finding, user),
                          dedupe_key=f"finding:{finding.id}:overdue:{which}:{due}:{user.id}",
                          now=now):
                    counts["overdue"] += 1
            counts["escalations"] += _escalate(finding, which, due, -days_left, now, people, holders)

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
        if not action_waits_for(action, action.owner):
            continue  # not workable yet (a response under review) or someone else's to finish
        state = "overdue" if action.due_on < today else "due"
        if notify(action.owner, kind="action_due",
                  title=f"Action on {action.finding.reference} {state} {action.due_on:%d %b %Y}",
                  body=_body(f"your action on {action.finding.grade.label} {action.finding.reference} "
                             + ("is overdue." if state == "overdue" else "is due soon."),
                             "Implement the action and mark it implemented with its evidence on the page.",
                             action.due_on, "action", f"Action: {action.description}"),
                  link=page_for(action.finding, action.owner),
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
