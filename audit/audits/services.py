"""Audit rules: creating and editing audits, their team, and their life cycle.

Wall-clock times arrive as naive local datetimes in the audit's zone (its site's, else its
supplier's) and are stored in UTC. Any change that moves a date or changes the team bumps
``revision`` (calendar SEQUENCE) and is re-checked against every team rule.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import func, select

from audit.audits.announcements import announce
from audit.audits.dates import date_problems
from audit.audits.team import TRAVEL_FORM_HINT, TRAVEL_OVERRIDE_HINT, check_team, member_problems
from audit.audits.workflow import AUDIT, NEEDS_LEAD_AND_DATES, NEEDS_REASON, require_move, staffing_problem
from audit.core.errors import DomainError, StaleObject
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Certificate,
    CertificationBody,
    ChecklistTemplateVersion,
    Clause,
    Programme,
    Site,
    Standard,
    Supplier,
    TeamRole,
    ThirdPartyType,
    Unit,
    User,
)
from audit.trail.services import apply_changes, record, snapshot

REFERENCE_PREFIX = {AuditKind.INTERNAL: "IA", AuditKind.SECOND_PARTY: "SA", AuditKind.THIRD_PARTY: "CA"}

#: Default days between the last audit day and the report due date (DEFAULT, configurable).
#: Fallback when the app sets no REPORT_DUE_DAYS (days after the audit's last local day).
REPORT_DUE_DAYS = 14


def report_due_days() -> int:
    """Days after the audit ends by which the report is due (config ``REPORT_DUE_DAYS``)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get("REPORT_DUE_DAYS", REPORT_DUE_DAYS))
    return REPORT_DUE_DAYS


def next_reference(kind: AuditKind, year: int) -> str:
    """``IA-2026-014``: prefix by kind, year, and a running number per prefix and year."""
    prefix = f"{REFERENCE_PREFIX[kind]}-{year}-"
    last = db.session.scalar(select(func.max(Audit.reference)).where(Audit.reference.like(prefix + "%")))
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:03d}"


def to_utc(local: dt.datetime | None, zone: str) -> dt.datetime | None:
    """A naive wall-clock time in ``zone`` → aware UTC (a time in a DST gap moves forward)."""
    if local is None:
        return None
    if local.tzinfo is not None:
        return local.astimezone(dt.UTC)
    tz = zoneinfo.ZoneInfo(zone)
    aware = local.replace(tzinfo=tz)
    # Round-trip to detect wall times that do not exist (spring-forward gap).
    back = aware.astimezone(dt.UTC).astimezone(tz)
    if back.replace(tzinfo=None) != local:
        aware = back
    return aware.astimezone(dt.UTC)


def to_local(value: dt.datetime | None, zone: str) -> dt.datetime | None:
    """Aware UTC → naive wall-clock time in ``zone`` (for forms)."""
    if value is None:
        return None
    return value.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def _ids(values) -> list[int]:
    return [int(v) for v in (values or []) if v]


