"""Builders shared by the findings tests: an audit with a unit, owner, auditors and clauses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from audit.extensions import db
from audit.findings import services as fs
from audit.models import ActionKind, AuditKind, Grade, Role, RootCauseMethod, TeamRole


@dataclass
class World:
    audit: object
    unit: object
    owner: object  #: auditee who owns the unit
    auditor: object
    coordinator: object
    other_auditee: object
    clause: object


def world(make, library, *, kind=AuditKind.INTERNAL, supplier=None) -> World:
    owner = make.user(roles=(Role.AUDITEE,), name="Olga Owner")
    auditor = make.user(roles=(Role.AUDITOR,), name="Arne Auditor")
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    other = make.user(roles=(Role.AUDITEE,), name="Otto Other")
    site = make.site()
    unit = make.unit(site=site, owner=owner)
    # The auditor leads the audit: only the audit's own team runs its findings workflow.
    audit = make.audit(kind=kind, site=site, supplier=supplier, team=[(auditor, TeamRole.LEAD)])
    audit.units = [unit]
    audit.standards = [library["ISO 9001"]]
    db.session.flush()
    clause = next(c for c in library["ISO 9001"].clauses if c.number == "8.5.1")
    return World(audit, unit, owner, auditor, coordinator, other, clause)


def draft(w: World, grade=Grade.MINOR, *, now, audit=None, clause=None):
    return fs.raise_finding(audit or w.audit, grade=grade, statement=f"{grade.label} statement",
                            evidence="Observed on the floor" if grade.is_nonconformity else None,
                            clauses=[clause or w.clause], actor=w.auditor, now=now)


def response_kwargs(w: World, now, **overrides) -> dict:
    values = dict(
        containment="Quarantined lot 42 and re-inspected 100%",
        extent_check="Checked lines 1-3: only line 2 affected",
        root_cause_method=RootCauseMethod.FIVE_WHYS,
        whys=["Torque not checked", "Wrench not calibrated", "Calibration plan missed tool"],
        root_cause="Calibration plan did not include the new torque wrench type",
        root_cause_category="method",
        actions=[{"kind": ActionKind.CORRECTIVE, "description": "Add tool type to plan",
                  "due_on": now.date() + dt.timedelta(days=20), "owner": w.owner}],
    )
    values.update(overrides)
    return values


def to_status(w: World, finding, target: str, *, now):
    """Walk ``finding`` forward through the happy path until ``target`` (a status value)."""
    steps = ["issued", "response_submitted", "action_in_progress", "pending_verification"]
    fs.issue_finding(finding, actor=w.auditor, now=now)
    if finding.status.value == target:
        return finding
    for step in steps[1:]:
        if step == "response_submitted":
            fs.submit_response(finding, actor=w.owner, now=now, **response_kwargs(w, now))
        elif step == "action_in_progress":
            fs.accept_response(finding, actor=w.auditor, now=now)
        elif step == "pending_verification":
            for action in finding.actions:
                fs.complete_action(action, "Plan rev. 7 signed", actor=w.owner, now=now)
        if finding.status.value == target:
            return finding
    raise AssertionError(f"cannot reach {target}")
