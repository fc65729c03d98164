"""Fixtures shared by the findings tests: findings in every workflow state and their people."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.extensions import db
from audit.findings import services as fs
from audit.models import (
    ActionKind,
    ApprovalStatus,
    AuditKind,
    AuditTeamMember,
    Grade,
    Role,
    TeamRole,
)
from tests.findings.helpers import draft, response_kwargs, to_status, world


@pytest.fixture
def cast(app, make, library, now):
    """Findings in every workflow state, and the people who meet them."""
    w = world(make, library)
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    rival = make.supplier(name="Rival Foundry", approval_status=ApprovalStatus.APPROVED)
    scar_world = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    people = {
        "lead": w.auditor,
        "stranger_auditor": make.user(roles=(Role.AUDITOR,), name="Stan Stranger"),
        "expert": make.user(roles=(Role.AUDITOR,), name="Tessa Expert"),
        "coordinator": w.coordinator,
        "owner": w.owner,
        "other_auditee": w.other_auditee,
        "viewer": make.user(roles=(Role.VIEWER,), name="Tom Management"),
        "supplier": make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter"),
        "rival_supplier": make.user(roles=(Role.SUPPLIER,), supplier_id=rival.id, name="Rita Rival"),
    }
    w.audit.team.append(AuditTeamMember(user=people["expert"], role=TeamRole.TECHNICAL_EXPERT))
    findings = {}
    for target in ("awaiting_response", "response_submitted", "action_in_progress", "pending_verification"):
        findings[f"minor_{target}"] = to_status(w, draft(w, Grade.MINOR, now=now), target, now=now)
    findings["draft"] = draft(w, Grade.MAJOR, now=now)
    unowned = draft(w, Grade.MINOR, now=now)
    unowned.owner = None
    fs.issue_finding(unowned, actor=w.auditor, now=now)
    findings["issued_unowned"] = unowned
    major = to_status(w, draft(w, Grade.MAJOR, now=now), "pending_verification", now=now)
    findings["major_pending"] = major
    closed = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    fs.close_finding(closed, note="Implementation seen", actor=w.coordinator, now=now)
    findings["closed"] = closed
    ofi = draft(w, Grade.OFI, now=now)
    fs.issue_finding(ofi, actor=w.auditor, now=now)
    findings["ofi_issued"] = ofi
    declined = draft(w, Grade.OBSERVATION, now=now)
    fs.issue_finding(declined, actor=w.auditor, now=now)
    fs.decide_finding(declined, accept=False, rationale="Already covered by PM plan", actor=w.owner, now=now)
    findings["declined"] = declined
    waiting = to_status(w, draft(w, Grade.MINOR, now=now), "awaiting_response", now=now)
    fs.request_extension(waiting, deadline="response", new_due_on=waiting.response_due_on + dt.timedelta(days=9),
                         reason="Owner on leave", actor=w.owner, now=now)
    findings["extension_pending"] = waiting
    # SCARs at each supplier stage
    scar_world.auditor = w.auditor
    scar_world.audit.team.append(AuditTeamMember(user=w.auditor, role=TeamRole.LEAD))
    for stage in ("issued", "acknowledged", "containment", "root_cause", "submitted", "acting"):
        f = draft(scar_world, Grade.MINOR, now=now)
        fs.issue_finding(f, actor=w.auditor, now=now)
        contact = people["supplier"]
        if stage != "issued":
            fs.acknowledge_scar(f, actor=contact, now=now)
        if stage in ("containment", "root_cause", "submitted", "acting"):
            fs.submit_scar_containment(f, "Blocked lots 88-91", actor=contact, now=now)
        if stage in ("root_cause", "submitted", "acting"):
            kw = response_kwargs(w, now)
            fs.submit_scar_root_cause(f, root_cause_method=kw["root_cause_method"], whys=kw["whys"],
                                      root_cause=kw["root_cause"], extent_check=kw["extent_check"],
                                      root_cause_category="method",
                                      actor=contact, now=now)
        if stage in ("submitted", "acting"):
            fs.submit_scar_plan(f, [{"kind": ActionKind.CORRECTIVE, "description": "Timer interlock",
                                     "due_on": now.date() + dt.timedelta(days=20)}], actor=contact, now=now)
        if stage == "acting":
            fs.accept_response(f, actor=w.auditor, now=now)
        findings[f"scar_{stage}"] = f
    db.session.commit()
    return people, findings


class Clock:
    """The time the pages see (every ``utcnow`` of the app's modules), moved by the test."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch, now) -> Clock:
    """Pages run at ``now`` and later at whatever the test moves the clock to, so that the
    sweeps (which take ``now``) and the pages name the same day."""
    import sys

    from audit.models import types

    original, moved = types.utcnow, Clock(now)
    for name, module in list(sys.modules.items()):
        if name.startswith("audit") and getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", moved)
    return moved
