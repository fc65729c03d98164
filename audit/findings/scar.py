"""Supplier corrective action requests (SCAR): the supplier's stages D1–D6."""

from __future__ import annotations

import datetime as dt

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.responses import check_root_cause, clean_ishikawa, clean_whys, submit_response
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
    return finding


def submit_scar_root_cause(finding: Finding, *, root_cause_method: RootCauseMethod | None,
                           root_cause: str, extent_check: str, whys=None, ishikawa=None,
                           actor, now: dt.datetime) -> Finding:
    """Stage D4: root cause and extent (due within 14 days of issue)."""
    SCAR.require(finding, actor, "root_cause")
    if root_cause_method is None:
        raise DomainError("Choose the root-cause method used.", field="root_cause_method")
    extent_check = text(extent_check)
    if not extent_check:
        raise DomainError("Say whether other lots, parts or sites are affected.",
                          field="extent_check")
    root_cause = check_root_cause(root_cause)
    old = finding.scar_stage
    finding.root_cause_method = root_cause_method
    finding.root_cause = root_cause
    finding.extent_check = extent_check
    finding.whys = clean_whys(whys) or None
    finding.ishikawa = clean_ishikawa(ishikawa) or None
    finding.scar_stage = ScarStage.ROOT_CAUSE
    finding.scar_root_cause_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference}: root cause recorded",
           changes={"scar_stage": [old.value, "root_cause"], "root_cause": root_cause})
    return finding


def submit_scar_plan(finding: Finding, actions: list[dict], *, actor,
                     now: dt.datetime) -> Finding:
    """Stage D5/D6: the action plan (due within 30 days); completes the supplier's response."""
    SCAR.require(finding, actor, "plan")
    return submit_response(
        finding, containment=finding.containment, extent_check=finding.extent_check,
        root_cause_method=finding.root_cause_method, root_cause=finding.root_cause,
        whys=finding.whys, ishikawa=finding.ishikawa, actions=actions, actor=actor, now=now)
