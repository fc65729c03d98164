"""Supplier corrective action requests (SCAR): the supplier's stages D1–D6."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.notifying import notify_transition
from audit.findings.responses import check_analysis, check_root_cause, submit_response
from audit.findings.transitions import text
from audit.findings.workflow import SCAR
from audit.models import (
    Finding,
    RootCauseMethod,
    ScarStage,
)
from audit.trail.services import record


def acknowledge_scar(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """The supplier confirms receipt of the SCAR."""
    SCAR.require(finding, actor, "acknowledge")
    finding.scar_stage = ScarStage.ACKNOWLEDGED
    finding.scar_acknowledged_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference} acknowledged by the supplier",
           changes={"scar_stage": ["issued", "acknowledged"]})
    notify_transition(finding, "acknowledge", actor=actor, now=now)
    return finding


def submit_scar_containment(finding: Finding, containment: str, *, actor,
                            now: dt.datetime) -> Finding:
    """Stage D3: immediate containment (due within 24 hours of issue)."""
    SCAR.require(finding, actor, "containment")
    containment = text(containment)
    if not containment:
        raise DomainError("Describe the containment: what was stopped, sorted, quarantined.",
                          field="containment")
    old = finding.scar_stage
    finding.containment = containment
    finding.scar_stage = ScarStage.CONTAINMENT
    finding.scar_containment_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference}: containment recorded",
           changes={"scar_stage": [old.value, "containment"], "containment": containment})
    notify_transition(finding, "containment", actor=actor, now=now, note=f"Containment: {containment}")
    return finding


def submit_scar_root_cause(finding: Finding, *, root_cause_method: RootCauseMethod | None,
                           root_cause: str, extent_check: str, whys=None, ishikawa=None,
                           eight_d=None, root_cause_category: str | None = None, actor,
                           now: dt.datetime) -> Finding:
    """Stage D4: root cause and extent (due within 14 days of issue), with the chosen method's
    own analysis (5 Whys, Ishikawa 6M or 8D) and where the cause lies."""
    SCAR.require(finding, actor, "root_cause")
    whys, ishikawa, eight_d = check_analysis(root_cause_method, whys, ishikawa, eight_d)
    extent_check = text(extent_check)
    if not extent_check:
        raise DomainError("Say whether other lots, parts or sites are affected.",
                          field="extent_check")
    root_cause, category = check_root_cause(root_cause, category=root_cause_category, whys=whys)
    if eight_d and finding.containment:
        eight_d.setdefault("d3", finding.containment)
    old = finding.scar_stage
    finding.root_cause_method = root_cause_method
    finding.root_cause = root_cause
    finding.root_cause_category = category
    finding.extent_check = extent_check
    finding.whys = whys or None
    finding.ishikawa = ishikawa or None
    finding.eight_d = eight_d or None
    finding.scar_stage = ScarStage.ROOT_CAUSE
    finding.scar_root_cause_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference}: root cause recorded",
           changes={"scar_stage": [old.value, "root_cause"], "root_cause": root_cause,
                    "root_cause_category": category, "method": root_cause_method.value})
    notify_transition(finding, "root_cause", actor=actor, now=now, note=f"Root cause: {root_cause}")
    return finding


def submit_scar_plan(finding: Finding, actions: list[dict], *, actor,
                     now: dt.datetime) -> Finding:
    """Stage D5/D6: the action plan (due within 30 days); completes the supplier's response."""
    SCAR.require(finding, actor, "plan")
    return submit_response(
        finding, containment=finding.containment, extent_check=finding.extent_check,
        root_cause_method=finding.root_cause_method, root_cause=finding.root_cause,
        whys=finding.whys, ishikawa=finding.ishikawa, eight_d=finding.eight_d,
        root_cause_category=finding.root_cause_category, actions=actions, actor=actor, now=now)
