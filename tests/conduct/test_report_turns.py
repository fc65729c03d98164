"""Issuing the report is the end of the audit's fieldwork: the people it concerns are told (the
auditee side, the distribution list, the coordinators and the rest of the team), and a tablet
replaying a finding it queued before the issue hears that the finding was recorded."""

from __future__ import annotations

from sqlalchemy import func, select

from audit.conduct.report import announce_issued, get_report, issue_report, save_report, sign_report
from audit.extensions import db
from audit.models import Finding, Notification, Role
from tests.conduct.test_report import REPORT, _ready_to_issue


def _issued_notes() -> dict[str, Notification]:
    """The report-issued notifications by recipient name."""
    db.session.expire_all()
    notes = db.session.scalars(select(Notification).where(Notification.kind == "report_issued")).all()
    return {note.user.name: note for note in notes}


def test_issuing_the_report_tells_the_people_it_concerns_once(setup, now, make):
    """Auditee, coordinator, the team but the lead who issued, and the distribution list's users
    who may read the report: each told once, linked to the report, with what is expected. A
    distribution line naming someone who may not open the report (another unit's owner, a
    supplier contact) tells nobody."""
    other_owner = make.user(roles=(Role.AUDITEE,), name="Petra Painter")
    make.unit(name="Paint shop", owner=other_owner)  # not audited: may not open this report
    _ready_to_issue(setup, now)
    # Roles and outside parties name nobody; people already concerned are told once all the same.
    distribution = "\n".join(["Process owner", "Coordinator", setup.outsider.email.upper(), "Otto Owner",
                              "cora coordinator", "petra painter", setup.supplier_contact.name,
                              "Top management"])
    save_report(setup.audit, {**REPORT, "distribution": distribution}, actor=setup.lead, now=now)
    sign_report(setup.audit, actor=setup.lead, now=now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()

    notes = _issued_notes()
    assert set(notes) == {"Otto Owner", "Cora Coordinator", "Arne Auditor", "Tina Trainee",
                          "Olga Observer", "Other Auditor"}
    ref = setup.audit.reference
    for note in notes.values():
        assert note.title == f"Report of {ref} issued"
        assert note.link == f"/audits/{setup.audit.id}/report"
        assert note.body.startswith(f"What happened: Lena Lead issued the report of {ref}")
        assert "\nWhat is expected of you: " in note.body
    assert "Read the report" in notes["Otto Owner"].body
    assert "distribution list" in notes["Other Auditor"].body
    assert "audit programme" in notes["Cora Coordinator"].body
    # Announcing again (a retried request) tells nobody a second time.
    assert announce_issued(setup.audit, get_report(setup.audit), actor=setup.lead, now=now) == []
    assert db.session.query(Notification).filter_by(kind="report_issued").count() == 6


def test_a_supplier_audits_report_tells_the_suppliers_contacts(setup, now, make):
    """The supplier's contacts are the auditee side of a supplier audit; they work on their SCAR
    page (internal pages are closed to them), so that is where the notification leads."""
    setup.audit.supplier_id = setup.supplier_contact.supplier_id
    other_company = make.user(roles=(Role.SUPPLIER,), name="Xavier Other", supplier_id=make.supplier().id)
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()

    notes = _issued_notes()
    assert notes["Sam Supplier"].link == "/scar/"
    assert "SCAR" in notes["Sam Supplier"].body
    assert other_company.name not in notes and "Lena Lead" not in notes


# --- a queued finding replayed after the issue -----------------------------------------------

FINDING = {"grade": "minor", "statement": "Risk register not reviewed since 2025.",
           "evidence": "Register last updated 2025-03", "mutation_id": "f-10"}


def test_a_queued_finding_replayed_after_the_issue_returns_the_stored_finding(setup, now, login):
    """The tablet lost the response, the report was issued meanwhile: the replay answers 200 with
    the finding recorded the first time, while a new finding is still refused as frozen."""
    url = f"/api/audits/{setup.audit.id}/questions/{setup.questions['S2Q2'].id}/findings"
    client = login(setup.lead)
    first = client.post(url, json=FINDING)
    assert first.status_code == 201, first.json
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()

    replay = client.post(url, json=FINDING)
    assert replay.status_code == 200, replay.json
    assert replay.json["replayed"] is True
    assert replay.json["finding"] == first.json["finding"]
    fresh = client.post(url, json={**FINDING, "mutation_id": "f-11"})
    assert fresh.status_code == 423, fresh.json
    assert fresh.json["code"] == "frozen"


def test_the_raise_finding_form_posted_again_after_the_issue_names_the_finding(setup, now, login):
    """The same form sent twice (the first response lost), the report issued in between: the
    second post says the finding is there; a new one is still refused as frozen."""
    url = f"/audits/{setup.audit.id}/checklist/questions/{setup.questions['S2Q2'].id}/finding"
    client = login(setup.lead)
    form = dict(FINDING)  # the test configuration leaves CSRF off (its own tests switch it on)
    assert client.post(url, data=form).status_code == 302
    raised = db.session.scalars(select(Finding).where(Finding.statement == FINDING["statement"])).one()
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()

    again = client.post(url, data=form, follow_redirects=True)
    assert f"Finding {raised.reference} was already raised." in again.text
    fresh = client.post(url, data={**form, "mutation_id": "f-12"}, follow_redirects=True)
    assert "was already raised" not in fresh.text and "issued" in fresh.text
    assert db.session.scalar(select(func.count(Finding.id)).where(Finding.statement == FINDING["statement"])) == 1