def _scope_values(data: dict, audit: Audit | None) -> dict:
    """Validate the form data into model values (everything but dates and team)."""
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Give the audit a title.", field="title")
    kind = data.get("kind")
    kind = AuditKind(kind) if isinstance(kind, str) else kind
    if kind is None:
        raise DomainError("Choose the kind of audit.", field="kind")
    tp = data.get("third_party_type") or None
    tp = ThirdPartyType(tp) if isinstance(tp, str) else tp
    if kind is AuditKind.THIRD_PARTY and tp is None:
        raise DomainError("A certification audit needs its type (stage 1, surveillance, ...).",
                          field="third_party_type")
    if kind is not AuditKind.THIRD_PARTY:
        tp = None
    site = get_or_fail(Site, data.get("site_id"), field="site_id", what="site", optional=True)
    supplier = get_or_fail(Supplier, data.get("supplier_id"), field="supplier_id", what="supplier",
                           optional=True)
    if kind is AuditKind.SECOND_PARTY and supplier is None:
        raise DomainError("A supplier audit needs the supplier.", field="supplier_id")
    if kind is not AuditKind.SECOND_PARTY and site is None:
        raise DomainError("Choose the site where the audit happens.", field="site_id")
    programme = get_or_fail(Programme, data.get("programme_id"), field="programme_id",
                            what="programme", optional=True)
    certificate = get_or_fail(Certificate, data.get("certificate_id"), field="certificate_id",
                              what="certificate", optional=True)
    cb = get_or_fail(CertificationBody, data.get("certification_body_id"),
                     field="certification_body_id", what="certification body", optional=True)
    units = list(db.session.scalars(select(Unit).where(Unit.id.in_(_ids(data.get("unit_ids"))))))
    standards = list(db.session.scalars(select(Standard).where(Standard.id.in_(_ids(data.get("standard_ids"))))))
    if kind is AuditKind.THIRD_PARTY and certificate is not None and cb is None:
        cb = certificate.certification_body
    clauses = _scope_clauses(data, audit, standards)
    planned_days = int(data.get("planned_days") or 1)
    if not 1 <= planned_days <= 30:
        raise DomainError("An audit lasts between 1 and 30 days.", field="planned_days")
    values = {
        "title": title, "kind": kind, "third_party_type": tp, "site": site, "supplier": supplier,
        "programme": programme, "certificate": certificate, "certification_body": cb,
        "audit_client": (data.get("audit_client") or "").strip() or None,
        "objectives": (data.get("objectives") or "").strip() or None,
        "scope": (data.get("scope") or "").strip() or None,
        "criteria": (data.get("criteria") or "").strip() or None,
        "units": units, "standards": standards, "planned_days": planned_days,
    }
    if clauses is not None:
        values["clauses"] = clauses
    if "checklist_version_id" in data:
        values["checklist_version"] = get_or_fail(
            ChecklistTemplateVersion, data.get("checklist_version_id"), field="checklist_version_id",
            what="checklist version", optional=True)
    if "planned_date" in data and (audit is None or audit.planned_date is None):
        # The originally planned date is kept once set: rescheduling moves starts_at only.
        values["planned_date"] = data.get("planned_date")
    if "report_due_on" in data:
        values["report_due_on"] = data.get("report_due_on")
    if "due_by" in data or (certificate is not None and (audit is None or audit.due_by is None)):
        # A hand-entered cycle step gets its deadline too (imported here: the programme imports us).
        from audit.programme.deadlines import step_deadline as cycle_due
        values["due_by"] = data.get("due_by") or cycle_due(certificate, tp, audit, data.get("planned_date"))
    return values


def _scope_clauses(data: dict, audit: Audit | None, standards: list[Standard]) -> list[Clause] | None:
    """The clauses that narrow the scope, each inside a standard in scope (None = unchanged).

    Without ``clause_ids`` in ``data`` (callers that do not edit clauses) an edited audit keeps
    its clauses, but they are still checked against the new standards.
    """
    if "clause_ids" in data:
        wanted = _ids(data.get("clause_ids"))
        clauses = list(db.session.scalars(
            select(Clause).where(Clause.id.in_(wanted)).order_by(Clause.standard_id, Clause.position)))
        if len(clauses) != len(set(wanted)):
            raise DomainError("One of the chosen clauses no longer exists: reload the page and choose again.",
                              field="clause_ids")
    elif audit is not None:
        clauses = list(audit.clauses)
    else:
        return None
    in_scope = {s.id for s in standards}
    outside = [c for c in clauses if c.standard_id not in in_scope]
    if outside:
        names = ", ".join(f"{c.standard.label} {c.number}" for c in outside)
        verb = "is" if len(outside) == 1 else "are"
        raise DomainError(f"{names} {verb} not in a standard in scope: tick the standard too, "
                          "or untick the clause.", field="clause_ids")
    return clauses if "clause_ids" in data else None


def _date_values(data: dict, zone: str) -> dict:
    """Local start/end → UTC, validated."""
    if "starts_local" not in data and "ends_local" not in data:
        return {}
    starts = to_utc(data.get("starts_local"), zone)
    ends = to_utc(data.get("ends_local"), zone)
    if (starts is None) != (ends is None):
        raise DomainError("Give both the start and the end, or neither.",
                          field="ends_local" if ends is None else "starts_local")
    if starts is not None and ends <= starts:
        raise DomainError("The audit must end after it starts.", field="ends_local")
    return {"starts_at": starts, "ends_at": ends}


