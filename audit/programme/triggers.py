"""Trigger audits: a complaint, incident or significant change asks for an audit within N days.

DOMAIN.md §2: triggers (major NC, complaint, incident, significant change) add a follow-up
audit within a configurable number of days (config ``TRIGGER_AUDIT_DAYS``, default 60). Major
NCs come through ``audit.findings.services.propose_follow_up_audit``; this module records the
other three. When an open audit of the same unit or supplier already falls before the deadline,
the trigger joins it (its objectives say so) instead of adding a second audit.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.services import create_audit
from audit.core.errors import DomainError
from audit.core.services import get_or_fail
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTrigger,
    Programme,
    ProgrammeStatus,
    Supplier,
    TriggerKind,
    Unit,
)
from audit.models.audit import audit_units
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.trail.services import apply_changes, record, snapshot

#: DEFAULT days between the triggering event and the latest day of its audit.
TRIGGER_AUDIT_DAYS = 60
#: A significant change may be recorded ahead (a planned move, a new line): at most this far.
MAX_DAYS_AHEAD = 366


def trigger_audit_days() -> int:
    """Days within which a trigger's audit must happen (config ``TRIGGER_AUDIT_DAYS``)."""
    if has_app_context():
        return int(current_app.config.get("TRIGGER_AUDIT_DAYS", TRIGGER_AUDIT_DAYS))
    return TRIGGER_AUDIT_DAYS


def _kind(value) -> TriggerKind:
    if isinstance(value, TriggerKind):
        return value
    try:
        return TriggerKind(value)
    except ValueError:
        raise DomainError("Choose what happened: complaint, incident or significant change.",
                          field="kind") from None


def _subject(data: dict) -> tuple[Unit | None, Supplier | None]:
    unit = get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit", optional=True)
    supplier = get_or_fail(Supplier, data.get("supplier_id"), field="supplier_id", what="supplier",
                           optional=True)
    if (unit is None) == (supplier is None):
        raise DomainError("Choose the unit or the supplier the event concerns (one of them).",
                          field="unit_id")
    if unit is not None and not unit.is_active:
        raise DomainError(f"{unit.name} is no longer active: choose the unit that took over.", field="unit_id")
    return unit, supplier


def _programme(data: dict, day: dt.date, today: dt.date) -> Programme:
    """The chosen programme, else the active one whose period holds ``day``, else ``today``."""
    chosen = get_or_fail(Programme, data.get("programme_id"), field="programme_id", what="programme",
                         optional=True)
    if chosen is not None:
        if chosen.status is ProgrammeStatus.CLOSED:
            raise DomainError(f"{chosen.name} is closed: choose an open programme or let the system pick.",
                              field="programme_id")
        return chosen
    for wanted in (day, today):
        found = db.session.scalar(
            select(Programme).where(Programme.status == ProgrammeStatus.ACTIVE, Programme.period_start <= wanted,
                                    Programme.period_end >= wanted)
            .order_by(Programme.period_start.desc()).limit(1))
        if found is not None:
            return found
    # Without a programme the audit would be seen by no planner and no programme page.
    raise DomainError(f"No active programme covers {day:%d %b %Y}: choose the programme the audit belongs to.",
                      field="programme_id")


def _audit_day(audit: Audit) -> dt.date | None:
    span = audit.local_dates()
    return span[0] if span else audit.planned_date


def _joinable_audit(unit: Unit | None, supplier: Supplier | None, first: dt.date,
                    last: dt.date) -> Audit | None:
    """The earliest open audit of the subject happening in [first, last], if any."""
    # Only our own audits: a certification body's audit is not ours to extend.
    stmt = select(Audit).where(Audit.status.in_(AuditStatus.fieldwork_ahead())).options(selectinload(Audit.units))
    if unit is not None:
        stmt = stmt.where(Audit.kind == AuditKind.INTERNAL,
                          Audit.id.in_(select(audit_units.c.audit_id).where(audit_units.c.unit_id == unit.id)))
    else:
        stmt = stmt.where(Audit.kind == AuditKind.SECOND_PARTY, Audit.supplier_id == supplier.id)
    # Dates are compared in the audit's own zone, so filter in Python; a subject has few open audits.
    candidates = [(day, a.id, a) for a in db.session.scalars(stmt)
                  if (day := _audit_day(a)) is not None and first <= day <= last]
    return min(candidates)[2] if candidates else None


