"""The lead's signature makes the report ready: the owner of the audited unit, whose "Report to
acknowledge" it opens, is told once (not at every re-signature, not after acknowledging)."""

from __future__ import annotations

from sqlalchemy import select

from audit.conduct.report import acknowledge_report, get_report, issue_report, save_report, sign_report
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.models import AuditStatus, Notification
from tests.conduct.test_report import REPORT, _ready_to_issue


def _notes() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).order_by(Notification.id)))


def test_signing_tells_the_owner_once_to_acknowledge(setup, now):
    """Written: nobody is told yet. Signed: the owner (and nobody else) is told what is expected,
    linked to the report, with the item in their list; an edit withdraws the signature and the
    second signature tells nobody again."""
    audit = setup.audit
    audit.status = AuditStatus.IN_PROGRESS  # fieldwork under way: the report is pending
    save_report(audit, REPORT, actor=setup.lead, now=now)
    assert _notes() == []
    sign_report(audit, actor=setup.lead, now=now)
    db.session.commit()

    notes = _notes()
    assert [(n.user_id, n.kind) for n in notes] == [(setup.auditee.id, "report_to_acknowledge")]
    note = notes[0]
    assert note.title == f"Report of {audit.reference} to acknowledge"
    assert note.link == f"/audits/{audit.id}/report"
    assert note.body.startswith(f"What happened: Lena Lead signed the report of {audit.reference}")
    assert "\nWhat is expected of you: Read the report and acknowledge it" in note.body
    assert "\nBy: " in note.body
    assert "acknowledge_report" in {item.step for item in waiting_for(setup.auditee, now)}

    save_report(audit, {**REPORT, "conclusions": "Conforms, with three exceptions."}, actor=setup.lead, now=now)
    sign_report(audit, actor=setup.lead, now=now)
    db.session.commit()
    assert len(_notes()) == 1


def test_a_report_already_acknowledged_tells_nobody_when_signed(setup, now):
    """Acknowledged at the closing meeting before the lead signed: nothing left to ask."""
    audit = setup.audit
    save_report(audit, REPORT, actor=setup.lead, now=now)
    acknowledge_report(audit, name="", actor=setup.auditee, now=now)
    sign_report(audit, actor=setup.lead, now=now)
    db.session.commit()
    assert _notes() == []


def test_the_owner_can_still_acknowledge_once_the_lead_issued_the_report(setup, now, login):
    """Told at the signature to acknowledge by the report's due date, the owner followed the link
    after the lead had issued the report on site minutes later and got 409: issued is no end to
    acknowledging (it changes no finding)."""
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()
    r = login(setup.auditee).post(f"/audits/{setup.audit.id}/report/acknowledge", data={"name": ""})
    assert r.status_code == 302
    report = get_report(setup.audit)
    db.session.refresh(report)
    assert report.acknowledged_by_id == setup.auditee.id