def _check_due_by(audit: Audit, now: dt.datetime) -> None:
    """A dated audit must start by its ``due_by`` day (trigger and major-NC follow-ups).

    Once that day has passed at the site the deadline cannot be met any more, and dating the
    audit is the way to catch up, so it is no longer enforced.
    """
    span = audit.local_dates()
    if audit.due_by is None or span is None:
        return
    today = now.astimezone(zoneinfo.ZoneInfo(audit.timezone)).date()
    if audit.due_by >= today and span[0] > audit.due_by:
        raise DomainError(f"{audit.reference} must happen by {audit.due_by:%d %b %Y}: choose an earlier "
                          "start, or change \u201cMust happen by\u201d if that deadline was agreed to move.",
                          field="starts_local")


def _raise_first(problems, field: str | None = None) -> None:
    if problems:
        raise DomainError(" ".join(p.message for p in problems), field=field)


def _check_calendar(audit: Audit, data: dict, changes: dict | None = None, *, today: dt.date | None = None) -> None:
    """A person's dates keep the one calendar rule (``audit.audits.dates``); a weekend or a
    holiday needs ``date_override_reason``, which is then kept in ``changes`` (the trail).
    ``today`` (the site's date) refuses a start in the past; None when the start did not move."""

    span = audit.local_dates()
    if span is None:
        return
    reason = (data.get("date_override_reason") or "").strip() or None
    problems = date_problems(audit, span[0], span[1], override_reason=reason, today=today)
    waivable_only = all(p.rule in ("weekend", "holiday", "override") for p in problems)
    _raise_first(problems, field="date_override_reason" if waivable_only else "starts_local")
    if reason and changes is not None and date_problems(audit, span[0], span[1]):
        changes["date_override_reason"] = reason


def create_audit(data: dict, *, actor, now: dt.datetime, manual: bool = False) -> Audit:
    """Create an audit from form data; the reference is generated from kind and year.

    ``manual`` marks a person's form: its dates keep the calendar rule. Generation, triggers and
    the demo create audits on the days their rules chose."""
    values = _scope_values(data, None)
    zone = (values["site"] or values["supplier"]).timezone if (values["site"] or values["supplier"]) else "UTC"
    values.update(_date_values(data, zone))
    year_source = values.get("starts_at") or values.get("planned_date") or now
    audit = Audit(reference=next_reference(values["kind"], year_source.year), status=AuditStatus.PLANNED,
                  revision=0, created_at=now, updated_at=now)
    for key, value in values.items():
        setattr(audit, key, value)
    if audit.planned_date is None and audit.starts_at is not None:
        audit.planned_date = to_local(audit.starts_at, zone).date()
    if audit.report_due_on is None and audit.ends_at is not None:
        audit.report_due_on = to_local(audit.ends_at, zone).date() + dt.timedelta(days=report_due_days())
    _check_due_by(audit, now)
    changes = snapshot({k: v for k, v in values.items()})
    if manual:
        _check_calendar(audit, data, changes, today=audit.local_today(now))
    db.session.add(audit)
    db.session.flush()
    record(audit, "create", actor=actor, now=now, summary=f"Created audit {audit.reference}",
           changes=changes)
    return audit


def _check_version(audit: Audit, version: int | None) -> None:
    if version is not None and int(version) != audit.version_id:
        raise StaleObject("Someone else changed this audit while you were editing: reload and try again.")