def _standards_for(unit: Unit | None, supplier: Supplier | None) -> list:
    """Standards of the new audit: the unit's, or those of the supplier's latest audit."""
    if unit is not None:
        return list(unit.standards)
    latest = db.session.scalar(select(Audit).where(Audit.supplier_id == supplier.id)
                               .order_by(Audit.id.desc()).limit(1))
    return list(latest.standards) if latest is not None else []


def _describe(trigger: AuditTrigger) -> str:
    ref = f" {trigger.external_reference}" if trigger.external_reference else ""
    return f"{trigger.kind.label}{ref} \u201c{trigger.title}\u201d of {trigger.occurred_on:%d %b %Y}"


def record_trigger(data: dict, *, actor, now: dt.datetime) -> tuple[AuditTrigger, bool]:
    """Record a complaint, incident or significant change and make sure an audit answers it.

    The audit must happen by ``occurred_on + TRIGGER_AUDIT_DAYS``. An open audit of the same unit
    or supplier before that day takes the trigger on; otherwise a PLANNED audit is added with
    ``due_by`` set, so the planner never proposes a later day. The unit's owner is told, and so
    are the coordinators, who staff and date it (``_notify_coordinators``).
    Returns the trigger and whether it joined an audit that was already planned.
    """
    kind = _kind(data.get("kind"))
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Say in a few words what happened.", field="title")
    if len(title) > 200:
        raise DomainError("Keep the title under 200 characters; put details in the description.",
                          field="title")
    occurred = data.get("occurred_on")
    if not isinstance(occurred, dt.date):
        raise DomainError("Give the date it happened (or, for a change, takes effect).", field="occurred_on")
    unit, supplier = _subject(data)
    zone = unit.site.timezone if unit is not None else supplier.timezone
    today = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
    if kind is not TriggerKind.SIGNIFICANT_CHANGE and occurred > today:
        raise DomainError(f"A {kind.label.lower()} cannot have happened after today ({today:%d %b %Y}).",
                          field="occurred_on")
    if occurred > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise DomainError("A change more than a year ahead belongs in the programme, not in a trigger.",
                          field="occurred_on")
    due_by = occurred + dt.timedelta(days=trigger_audit_days())
    trigger = AuditTrigger(
        kind=kind, title=title, occurred_on=occurred, due_by=due_by, unit=unit, supplier=supplier,
        description=(data.get("description") or "").strip() or None,
        external_reference=(data.get("external_reference") or "").strip()[:60] or None,
        recorded_by_id=getattr(actor, "id", None), created_at=now,
    )
    trigger.programme = _programme(data, max(due_by, today), today)
    db.session.add(trigger)
    db.session.flush()
    record(trigger, "create", actor=actor, now=now, summary=f"Recorded {_describe(trigger)}",
           changes=snapshot({"kind": kind, "occurred_on": occurred, "due_by": due_by,
                             "unit_id": trigger.unit_id, "supplier_id": trigger.supplier_id}))
    # From the event on: an audit before a change takes effect cannot judge it.
    existing = _joinable_audit(unit, supplier, occurred, due_by)
    if existing is not None:
        _join(existing, trigger, today, actor=actor, now=now)
    else:
        _add_audit(trigger, today, actor=actor, now=now)
    _notify_owner(trigger, actor=actor, now=now)
    _notify_coordinators(trigger, joined=existing is not None, today=today, actor=actor, now=now)
    return trigger, existing is not None


def _join(audit: Audit, trigger: AuditTrigger, today: dt.date, *, actor, now: dt.datetime) -> None:
    """Let an already planned audit answer the trigger: its objectives name the event, and its
    lead (who may have prepared the plan already) is told."""
    line = f"Also follow up {_describe(trigger)}."
    objectives = f"{audit.objectives}\n{line}" if audit.objectives else line
    changes = apply_changes(audit, {"objectives": objectives})
    if trigger.due_by >= today and (audit.due_by is None or audit.due_by > trigger.due_by):
        changes.update(apply_changes(audit, {"due_by": trigger.due_by}))
    audit.updated_at = now
    trigger.audit = audit
    db.session.flush()
    record(audit, "update", actor=actor, now=now,
           summary=f"{audit.reference} also answers {_describe(trigger)}", changes=changes)
    lead = audit.lead
    if lead is not None and lead.id != getattr(actor, "id", None) and lead.is_active:
        notify(lead, kind="audit_triggered", now=now, dedupe_key=f"trigger:{trigger.id}:{lead.id}",
               title=f"{audit.reference} now also covers a {trigger.kind.label.lower()}",
               body=f"{_describe(trigger)} was added to the objectives of {audit.reference}.",
               link=f"/audits/{audit.id}")


