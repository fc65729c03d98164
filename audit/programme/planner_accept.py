"""Accepting a planner run: every proposal through the audit services, all or nothing.

Split from ``planner`` (which only proposes): each row is applied in a savepoint through the same
services as a manual change, so every rule is checked again (the calendar rule, competence,
impartiality, double booking, the travel day); then the workload limit, once every row has its
days, for the people the run chose. A refused row names its reason and the way past it.
"""

from __future__ import annotations

import datetime as dt

from audit.audits.dates import date_problems
from audit.audits.services import add_team_member, change_status, reschedule_audit
from audit.audits.workload import workload_warnings
from audit.core.errors import DomainError
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.models import Audit, AuditKind, AuditStatus, PlannerRun, TeamRole, User
from audit.programme.planner import DAY_END, DAY_START, consecutive_days
from audit.trail.services import record


class AcceptRefused(DomainError):
    """Some proposals broke a rule: nothing was applied; ``rows`` maps audit id → reason."""

    def __init__(self, rows: dict[int, str], references: dict[int, str]):
        super().__init__(" ".join(f"{references[aid]}: {why}" for aid, why in rows.items()))
        self.rows = rows


def accept_planner_run(run: PlannerRun, *, actor, now: dt.datetime, edits: dict[int, dict] | None = None,
                       skip: set[int] | None = None) -> int:
    """Apply the (possibly edited) proposals through the audit services; every rule is checked
    again (the calendar rule, competence, impartiality, double booking). ``edits`` maps audit id
    → {"day": date, "lead_id": id}. A row whose audit changed since the run (a manual reschedule,
    a team change) fails too: the proposal no longer starts from what the audit is.
    All-or-nothing: when any proposal fails, ``AcceptRefused`` names every failing row with its
    reason, and the caller rolls back."""
    if run.accepted_at is not None:
        raise DomainError("This proposal was already accepted.")
    edits, skip = edits or {}, skip or set()
    applied = 0
    failed: dict[int, str] = {}
    chosen: dict[Audit, set[int]] = {}  # the people the planner (or the edit) put in each audit
    for p in run.proposals:
        if p["audit_id"] in skip:
            continue
        audit = db.session.get(Audit, p["audit_id"])
        if audit is None or audit.status is not AuditStatus.PLANNED:
            continue
        if _changed_since(audit, p, run):
            # Applying it would undo a coordinator's later change (say, a manual reschedule) and
            # record it as the planner's: refused like any broken rule, the other rows kept.
            failed[audit.id] = (f"{audit.reference} changed since this proposal was made: run the "
                                "planner again, or leave this row out.")
            continue
        try:
            # A savepoint per row: a refused row leaves no half-applied change behind it.
            with db.session.begin_nested():
                chosen[audit] = _apply(audit, p, edits.get(audit.id, {}), actor=actor, now=now)
        except DomainError as exc:
            failed[audit.id] = exc.message
            continue
        applied += 1
    # The workload limit, once every row has its days: checked row by row, an audit moved out
    # of a month later in the run would still count there.
    for audit, people in chosen.items():
        over = workload_warnings(audit, only=people) if people else []
        if over:
            failed[audit.id] = " ".join([*over, PLANNER_WORKLOAD_HINT])
    if failed:
        raise AcceptRefused(failed, {p["audit_id"]: p["reference"] for p in run.proposals})
    run.accepted_at = now
    db.session.flush()
    record(run, "accept", actor=actor, now=now, summary=f"Accepted {applied} planner proposals",
           changes={"applied": applied})
    return applied


def _changed_since(audit: Audit, p: dict, run: PlannerRun) -> bool:
    """Whether the audit's dates or team changed after the run proposed ``p``: its revision
    moved on (runs stored before proposals kept it: the audit was edited after the run)."""
    if "revision" in p:
        return (audit.revision or 0) != p["revision"]
    return audit.updated_at is not None and audit.updated_at > run.created_at


#: The accept form has no reason field, so a weekend or a holiday is overridden elsewhere.
PLANNER_OVERRIDE_HINT = ("Choose working days here, or use the audit's reschedule page to audit on "
                         "those days with a recorded reason.")
#: The same for the travel day between countries.
PLANNER_TRAVEL_HINT = ("Choose other days or another lead here, or use the audit's reschedule page to "
                       "skip the travel day with a recorded reason.")

#: The same for the monthly workload limit, which the audit's page lets a coordinator pass.
PLANNER_WORKLOAD_HINT = ("Choose another lead or other days here, or add the person on the audit's page "
                         "to go past the limit knowingly.")


def _check_planner_days(audit: Audit, days: list[dt.date], *, today: dt.date) -> None:
    """The one calendar rule for an accepted row, told in the planner's words: it cannot take a
    reason, so its refusal sends the coordinator to the reschedule page instead of promising one."""
    problems = date_problems(audit, days[0], days[-1], today=today)
    if problems:
        raise DomainError(" ".join(PLANNER_OVERRIDE_HINT if p.rule == "override" else p.message
                                   for p in problems))


def _apply(audit: Audit, p: dict, edit: dict, *, actor, now: dt.datetime) -> set[int]:
    """One proposal through the audit services (dates, lead, auditors, scheduled); returns the
    ids of the people it added to the team."""

    day = edit.get("day") or dt.date.fromisoformat(p["day"])
    lead_id = edit.get("lead_id", p["lead_id"])
    if audit.starts_at is None or day != audit.local_dates()[0]:
        days = consecutive_days(day, audit.planned_days or 1)
        _check_planner_days(audit, days, today=audit.local_today(now))
        # The same calendar rule as every manual change; a late proposal may pass its deadline.
        reschedule_audit(audit, starts_local=dt.datetime.combine(days[0], DAY_START),
                         ends_local=dt.datetime.combine(days[-1], DAY_END), actor=actor, now=now,
                         reason="planner", allow_late=bool(p.get("late")), travel_hint=PLANNER_TRAVEL_HINT)
    added: set[int] = set()
    if lead_id and audit.lead is None:
        # The lead may come from the edited form: an unknown id is a message, not a 500.
        lead = get_or_fail(User, lead_id, field="lead_id", what="lead auditor")
        add_team_member(audit, lead, TeamRole.LEAD, actor=actor, now=now)
        added.add(lead.id)
    for uid in p.get("auditor_ids") or []:
        if uid != lead_id and all(m.user_id != uid for m in audit.team):
            auditor = get_or_fail(User, uid, field="auditor_ids", what="auditor")
            add_team_member(audit, auditor, TeamRole.AUDITOR, actor=actor, now=now)
            added.add(auditor.id)
    if audit.lead is not None or audit.kind is AuditKind.THIRD_PARTY:
        change_status(audit, AuditStatus.SCHEDULED, actor=actor, now=now)
    return added
