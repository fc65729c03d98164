"""A customer complaint not closed is always somebody's turn: the coordinators handle one not
recorded as a nonconformity; one recorded as an open nonconformity waits in that finding's
workflow; once the nonconformity is closed, the coordinators close the complaint."""

from __future__ import annotations

import datetime as dt

from audit.core.todo import waiting_for
from audit.extensions import db
from audit.findings import services as fs
from audit.management import registers
from audit.models import Grade, Role
from tests.findings.helpers import draft, response_kwargs, world


def _complaint_items(app, user, now) -> list:
    with app.test_request_context():
        return [(i.step, i.key) for i in waiting_for(user, now) if i.step.endswith("_complaint")]


def test_a_complaint_waits_for_the_coordinators_unless_its_nonconformity_is_open(app, make, library, now):
    w = world(make, library)
    auditor = make.user(roles=(Role.AUDITOR,))
    values = {"customer": "Nordic Pumps", "received_on": now.date(), "severity": "high",
              "description": "Housings scratched on arrival"}
    complaint = registers.create_complaint(values, actor=w.coordinator, now=now)
    db.session.commit()
    ref = complaint.reference
    assert _complaint_items(app, w.coordinator, now) == [("handle_complaint", ref)]
    assert _complaint_items(app, auditor, now) == []

    finding = draft(w, Grade.MINOR, now=now)
    registers.update_complaint(complaint, {**values, "status": "investigating", "finding_id": finding.id},
                               actor=w.coordinator, now=now)
    fs.issue_finding(finding, actor=w.auditor, now=now)
    db.session.commit()
    assert _complaint_items(app, w.coordinator, now) == []  # the nonconformity's workflow carries it

    later = now + dt.timedelta(days=60)
    fs.submit_response(finding, actor=w.owner, now=now, **response_kwargs(w, now))
    fs.accept_response(finding, actor=w.auditor, now=now)
    fs.complete_action(finding.actions[0], "Packaging changed", actor=w.owner, now=now)
    fs.verify_effectiveness(finding, effective=True, note="No scratches since", actor=w.coordinator, now=later)
    db.session.commit()
    assert _complaint_items(app, w.coordinator, later) == [("close_complaint", ref)]

    registers.update_complaint(complaint, {**values, "status": "closed", "closed_on": later.date(),
                                           "finding_id": finding.id}, actor=w.coordinator, now=later)
    db.session.commit()
    assert _complaint_items(app, w.coordinator, later) == []
