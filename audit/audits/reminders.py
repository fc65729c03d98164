"""Reminders and escalations about audits, computed from state (so a sweep can run any time).

Each reminder is a notification with a dedupe key naming the audit, the stage, the person and
the audit's start date: a sweep that runs twice, or two schedulers racing, send it once; an
audit moved to new dates is reminded again for the new dates. After downtime only the latest
due stage per audience is sent (one catch-up, not a burst of stale reminders).

The "plan" stage depends on the plan: once issued, the auditees are reminded of the audit with
its plan under the plan notice's own key (``agenda.plan_dedupe_key``), so whoever was sent the
plan at issue is not told twice; before it is issued, the auditees hear nothing of a plan and
the person who issues it (the lead) is reminded that it is their turn.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.announcements import auditees
from audit.conduct.agenda import can_edit_plan, plan_dedupe_key
from audit.core.templating import localtime
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Notification,
    TeamRole,
    Unit,
    User,
)
from audit.notifications.services import notify
from audit.people import services as people_services

#: DEFAULT lead times in days per audit kind and stage (config REMINDER_LEAD_DAYS overrides).
DEFAULT_LEAD_DAYS = {
    "internal": {"prepare": 14, "plan": 7, "day_before": 1},
    "second_party": {"prepare": 21, "plan": 14, "day_before": 1},
    "third_party": {"prepare": 30, "plan": 14, "day_before": 1},
}
#: Days before the report due date the lead is reminded.
REPORT_REMINDER_DAYS = 3

#: Who hears of each stage: the auditing team, the auditees (unit owners and members), or both.
STAGE_AUDIENCE = {"prepare": ("team",), "plan": ("auditees",), "day_before": ("team", "auditees")}
STAGE_TEXT = {
    "prepare": ("Prepare for audit {ref} on {date}", "Review the scope, previous findings and the "
                "checklist for {title} at {where}."),
    "plan": ("Audit {ref} of your area on {date}", "The audit plan for {title} at {where} is ready. "
             "Please make the people and records available."),
    "day_before": ("{day}: audit {ref}", "{title} at {where} starts {when}, {start}."),
}
#: The reminder to whoever issues the plan (``plan_issuers``) when the plan stage comes and the
#: plan is not issued: a kind of its own, so it can be told apart (and kept on) in preferences.
ISSUE_PLAN_KIND = "audit_plan_due"
ISSUE_PLAN_TEXT = (
    "Issue the plan of audit {ref} (starts {date})",
    "What happened: {title} at {where} starts {start}; its plan is not issued, so the auditees "
    "have not been told what will be audited when.\n"
    "What is expected of you: add the opening meeting, the sessions and the closing meeting, "
    "then issue the plan to the auditees and the team.\n"
    "By: {plan_by}, {plan_days} days before the audit")


def lead_days(kind: AuditKind) -> dict[str, int]:
    """Lead times for ``kind`` from config, falling back to the defaults."""
    configured = current_app.config.get("REMINDER_LEAD_DAYS") or {}
    return {**DEFAULT_LEAD_DAYS[kind.value], **configured.get(kind.value, {})}


def _auditees(audit: Audit) -> list[User]:
    """The auditees (``announcements.auditees``) and the guides they appointed: guides sit on
    the team but hear of the audit with the auditees (``_team`` leaves them out)."""
    guides = [m.user for m in audit.team if m.role is TeamRole.GUIDE]
    return [*auditees(audit), *guides]


def _team(audit: Audit) -> list[User]:
    # Guides are appointed by the auditee; they hear of the audit with the auditees.
    return [m.user for m in audit.team if m.role is not TeamRole.GUIDE]


def _where(audit: Audit) -> str:
    if audit.site is not None:
        return audit.site.name
    return audit.supplier.name if audit.supplier else "the auditee"


def send_audit_reminders(*, now: dt.datetime) -> int:
    """Reminders before audits (prepare, plan to auditees, day before). Returns notifications made."""
    # Look as far ahead as the longest lead time, configured ones included.
    longest = max(max(lead_days(kind).values()) for kind in AuditKind)
    horizon = now + dt.timedelta(days=longest + 1)
    audits = db.session.scalars(
        select(Audit).where(Audit.status.in_(AuditStatus.not_started()), Audit.starts_at.is_not(None),
                            Audit.starts_at > now, Audit.starts_at <= horizon)
        .options(joinedload(Audit.site), joinedload(Audit.supplier),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user).selectinload(User.role_links),
                 selectinload(Audit.units).joinedload(Unit.owner),
                 selectinload(Audit.units).selectinload(Unit.members))
    ).unique().all()
    # Loaded once, for plans nobody but the programme's people can issue (no acting lead).
    coordinators = people_services.coordinators() if not all(map(plan_is_issued, audits)) else []
    made = 0
    for audit in audits:
        days = lead_days(audit.kind)
        due = [(stage, audit.starts_at - dt.timedelta(days=n)) for stage, n in days.items()]
        due = [(stage, at) for stage, at in due if at <= now]
        for audience in ("team", "auditees"):
            stages = [(s, at) for s, at in due if audience in STAGE_AUDIENCE.get(s, ())]
            if not stages:
                continue
            stage = max(stages, key=lambda x: x[1])[0]  # the latest due stage only
            if stage == "plan" and not plan_is_issued(audit):
                continue  # no plan to announce yet: issuing it is the lead's turn (below)
            people = _team(audit) if audience == "team" else _auditees(audit)
            made += _remind(audit, stage, people, now=now)
        if not plan_is_issued(audit) and any(stage == "plan" for stage, _ in due):
            made += _remind_to_issue_plan(audit, plan_issuers(audit, coordinators), now=now)
    return made


def plan_is_issued(audit: Audit) -> bool:
    """Whether the audit's plan went out to the auditees (``agenda.issue_plan``)."""
    return audit.status in AuditStatus.plan_issued()


