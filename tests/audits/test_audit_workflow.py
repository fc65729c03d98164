"""The audit page's status form offers exactly the moves the audit workflow grants; refused moves
answer 403/409 with the workflow's reason and change nothing."""

from __future__ import annotations

import datetime as dt
import html
import re

from audit.audits.workflow import AUDIT
from audit.auth.permissions import Permission
from audit.extensions import db
from audit.models import AuditKind, AuditStatus, QualificationLevel, Role, TeamRole

STATUS_OPTIONS = re.compile(r'<select[^>]*name="status"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option[^>]*value="([^"]+)"')


def _audits(make, library):
    lead = make.user(roles=(Role.AUDITOR,), name="Lea Lead")
    make.qualification(lead, library["ISO 9001"], level=QualificationLevel.LEAD)
    start = dt.datetime(2026, 4, 7, 7, tzinfo=dt.UTC)
    audits = {}
    for day, status in enumerate(AuditStatus):
        begins = start + dt.timedelta(days=day)  # the lead is never booked twice at once
        audit = make.audit(status=status, starts_at=begins, ends_at=begins + dt.timedelta(hours=8),
                           team=[(lead, TeamRole.LEAD)])
        audit.standards = [library["ISO 9001"]]
        audits[status.value] = audit
    audits["planned_unstaffed"] = make.audit(status=AuditStatus.PLANNED)
    audits["third_party_fieldwork"] = make.audit(status=AuditStatus.FIELDWORK_COMPLETE, kind=AuditKind.THIRD_PARTY,
                                                 starts_at=start, ends_at=start + dt.timedelta(hours=8))
    db.session.commit()
    return lead, audits


def _people(make, lead):
    return {"coordinator": make.user(roles=(Role.COORDINATOR,)), "lead": lead,
            "viewer": make.user(roles=(Role.VIEWER,)), "auditee": make.user(roles=(Role.AUDITEE,))}


def test_status_form_offers_exactly_the_granted_moves(app, make, library, login):
    """For every status and person, the status select lists the granted moves and nothing else."""
    lead, audits = _audits(make, library)
    for who, user in _people(make, lead).items():
        client = login(user)
        for name, audit in audits.items():
            page = client.get(f"/audits/{audit.id}").text
            found = STATUS_OPTIONS.search(page)
            offered = set(OPTION.findall(found.group(1))) if found else set()
            assert offered == AUDIT.allowed(audit, user), (who, name)
    staffed = AUDIT.allowed(audits["planned"], make.user(roles=(Role.COORDINATOR,)))
    assert "scheduled" in staffed
    hint = AUDIT.decide(audits["planned_unstaffed"], make.user(roles=(Role.COORDINATOR,)), "scheduled")
    assert hint.status == 409 and "Assign a lead auditor first" in hint.reason


def test_refused_moves_answer_with_the_reason_and_change_nothing(app, make, library, login):
    """A move the workflow refuses, posted anyway, answers 403/409 with its reason."""
    lead, audits = _audits(make, library)
    people = _people(make, lead)
    checked = 0
    for who, user in people.items():
        client = login(user)
        for name, audit in audits.items():
            for decision in AUDIT.allowed_actions(audit, user):
                if decision.allowed:
                    continue
                before = audit.status
                response = client.post(f"/audits/{audit.id}/status",
                                       data={"status": decision.action, "reason": "because"})
                if not user.can(Permission.MANAGE_PROGRAMME):  # the route's capability check first
                    assert response.status_code == 403, (who, name, decision.action)
                else:
                    assert response.status_code == decision.status, (who, name, decision.action)
                    assert decision.reason in html.unescape(response.text), (who, name, decision.action)
                db.session.expire_all()
                assert audit.status is before
                checked += 1
    assert checked > 200
