"""A programme's generating rules: add, edit, disable and delete, each trailed.

Rules are part of what top management approves: every change marks the programme "changed
since approval" (``mark_changed``). Deleting a rule keeps the audits it generated that someone
touched; its untouched ones are cancelled with a reason, so nothing silently disappears.
"""

from __future__ import annotations

import datetime as dt

from audit.audits.services import change_status
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import AuditStatus, ProgrammeRule, RuleKind
from audit.programme.generation import load_context
from audit.programme.intervals import expand_rrule, supplier_interval, unit_interval
from audit.programme.services import mark_changed
from audit.trail.services import apply_changes, record, snapshot

#: What each kind of rule must name, and how to say so.
NEEDS = {RuleKind.RISK_INTERNAL: ("unit_id", "a unit"), RuleKind.SUPPLIER: ("supplier_id", "a supplier"),
         RuleKind.CERTIFICATION: ("certificate_id", "a certificate"), RuleKind.RRULE: ("rrule", "a recurrence")}


def _rule_values(data: dict, *, now: dt.datetime) -> dict:
    """Validated column values of a rule (per kind)."""
    kind = RuleKind(data["kind"]) if isinstance(data.get("kind"), str) else data.get("kind")
    if kind is None:
        raise DomainError("Choose the kind of rule.", field="kind")
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Name the rule.", field="title")
    values = {"kind": kind, "title": title,
              "unit_id": data.get("unit_id") or None, "supplier_id": data.get("supplier_id") or None,
              "certificate_id": data.get("certificate_id") or None, "site_id": data.get("site_id") or None,
              "standard_id": data.get("standard_id") or None,
              "rrule": (data.get("rrule") or "").strip() or None, "starts_on": data.get("starts_on"),
              "start_time": data.get("start_time") or "09:00",
              "planned_days": int(data.get("planned_days") or 1),
              "horizon_months": int(data.get("horizon_months") or 15)}
    field, what = NEEDS[kind]
    if not values[field]:
        raise DomainError(f"A {kind.label.lower()} rule needs {what}.", field=field)
    if kind is RuleKind.CERTIFICATION and not values["site_id"]:
        raise DomainError("Choose the site where the certification audits happen.", field="site_id")
    if kind is RuleKind.RRULE:
        if not (values["site_id"] or values["unit_id"]):
            raise DomainError("Choose the site (its time zone places the recurrence).", field="site_id")
        expand_rrule(values["rrule"], values["starts_on"] or now.date(), dt.time(9), "UTC", now.date())
    if not 1 <= values["horizon_months"] <= 36:
        raise DomainError("The horizon is between 1 and 36 months.", field="horizon_months")
    return values


def add_rule(programme, data: dict, *, actor, now: dt.datetime) -> ProgrammeRule:
    """Add a generating rule to a programme (validated per kind)."""
    values = _rule_values(data, now=now)
    rule = ProgrammeRule(programme=programme, created_at=now, **values)
    db.session.add(rule)
    mark_changed(programme, actor=actor, now=now)
    db.session.flush()
    record(rule, "create", actor=actor, now=now, summary=f"Added rule “{rule.title}” to {programme.name}",
           changes={"kind": rule.kind.value, "title": rule.title})
    return rule


def update_rule(rule: ProgrammeRule, data: dict, *, actor, now: dt.datetime) -> ProgrammeRule:
    """Edit a rule; its untouched audits follow at the next generation."""
    changes = apply_changes(rule, _rule_values(data, now=now))
    if changes:
        mark_changed(rule.programme, actor=actor, now=now)
        db.session.flush()
        record(rule, "update", actor=actor, now=now, summary=f"Edited rule “{rule.title}”", changes=changes)
    return rule


def set_rule_active(rule: ProgrammeRule, active: bool, *, actor, now: dt.datetime) -> ProgrammeRule:
    """Disable a rule (it generates nothing more, its audits stay) or enable it again."""
    if rule.is_active == active:
        return rule
    rule.is_active = active
    mark_changed(rule.programme, actor=actor, now=now)
    db.session.flush()
    record(rule, "enable" if active else "disable", actor=actor, now=now,
           summary=f"Rule “{rule.title}” {'enabled' if active else 'disabled'}",
           changes={"is_active": [not active, active]})
    return rule


def delete_rule(rule: ProgrammeRule, *, actor, now: dt.datetime) -> int:
    """Delete a rule: its untouched planned audits are cancelled with a reason, the others stay
    (unlinked). Returns the number of audits cancelled."""

    cancelled = 0
    for audit in list(rule.audits):
        if audit.status is AuditStatus.PLANNED and audit.starts_at is None and not audit.team:
            change_status(audit, AuditStatus.CANCELLED, reason=f"Rule “{rule.title}” was deleted.",
                          actor=actor, now=now)
            cancelled += 1
    programme = rule.programme
    mark_changed(programme, actor=actor, now=now)
    record(rule, "delete", actor=actor, now=now, summary=f"Deleted rule “{rule.title}” from {programme.name}",
           changes=snapshot({"kind": rule.kind, "title": rule.title, "cancelled": cancelled}))
    db.session.delete(rule)
    db.session.flush()
    return cancelled


def explain_rules(rules, *, now: dt.datetime) -> dict[int, str]:
    """Why each rule's interval is what it is today (risk score and its parts, supplier risk and
    certificate, certification cycle, recurrence), for the rules page and the audit page."""

    rules = list(rules)
    if not rules:
        return {}
    context = load_context(rules, now)
    today = now.date()
    out: dict[int, str] = {}
    for rule in rules:
        if rule.kind is RuleKind.RISK_INTERNAL and rule.unit is not None:
            unit, history = rule.unit, context["history"].get(rule.unit_id, 0)
            score, months = unit_interval(unit, history)
            out[rule.id] = (f"Risk score {score} = importance {unit.importance} + change {unit.change_level} + "
                            f"history {history} + maturity {unit.maturity_risk}: every {months} months.")
        elif rule.kind is RuleKind.SUPPLIER and rule.supplier is not None:
            days = [d for d, _ in context["supplier_last"].get(rule.supplier_id, []) if d <= today]
            plan = supplier_interval(rule.supplier, rule.supplier.certificates, rule.standard_id, today,
                                     max(days, default=None))
            out[rule.id] = f"{plan.reason[0].upper()}{plan.reason[1:]}: every {plan.months} months."
        elif rule.kind is RuleKind.CERTIFICATION and rule.certificate is not None:
            cert = rule.certificate
            out[rule.id] = (f"Certification cycle of {cert.number} (decision {cert.decision_date:%d %b %Y}): "
                            "surveillance 1 within 12 months, then one each calendar year, recertification "
                            "before expiry; each step once.")
        elif rule.kind is RuleKind.RRULE:
            out[rule.id] = f"Recurrence {rule.rrule}."
    return out