def plan_issuers(audit: Audit, coordinators: list[User] | None = None) -> list[User]:
    """Whose turn it is to issue the plan: the lead auditor when they may edit it
    (``agenda.can_edit_plan``), else (no lead, or a lead who can no longer act) the programme's
    manager or the coordinators (``_programme_people``), who may edit any plan."""
    lead = audit.lead
    if lead is not None and lead.is_active and can_edit_plan(audit, lead):
        return [lead]
    return _programme_people(audit, coordinators)


def _programme_people(audit: Audit, coordinators: list[User] | None = None) -> list[User]:
    """Who answers for the audit's programme: its manager if named, else every coordinator
    (``coordinators``, when the caller loaded them once for many audits)."""
    manager = audit.programme.manager if audit.programme and audit.programme.manager_id else None
    if manager is not None and manager.is_active:  # a manager who left: the coordinators stand in
        return [manager]
    return people_services.coordinators() if coordinators is None else coordinators


def _values(audit: Audit, now: dt.datetime) -> dict[str, str]:
    """The words of the reminders: the start in the audit's zone labelled as pages show it
    (``localtime``: "CST (Shanghai)", never a bare ambiguous "CST"), and the day of the start
    counted from the audit's own local today (a start moved to later today, or a catch-up
    after downtime, is "today", not "tomorrow")."""
    local = audit.starts_at.astimezone(zoneinfo.ZoneInfo(audit.timezone))
    days = (local.date() - audit.local_today(now)).days
    when = {0: "today", 1: "tomorrow"}.get(days, f"on {local:%a %d %b %Y}")
    plan_days = lead_days(audit.kind)["plan"]
    plan_by = (audit.starts_at - dt.timedelta(days=plan_days)).astimezone(local.tzinfo)
    return {"ref": audit.reference, "title": audit.title, "where": _where(audit),
            "date": local.strftime("%d %b %Y"), "start": localtime(audit.starts_at, audit.timezone),
            "when": when, "day": when[0].upper() + when[1:],
            "plan_by": plan_by.strftime("%d %b %Y"), "plan_days": str(plan_days)}


def _remind(audit: Audit, stage: str, people, *, now: dt.datetime) -> int:
    values = _values(audit, now)
    title, body = (t.format(**values) for t in STAGE_TEXT[stage])
    link = f"/audits/{audit.id}"
    made = 0
    for person in people:
        key = f"audit:{audit.id}:{stage}:{person.id}:{audit.starts_at:%Y%m%d%H%M}"
        if stage == "plan":
            # The plan notice's own key: whoever was sent this plan at issue is not told twice.
            key, link = plan_dedupe_key(audit, person), f"/audits/{audit.id}/plan"
        if notify(person, kind=f"audit_{stage}", title=title, body=body, link=link,
                  dedupe_key=key, now=now):
            made += 1
    return made