def _add_audit(trigger: AuditTrigger, today: dt.date, *, actor, now: dt.datetime) -> Audit:
    """A PLANNED audit of the trigger's subject, due by the trigger's deadline."""
    unit, supplier = trigger.unit, trigger.supplier
    kind = AuditKind.INTERNAL if unit is not None else AuditKind.SECOND_PARTY
    # Aim half-way to the deadline, leaving the planner room on both sides. Recorded after its
    # deadline: plan it as soon as possible, without a deadline that is already past (the
    # trigger list shows it as late).
    halfway = trigger.occurred_on + dt.timedelta(days=(trigger.due_by - trigger.occurred_on).days // 2)
    planned = max(halfway, today)
    # Through the audit service: reference, validation, dates and the trail as for any audit.
    audit = create_audit({
        "title": f"{trigger.kind.label}: {trigger.title}"[:200], "kind": kind,
        "programme_id": trigger.programme_id, "site_id": unit.site_id if unit is not None else None,
        "supplier_id": supplier.id if supplier is not None else None,
        "unit_ids": [unit.id] if unit is not None else [],
        "standard_ids": [s.id for s in _standards_for(unit, supplier)],
        "audit_client": trigger.programme.audit_client if trigger.programme is not None else None,
        "objectives": f"Audit {_describe(trigger)}: its causes, the controls in place and whether the "
                      "actions taken are effective.",
        "planned_date": planned, "due_by": trigger.due_by if trigger.due_by >= today else None,
    }, actor=actor, now=now)
    trigger.audit = audit
    db.session.flush()
    return audit


def _notify_owner(trigger: AuditTrigger, *, actor, now: dt.datetime) -> None:
    owner = trigger.unit.owner if trigger.unit is not None else None
    if owner is None or owner.id == getattr(actor, "id", None) or not owner.is_active:
        return
    audit = trigger.audit
    notify(owner, kind="audit_triggered", now=now, dedupe_key=f"trigger:{trigger.id}:{owner.id}",
           title=f"Audit {audit.reference} of {trigger.unit.name} by {trigger.due_by:%d %b %Y}",
           body=f"{_describe(trigger)} calls for an audit of {trigger.unit.name} by "
                f"{trigger.due_by:%d %b %Y}.",
           link=f"/audits/{audit.id}")


def _notify_coordinators(trigger: AuditTrigger, *, joined: bool, today: dt.date, actor,
                         now: dt.datetime) -> None:
    """Tell the coordinators of the audit answering ``trigger``: they staff and date it by its
    deadline (a planned audit that took the trigger on may now be due sooner). Once per person and
    trigger, with the key the owner's and the lead's notices use: whoever was already told as
    owner or lead is not told twice; the person who recorded it is not told at all."""
    audit = trigger.audit
    if joined:
        what = f"{_describe(trigger)} was added to the objectives of {audit.reference}, {audit.title}."
        title = f"{audit.reference} now also covers a {trigger.kind.label.lower()}"
    else:
        what = f"{_describe(trigger)} added the planned audit {audit.reference}, {audit.title}."
        title = f"Audit {audit.reference} to staff and date by {trigger.due_by:%d %b %Y}"
    late = trigger.due_by < today
    by = (f"By: as soon as possible (the deadline, {trigger.due_by:%d %b %Y}, has passed)" if late
          else f"By: {trigger.due_by:%d %b %Y} (the trigger's deadline)")
    body = "\n".join([f"What happened: {what}",
                      "What is expected of you: Make sure it has a lead, a qualified team and dates "
                      "before the deadline (audit page or planner).", by])
    for person in coordinators():
        if person.id == getattr(actor, "id", None):
            continue
        notify(person, kind="audit_triggered", now=now, dedupe_key=f"trigger:{trigger.id}:{person.id}",
               title=title, body=body, link=f"/audits/{audit.id}")


def triggers_of(audit_ids: list[int]) -> list[AuditTrigger]:
    """Triggers answered by these audits (one query)."""
    if not audit_ids:
        return []
    return list(db.session.scalars(select(AuditTrigger).where(AuditTrigger.audit_id.in_(audit_ids))
                                   .order_by(AuditTrigger.occurred_on, AuditTrigger.id)))