def update_audit(audit: Audit, data: dict, *, actor, now: dt.datetime, version: int | None = None,
                 manual: bool = False) -> Audit:
    """Edit an audit. Moving dates bumps the revision and re-checks the team rules; on a
    person's form (``manual``) new dates keep the calendar rule too."""
    _check_version(audit, version)
    if audit.status in (AuditStatus.CLOSED, AuditStatus.CANCELLED):
        raise DomainError(f"A {audit.status.label.lower()} audit can no longer be edited.")
    values = _scope_values(data, audit)
    zone = (values["site"] or values["supplier"]).timezone if (values["site"] or values["supplier"]) else "UTC"
    values.update(_date_values(data, zone))
    days_before = audit.local_dates()
    changes = apply_changes(audit, values)
    if not changes:
        return audit
    if {"starts_at", "ends_at"} & changes.keys():
        audit.revision += 1
        if audit.ends_at is not None and "report_due_on" not in changes:
            audit.report_due_on = to_local(audit.ends_at, zone).date() + dt.timedelta(days=report_due_days())
    audit.updated_at = now
    _check_due_by(audit, now)
    if manual and {"starts_at", "ends_at", "programme"} & changes.keys():
        # Only a moved start is checked against today: an audit under way keeps its first day.
        _check_calendar(audit, data, changes,
                        today=audit.local_today(now) if "starts_at" in changes else None)
    db.session.flush()
    if {"starts_at", "ends_at", "units", "standards"} & changes.keys():
        # The travel day is judged when the days move; an edit that keeps them (the end time,
        # the scope) does not reopen a travel day skipped before with a recorded reason.
        check_team(audit, today=now.date(), reason=data.get("date_override_reason"), changes=changes,
                    hint=TRAVEL_FORM_HINT, reason_field="date_override_reason",
                    reason_key="date_override_reason", travel=audit.local_dates() != days_before)
    record(audit, "update", actor=actor, now=now, summary=f"Updated audit {audit.reference}",
           changes=changes)
    if {"starts_at", "ends_at"} & changes.keys():
        # An audit without dates before is not "moved": the auditees hear its first dates.
        announce(audit, "rescheduled" if days_before else "scheduled", now=now)
    return audit


def reschedule_audit(audit: Audit, *, starts_local: dt.datetime, ends_local: dt.datetime, actor,
                     now: dt.datetime, reason: str | None = None, allow_late: bool = False,
                     override_reason: str | None = None, travel_hint: str = TRAVEL_OVERRIDE_HINT) -> Audit:
    """Move an audit's dates (the planned date is kept); the calendar rule and the team rules
    must still hold.

    ``allow_late`` accepts a start after ``due_by`` (the planner's "late" proposals: no working
    day with a free lead is left before the deadline). ``travel_hint`` is what a refusal over the
    travel day says can be done about it (a caller without a reason field words it its own way).
    ``override_reason`` allows a weekend or a
    site holiday and is recorded in the trail; the programme period and a start before the
    site's today are never waived."""

    if not audit.is_open:
        raise DomainError(f"A {audit.status.label.lower()} audit cannot be rescheduled.")
    values = _date_values({"starts_local": starts_local, "ends_local": ends_local}, audit.timezone)
    if values["starts_at"] is None:
        raise DomainError("Give the new start and end.", field="starts_local")
    dated_before = audit.starts_at is not None
    changes = apply_changes(audit, values)
    if not changes:
        return audit
    first, last = audit.local_dates()
    override_reason = (override_reason or "").strip() or None
    # Only a moved start must not lie in the past: extending an audit under way is allowed.
    today = audit.local_today(now) if "starts_at" in changes else None
    problems = date_problems(audit, first, last, override_reason=override_reason, today=today)
    # Only waivable days wrong: the reason field is where the coordinator can fix it.
    waivable_only = all(p.rule in ("weekend", "holiday", "override") for p in problems)
    _raise_first(problems, field="reason" if waivable_only else "starts_local")
    waived = date_problems(audit, first, last) if override_reason else []
    if waived:
        changes["override_reason"] = override_reason
    audit.revision += 1
    audit.updated_at = now
    if audit.planned_date is None:
        audit.planned_date = to_local(audit.starts_at, audit.timezone).date()
    audit.report_due_on = to_local(audit.ends_at, audit.timezone).date() + dt.timedelta(days=report_due_days())
    if not allow_late:
        _check_due_by(audit, now)
    db.session.flush()
    check_team(audit, today=now.date(), reason=override_reason, changes=changes, hint=travel_hint,
                reason_field="reason", reason_key="override_reason")
    record(audit, "reschedule", actor=actor, now=now,
           summary=f"Rescheduled {audit.reference}" + (f": {reason}" if reason else ""), changes=changes)
    # An audit without dates before is not "moved": the auditees hear its first dates.
    announce(audit, "rescheduled" if dated_before else "scheduled", now=now)
    return audit


