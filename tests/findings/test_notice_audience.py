"""Each notice about a finding reaches someone who can act on it, with a link they can open."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import sweep_finding_deadlines
from audit.models import (
    ActionKind,
    ApprovalStatus,
    AuditKind,
    Notification,
    Role,
    RootCauseMethod,
)
from tests.findings.helpers import draft, response_kwargs, world


def _notices(user) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def test_scar_reminders_link_auditors_to_the_finding_and_contacts_to_the_scar(app, make, library, now, login):
    """A SCAR's plan waits for the auditor's review: the reminder used to link them to the
    supplier's SCAR page, which refuses them (403)."""
    supplier = make.supplier(name="Precision Castings Ltd", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    scar = draft(w, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    db.session.commit()
    sweep_finding_deadlines(now)  # containment is due tomorrow: the contact is reminded
    db.session.commit()
    (contact_reminder,) = [n for n in _notices(contact) if n.kind == "finding_due_soon"]
    assert contact_reminder.link == f"/scar/{scar.id}"
    assert login(contact).get(contact_reminder.link).status_code == 200
    fs.acknowledge_scar(scar, actor=contact, now=now)
    fs.submit_scar_containment(scar, "Blocked lots 88-91", actor=contact, now=now)
    fs.submit_scar_root_cause(
        scar,
        root_cause_method=RootCauseMethod.EIGHT_D,
        eight_d={"d1": "Melt shop", "d2": "Porosity", "d4": "Degassing"},
        root_cause_category="method",
        root_cause="Degassing time not controlled",
        extent_check="All furnaces checked",
        actor=contact,
        now=now,
    )
    fs.submit_scar_plan(
        scar,
        [
            {
                "kind": ActionKind.CORRECTIVE,
                "description": "Timer interlock",
                "due_on": now.date() + dt.timedelta(days=20),
            }
        ],
        actor=contact,
        now=now,
    )
    db.session.commit()
    _kind, due = scar.current_deadline()
    sweep_finding_deadlines(dt.datetime.combine(due - dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC))
    db.session.commit()
    (reminder,) = [n for n in _notices(w.auditor) if n.kind == "finding_due_soon"]
    assert reminder.link == f"/findings/{scar.id}"
    assert login(w.auditor).get(reminder.link).status_code == 200


def test_a_deactivated_lead_hands_review_notices_to_the_coordinators(app, make, library, now):
    """The lead left: the response to review waited in the coordinators' list, but the notice
    went to the inactive lead only (who counted as "someone"), so nobody was told."""
    w = world(make, library)
    finding = draft(w, now=now)
    fs.issue_finding(finding, actor=w.auditor, now=now)
    w.auditor.is_active = False
    db.session.flush()
    fs.submit_response(finding, actor=w.owner, now=now, **response_kwargs(w, now))
    db.session.commit()
    told = [n for n in _notices(w.coordinator) if n.kind == "finding_to_review"]
    assert len(told) == 1 and finding.reference in told[0].title


def test_a_deactivated_lead_hands_scar_progress_to_the_coordinators(app, make, library, now):
    supplier = make.supplier(name="Precision Castings Ltd", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
    scar = draft(w, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    w.auditor.is_active = False
    db.session.flush()
    fs.acknowledge_scar(scar, actor=contact, now=now)
    fs.submit_scar_containment(scar, "Blocked lots 88-91", actor=contact, now=now)
    db.session.commit()
    assert [n.kind for n in _notices(w.coordinator)].count("scar_progress") == 2
