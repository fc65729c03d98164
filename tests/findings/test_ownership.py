"""Reassigning findings and actions: no dead ends, trailed, the new owner told; actions as many
as needed, each with its own owner and due date."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings import services as fs
from audit.findings.waiting import waiting_for
from audit.models import ActionStatus, FindingStatus, Grade, Notification, Role, TrailEntry
from tests.findings.helpers import draft, world


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_stranded_finding_is_reassigned_by_the_coordinator_through_the_page(app, make, library, now, login):
    """Auto-owned by the coordinator (no auditee role): flagged, then reassigned on the page to
    someone who can answer; trailed, the new owner told, and it waits for them."""
    w = world(make, library)
    w.unit.owner = w.coordinator
    f = fs.raise_finding(w.audit, grade=Grade.MINOR, statement="Quotes unsigned", evidence="3 of 5",
                         clauses=[w.clause], unit=w.unit, actor=w.auditor, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert [i.step for i in waiting_for(w.coordinator, now) if i.finding.id == f.id] == ["assign"]
    db.session.commit()
    client = login(w.coordinator)
    page = client.get(f"/findings/{f.id}").text
    options = re.search(r'<select[^>]*name="assign-owner_id".*?</select>', page, re.S).group(0)
    assert w.owner.name in options and w.coordinator.name not in options  # only who can answer
    r = client.post(f"/findings/{f.id}/assign", data={"csrf_token": _csrf(page), "assign-owner_id": w.owner.id})
    assert r.status_code == 302
    db.session.expire_all()
    assert f.owner_id == w.owner.id and f.status is FindingStatus.AWAITING_RESPONSE
    entry = db.session.scalars(select(TrailEntry).where(TrailEntry.object_id == f.id,
                                                        TrailEntry.action == "update")).all()[-1]
    assert entry.summary == f"Owner set to {w.owner.name} (was {w.coordinator.name})"
    assert db.session.scalar(select(Notification).where(Notification.user_id == w.owner.id,
                                                        Notification.kind == "finding_assigned"))
    assert [i.step for i in waiting_for(w.owner, now) if i.finding.id == f.id] == ["respond"]


def test_assigning_someone_who_cannot_answer_is_refused(app, make, library, now):
    """A viewer or coordinator is never made the owner: the message says why and nothing changes."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    viewer = make.user(roles=(Role.VIEWER,), name="Vera Viewer")
    with pytest.raises(DomainError, match="Vera Viewer cannot answer findings"):
        fs.assign_owner(f, viewer, actor=w.coordinator, now=now)
    assert f.owner_id == w.owner.id


def test_response_with_many_actions_each_with_its_own_owner(app, make, library, now, login):
    """Five actions on one response, three owners, through the form; then one is reassigned and
    one withdrawn on the page, and the last open one cannot be withdrawn."""
    w = world(make, library)
    helper = make.user(roles=(Role.AUDITEE,), name="Hal Helper")
    tech = make.user(roles=(Role.VIEWER,), name="Tina Technician")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.owner)
    page = client.get(f"/findings/{f.id}").text
    due = (now.date() + dt.timedelta(days=20)).isoformat()
    data = {"csrf_token": _csrf(page), "respond-containment": "Sorted stock",
            "respond-extent_check": "Only line 2", "respond-root_cause_method": "five_whys",
            "respond-why1": "Torque low", "respond-why2": "Tool not calibrated",
            "respond-root_cause": "Calibration plan omitted new tool type",
            "respond-root_cause_category": "measurement"}
    owners = [0, helper.id, tech.id, helper.id, 0]
    for i, owner_id in enumerate(owners, start=1):
        data |= {f"respond-action{i}_kind": "corrective", f"respond-action{i}_description": f"Step {i}",
                 f"respond-action{i}_due_on": due, f"respond-action{i}_owner_id": owner_id}
    assert client.post(f"/findings/{f.id}/respond", data=data).status_code == 302
    db.session.expire_all()
    assert [a.owner_id for a in f.actions] == [w.owner.id, helper.id, tech.id, helper.id, w.owner.id]
    fs.accept_response(f, actor=w.auditor, now=now)
    db.session.commit()
    assert {i.action.description for i in waiting_for(tech, now)} == {"Step 3"}
    first = f.actions[0]
    page = client.get(f"/findings/{f.id}").text
    r = client.post(f"/findings/{f.id}/actions/{first.id}/reassign",
                    data={"csrf_token": _csrf(page), "reassign-action_owner_id": tech.id})
    assert r.status_code == 302
    r = client.post(f"/findings/{f.id}/actions/{f.actions[1].id}/remove",
                    data={"csrf_token": _csrf(page), "remove-reason": "Covered by step 4"})
    assert r.status_code == 302
    db.session.expire_all()
    assert first.owner_id == tech.id and f.actions[1].status is ActionStatus.CANCELLED
    assert {i.action.description for i in waiting_for(tech, now)} == {"Step 1", "Step 3"}
    for action in f.actions[2:4]:
        fs.complete_action(action, "Done", actor=w.owner, now=now)
    fs.complete_action(first, "Done", actor=tech, now=now)
    last = f.actions[4]
    decision = fs.ACTION.decide(last, w.owner, "remove_action")
    assert decision.status == 409 and "last open action" in decision.reason