def add_team_member(audit: Audit, user: User, role: TeamRole, *, justification: str | None = None,
                    actor, now: dt.datetime) -> AuditTeamMember:
    """Put ``user`` in the team, enforcing competence, impartiality and no double booking."""
    if not audit.is_open:
        raise DomainError(f"The team of a {audit.status.label.lower()} audit cannot change.")
    for member in audit.team:
        if member.user_id == user.id:
            raise DomainError(f"{user.name} is already in the team as {member.role.label.lower()}.",
                              field="user_id")
    if role is TeamRole.LEAD and audit.lead is not None:
        raise DomainError(f"{audit.lead.name} already leads this audit: remove them first.", field="role")
    _raise_first(member_problems(audit, user, role, justification=justification, today=now.date()),
                 field="user_id")
    justification = (justification or "").strip() or None
    member = AuditTeamMember(user=user, role=role, impartiality_justification=justification)
    audit.team.append(member)
    audit.revision += 1
    audit.updated_at = now
    db.session.flush()
    changes = {"user": user.id, "role": role.value}
    if justification:
        changes["impartiality_justification"] = justification
    record(audit, "team_add", actor=actor, now=now,
           summary=f"{user.name} joined {audit.reference} as {role.label.lower()}", changes=changes)
    announce(audit, "assigned", now=now, subject=user, role=role)
    return member


def remove_team_member(audit: Audit, member: AuditTeamMember, *, actor, now: dt.datetime) -> None:
    """Take someone out of the team; a scheduled audit keeps its lead."""
    if member.audit_id != audit.id:
        raise DomainError("That person is not in this audit's team.")
    if member.role is TeamRole.LEAD and audit.status in NEEDS_LEAD_AND_DATES:
        raise DomainError("A scheduled audit needs its lead: assign another lead first "
                          "or move the audit back to planned.")
    audit.team.remove(member)
    audit.revision += 1
    audit.updated_at = now
    db.session.flush()
    record(audit, "team_remove", actor=actor, now=now,
           summary=f"{member.user.name} left {audit.reference}",
           changes={"user": member.user_id, "role": member.role.value})
    announce(audit, "unassigned", now=now, subject=member.user, role=member.role)


def change_status(audit: Audit, new: AuditStatus, *, reason: str | None = None, actor,
                  now: dt.datetime, manual: bool = False) -> Audit:
    """Move the audit along its life cycle (``workflow.AUDIT``); postponement and cancellation
    need a reason.

    ``manual`` marks a person's status form: the workflow decides who may and whether now.
    Moves the system makes (planner, checklist, generation) keep to the same table of states
    and the same staffing rule.
    """
    old = audit.status
    if new is old:
        return audit
    if manual:
        AUDIT.require(audit, actor, new.value)
    else:
        require_move(audit, new)
        if new in NEEDS_LEAD_AND_DATES:
            problem = staffing_problem(audit)
            if problem:
                raise DomainError(problem, field="status")
    reason = (reason or "").strip() or None
    if new in NEEDS_REASON and not reason:
        raise DomainError(f"Say why the audit is {new.label.lower()}.", field="reason")
    audit.status = new
    if new in NEEDS_REASON:
        audit.status_reason = reason
        audit.revision += 1  # calendars must show the cancellation / removal
    if new is AuditStatus.CANCELLED:
        audit.cancelled_at = now
    if new is AuditStatus.REPORT_ISSUED and audit.report_issued_at is None:
        audit.report_issued_at = now
    if old is AuditStatus.POSTPONED:
        audit.revision += 1
    audit.updated_at = now
    db.session.flush()
    changes = {"status": [old.value, new.value]}
    if reason:
        changes["reason"] = reason
    record(audit, "status", actor=actor, now=now,
           summary=f"{audit.reference}: {old.label.lower()} → {new.label.lower()}", changes=changes)
    if new in NEEDS_REASON:
        announce(audit, new.value, now=now)  # "cancelled" / "postponed"
    elif old is AuditStatus.POSTPONED:
        announce(audit, "reinstated", now=now)
    return audit


def allowed_transitions(audit: Audit, user) -> list:
    """Every status move of ``audit`` for ``user`` (``Decision``s: allowed, or why not)."""
    return [d for d in AUDIT.allowed_actions(audit, user) if d.status != 403]