def _remind_to_issue_plan(audit: Audit, people, *, now: dt.datetime) -> int:
    """Remind ``people`` (``plan_issuers``) once per audit date that the plan is theirs to issue."""
    title, body = (t.format(**_values(audit, now)) for t in ISSUE_PLAN_TEXT)
    made = 0
    for person in people:
        key = f"audit:{audit.id}:issue-plan:{person.id}:{audit.starts_at:%Y%m%d%H%M}"
        if notify(person, kind=ISSUE_PLAN_KIND, title=title, body=body, link=f"/audits/{audit.id}/plan",
                  dedupe_key=key, now=now):
            made += 1
    return made


def _cb_report_overdue(audit, due: str, people, *, now: dt.datetime) -> int:
    """Tell the coordinators (those whose "Waiting for me" holds it to record) that a
    certification body's report is late: nobody of ours writes it, so nobody else is asked."""
    made = 0
    for person in people:
        if notify(person, kind="report_overdue",
                  title=f"Overdue: certification body's report for {audit.reference}",
                  body=f"What happened: the certification body's report of {audit.title} was due on "
                       f"{due} and is not recorded.\nWhat is expected of you: Ask the certification "
                       f"body for it, and set the audit to \"Report issued\" when it arrives (after "
                       f"\"Fieldwork complete\").",
                  link=f"/audits/{audit.id}", now=now,
                  dedupe_key=f"audit:{audit.id}:report-overdue:{audit.report_due_on}:{person.id}"):
            made += 1
    return made


def send_report_reminders(*, now: dt.datetime) -> int:
    """Remind the lead before the report is due; escalate an overdue report to the programme's
    coordinator(s) and the owners of the audited units. A third-party audit's report is the
    certification body's: only its lateness is told, to the coordinators."""
    audits = db.session.scalars(
        select(Audit).where(Audit.status.in_(AuditStatus.fieldwork()), Audit.report_due_on.is_not(None),
                            # A day of margin: zones east of UTC are already a day ahead.
                            Audit.report_due_on <= now.date() + dt.timedelta(days=REPORT_REMINDER_DAYS + 1))
        .options(selectinload(Audit.team).joinedload(AuditTeamMember.user),
                 selectinload(Audit.units).joinedload(Unit.owner), joinedload(Audit.programme),
                 joinedload(Audit.site), joinedload(Audit.supplier))
    ).unique().all()
    made = 0
    coordinators = None
    for audit in audits:
        today = audit.local_today(now)
        if audit.report_due_on > today + dt.timedelta(days=REPORT_REMINDER_DAYS):
            continue
        due = audit.report_due_on.strftime("%d %b %Y")
        link = f"/audits/{audit.id}"
        if audit.kind is AuditKind.THIRD_PARTY:
            if audit.report_due_on < today:
                if coordinators is None:
                    coordinators = people_services.coordinators()
                made += _cb_report_overdue(audit, due, coordinators, now=now)
            continue
        lead = audit.lead
        if audit.report_due_on >= today:
            if lead and notify(lead, kind="report_due", title=f"Report for {audit.reference} due {due}",
                               body=f"The report of {audit.title} is due on {due}.", link=link,
                               dedupe_key=f"audit:{audit.id}:report-due:{audit.report_due_on}", now=now):
                made += 1
            continue
        if coordinators is None:
            coordinators = people_services.coordinators()
        escalate = {u.id: u for u in _programme_people(audit, coordinators)}
        for unit in audit.units:
            if unit.owner is not None:
                escalate[unit.owner.id] = unit.owner
        if lead is not None:
            escalate[lead.id] = lead
        for person in escalate.values():
            if notify(person, kind="report_overdue", title=f"Overdue: report for {audit.reference}",
                      body=f"The report of {audit.title} was due on {due} and is not issued.",
                      link=link, dedupe_key=f"audit:{audit.id}:report-overdue:{audit.report_due_on}:{person.id}",
                      now=now):
                made += 1
    return made


def send_overdue_audits(*, now: dt.datetime) -> int:
    """Audits whose dates passed without being started: escalate to the coordinator(s)."""
    # One rule with the coordinators' "Waiting for me" (``waiting.overdue_clause/overdue_day``).
    from audit.audits.waiting import overdue_clause, overdue_day

    audits = db.session.scalars(
        select(Audit).where(overdue_clause(now))
        .options(joinedload(Audit.programme), joinedload(Audit.site), joinedload(Audit.supplier))
    ).unique().all()
    due = [(audit, day) for audit in audits if (day := overdue_day(audit, now)) is not None]
    made = 0
    coordinators = people_services.coordinators() if due else []
    for audit, when in due:
        for person in _programme_people(audit, coordinators):
            if notify(person, kind="audit_overdue", title=f"Overdue: {audit.reference} {audit.title}",
                      body=f"Planned for {when:%d %b %Y} and still {audit.status.label.lower()}: "
                           f"hold it, reschedule it or postpone it with a reason.",
                      link=f"/audits/{audit.id}", dedupe_key=f"audit:{audit.id}:overdue:{when}:{person.id}",
                      now=now):
                made += 1
    return made


#: Readable names of the reminder stages (scheduler page).
STAGE_LABEL = {"prepare": "Prepare (team)", "plan": "Audit coming (auditees)", "day_before": "Audit tomorrow",
               "issue_plan": "Issue the plan (lead)", "report_due": "Report due soon (lead)"}


def _plan_keys_sent(audits: list[Audit]) -> set[str]:
    """The plan notices (``agenda.plan_dedupe_key``) already sent to these audits' auditees."""
    keys = [plan_dedupe_key(a, p) for a in audits for p in _auditees(a)]
    if not keys:
        return set()
    return set(db.session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))))


def upcoming_reminders(*, now: dt.datetime, days: int = 14) -> list[dict]:
    """The reminders the sweeps will send in the next ``days`` days, computed from the same lead
    times and audiences as ``send_audit_reminders``/``send_report_reminders``, sending nothing.

    Each row: ``at`` (aware UTC), ``stage`` label, ``audit``, ``people`` (names). The plan stage
    as the plan stands now: the lead's turn to issue it, or the issued plan for the auditees it
    has not reached yet. A few queries, whatever the number of audits (coordinators only when
    a plan is not issued yet).
    """
    until = now + dt.timedelta(days=days)
    longest = max(max(lead_days(kind).values()) for kind in AuditKind)
    audits = db.session.scalars(
        select(Audit).where(Audit.status.in_(AuditStatus.not_started()), Audit.starts_at.is_not(None),
                            Audit.starts_at > now, Audit.starts_at <= until + dt.timedelta(days=longest + 1))
        .options(joinedload(Audit.site), joinedload(Audit.supplier), joinedload(Audit.programme),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user).selectinload(User.role_links),
                 selectinload(Audit.units).joinedload(Unit.owner),
                 selectinload(Audit.units).selectinload(Unit.members))
    ).unique().all()
    plan_sent = _plan_keys_sent([a for a in audits if plan_is_issued(a)])
    coordinators = people_services.coordinators() if not all(map(plan_is_issued, audits)) else []
    rows = []
    for audit in audits:
        for stage, n in lead_days(audit.kind).items():
            at = audit.starts_at - dt.timedelta(days=n)
            if not now < at <= until:
                continue
            label = STAGE_LABEL[stage]
            people = {p.id: p for audience in STAGE_AUDIENCE.get(stage, ())
                      for p in (_team(audit) if audience == "team" else _auditees(audit))}
            if stage == "plan" and plan_is_issued(audit):
                people = {pid: p for pid, p in people.items() if plan_dedupe_key(audit, p) not in plan_sent}
            elif stage == "plan":
                label, people = STAGE_LABEL["issue_plan"], {p.id: p for p in plan_issuers(audit, coordinators)}
            if people:
                rows.append({"at": at, "stage": label, "audit": audit,
                             "people": sorted(p.name for p in people.values())})
    reports = db.session.scalars(
        select(Audit).where(Audit.status.in_(AuditStatus.fieldwork()), Audit.report_due_on.is_not(None),
                            Audit.report_due_on <= until.date() + dt.timedelta(days=REPORT_REMINDER_DAYS + 1))
        .options(selectinload(Audit.team).joinedload(AuditTeamMember.user),
                 joinedload(Audit.site), joinedload(Audit.supplier))
    ).unique().all()
    for audit in reports:
        # The sweep reminds once the audit's local day is within REPORT_REMINDER_DAYS of the due date.
        day = audit.report_due_on - dt.timedelta(days=REPORT_REMINDER_DAYS)
        at = dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(audit.timezone)).astimezone(dt.UTC)
        if now < at <= until and audit.lead is not None:
            rows.append({"at": at, "stage": STAGE_LABEL["report_due"], "audit": audit, "people": [audit.lead.name]})
    return sorted(rows, key=lambda r: (r["at"], r["audit"].reference))
