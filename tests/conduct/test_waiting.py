"""Reports in "waiting for me": every pending report waits for an active person, with the due
date the report sweep uses, and the list costs the same queries for two audits or eight."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.audits.reminders import send_report_reminders
from audit.conduct.blockers import report_blockers
from audit.conduct.checklist_read import build_checklist
from audit.conduct.report import acknowledge_report, issue_report, save_report, sign_report
from audit.conduct.report_workflow import REPORT, ReportState, get_report, report_state
from audit.conduct.waiting import waiting_source
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.models import AuditStatus, Notification, TeamRole, User

VALUES = {"conclusions": "Assembly conforms; one minor.", "fulfilment": "Criteria met except 8.5"}


def _audit(make, setup, now, *, lead=None, stage="none", due_in=5, checklist=False):
    """An audit whose fieldwork is done, its report at ``stage``."""
    unit = setup.audit.units[0]
    audit = make.audit(team=[(lead or setup.lead, TeamRole.LEAD), (setup.auditor, TeamRole.AUDITOR)],
                       units=[unit], site=unit.site, status=AuditStatus.FIELDWORK_COMPLETE,
                       starts_at=now - dt.timedelta(days=2), ends_at=now - dt.timedelta(days=1),
                       checklist_version_id=setup.audit.checklist_version_id if checklist else None)
    audit.report_due_on = now.date() + dt.timedelta(days=due_in)
    db.session.flush()
    if stage in ("draft", "conclusions", "signed", "acknowledged", "issued"):
        save_report(audit, VALUES if stage != "draft" else {"positive_findings": "Clean line"},
                    actor=setup.auditor, now=now)
    if stage in ("signed", "acknowledged", "issued"):
        sign_report(audit, actor=lead or setup.lead, now=now)
    if stage == "acknowledged":
        acknowledge_report(audit, name=setup.auditee.name, actor=setup.auditee, now=now)
    if stage == "issued":
        issue_report(audit, actor=setup.lead, now=now)
    return audit


def _steps(user, audit, now):
    return [t.step for t in waiting_source(user, now) if t.key == audit.reference]


def test_every_pending_report_waits_for_an_active_person(app, make, setup, now):
    """No report, a draft, a draft with conclusions, signed, acknowledged: the lead and the unit
    owner see exactly the step the workflow waits for; an issued report waits for nobody; a
    report whose lead left waits for the coordinators, who name another lead."""
    audits = {stage: _audit(make, setup, now, stage=stage)
              for stage in ("none", "draft", "conclusions", "signed", "acknowledged", "issued")}
    gone = make.user(name="Lars Left")
    orphan = _audit(make, setup, now, lead=gone, stage="draft")
    gone.is_active = False
    db.session.commit()
    lead, auditee, coordinator = setup.lead, setup.auditee, setup.coordinator
    expected = {"none": (["write"], []), "draft": (["finish"], ["acknowledge_report"]),
                "conclusions": (["sign_report"], ["acknowledge_report"]),
                "signed": (["issue_report"], ["acknowledge_report"]), "acknowledged": (["issue_report"], []),
                "issued": ([], [])}
    for stage, (lead_steps, auditee_steps) in expected.items():
        audit = audits[stage]
        assert _steps(lead, audit, now) == lead_steps, stage
        assert _steps(auditee, audit, now) == auditee_steps, stage
        assert _steps(coordinator, audit, now) == [], stage  # the lead is there: not the coordinator's
        assert _steps(setup.auditor, audit, now) == [], stage  # the lead writes, signs and issues
    assert _steps(coordinator, orphan, now) == ["name_lead"]
    assert _steps(gone, orphan, now) == []
    # the walk: every unissued report waits for at least one active, allowed person
    users = db.session.scalars(select(User).where(User.is_active.is_(True))).all()
    for audit in [*audits.values(), orphan]:
        state = report_state(audit)
        waiting = [u for u in users if _steps(u, audit, now)]
        assert bool(waiting) == (state is not ReportState.ISSUED), (audit.reference, state)
        for user in waiting:
            for step in _steps(user, audit, now):
                if step in REPORT.steps and step != "issue_report":  # issuing waits on blockers
                    assert REPORT.decide(audit, user, step).allowed, (audit.reference, step)


def test_items_carry_the_report_due_date_the_sweep_uses(app, make, setup, now):
    """The item's deadline is the date the report sweep reminds the lead of, and turns overdue
    when the sweep escalates."""
    soon = _audit(make, setup, now, stage="draft", due_in=2)
    late = _audit(make, setup, now, stage="none", due_in=-3)
    db.session.commit()
    items = {t.key: t for t in waiting_for(setup.lead, now) if t.source == "reports"}
    assert (items[soon.reference].due_on, items[soon.reference].overdue) == (soon.report_due_on, False)
    assert (items[late.reference].due_on, items[late.reference].overdue) == (late.report_due_on, True)
    assert items[soon.reference].label == "Report to finish" and items[soon.reference].due_label == "Report"
    send_report_reminders(now=now)
    notes = db.session.scalars(select(Notification).where(Notification.user_id == setup.lead.id)).all()
    due = {n.kind: n.body for n in notes}
    assert soon.report_due_on.strftime("%d %b %Y") in due["report_due"]
    assert late.report_due_on.strftime("%d %b %Y") in due["report_overdue"]


def test_report_to_issue_counts_its_blockers(app, make, setup, now):
    """A signed report with checklist questions unanswered: the item says how many blockers the
    report page lists."""
    audit = _audit(make, setup, now, stage="signed", checklist=True)
    db.session.commit()
    [item] = [t for t in waiting_source(setup.lead, now) if t.key == audit.reference]
    count = len(report_blockers(audit, get_report(audit), build_checklist(audit)))
    assert count >= 2
    assert item.step == "issue_report" and item.label == f"Report to issue ({count} blockers to clear)"
    assert item.url == f"/audits/{audit.id}/report"


def test_home_page_lists_reports_and_queries_do_not_grow(app, make, setup, now, login, count_queries):
    """Two audits or eight: the lead's home page sends the same number of queries."""
    def add(n):
        for i in range(n):
            _audit(make, setup, now, stage=("none", "conclusions", "signed")[i % 3], checklist=i % 2 == 0)
        db.session.commit()

    add(3)
    client = login(setup.lead)
    db.session.expire_all()
    with count_queries() as few:
        page = client.get("/").text
    assert "Report to sign" in page and "Report to issue" in page and "Report to write" in page
    add(6)
    db.session.expire_all()
    with count_queries() as many:
        assert client.get("/").status_code == 200
    assert many.count == few.count, many.statements


def test_coordinators_examine_only_reports_without_an_acting_lead(app, make, setup, now):
    """A coordinator's report items are the audits that need a lead named: a lead who left or
    lost the auditor role. Audits whose lead can write are not even loaded (the list is read
    on every page through the navigation badge, issue 16), and each audit's zone comes with it."""
    from sqlalchemy import event
    from sqlalchemy.orm import Mapper

    from audit.models import Audit, Role, UserRole

    covered = [_audit(make, setup, now, stage=stage) for stage in ("none", "draft", "signed")]
    gone, demoted = make.user(name="Lars Left"), make.user(name="Dora Demoted")
    left = _audit(make, setup, now, lead=gone, stage="draft")
    unqualified = _audit(make, setup, now, lead=demoted, stage="none")
    gone.is_active = False
    db.session.execute(UserRole.__table__.delete().where(UserRole.user_id == demoted.id,
                                                          UserRole.role == Role.AUDITOR))
    db.session.commit()
    coordinator_id, lead_id = setup.coordinator.id, setup.lead.id
    covered_refs = {a.reference for a in covered}
    left_ref, unqualified_ref = left.reference, unqualified.reference
    db.session.expunge_all()  # a "load" event fires for objects new to the session only
    coordinator, lead = db.session.get(User, coordinator_id), db.session.get(User, lead_id)
    loaded: list[str] = []

    def count(target, context):
        if isinstance(target, Audit):
            loaded.append(target.reference)

    event.listen(Mapper, "load", count)
    try:
        items = waiting_source(coordinator, now)
    finally:
        event.remove(Mapper, "load", count)
    assert sorted((t.key, t.step) for t in items) == sorted(
        [(left_ref, "name_lead"), (unqualified_ref, "name_lead")])
    assert not covered_refs & set(loaded)
    # the lead still sees their own reports
    assert {t.key for t in waiting_source(lead, now)} >= covered_refs


def test_a_certification_bodys_report_is_the_coordinators_to_record(app, make, setup, now):
    """A third-party audit's report is written and issued by the certification body: nobody of
    ours is asked to write or sign it or to name a lead; the coordinator records its arrival
    (the audit page's status form), and only they hear when it is late."""
    from audit.audits.services import change_status
    from audit.models import AuditKind

    unit = setup.audit.units[0]
    audit = make.audit(kind=AuditKind.THIRD_PARTY, team=[(setup.auditee, TeamRole.GUIDE)], units=[unit],
                       site=unit.site, status=AuditStatus.FIELDWORK_COMPLETE,
                       starts_at=now - dt.timedelta(days=20), ends_at=now - dt.timedelta(days=19))
    audit.report_due_on = now.date() - dt.timedelta(days=2)
    db.session.commit()
    item, = [t for t in waiting_source(setup.coordinator, now) if t.key == audit.reference]
    assert (item.step, item.label, item.url) == (
        "record_cb_report", "Certification body's report to record", f"/audits/{audit.id}")
    assert (item.due_on, item.overdue) == (audit.report_due_on, True)
    for person in (setup.lead, setup.auditor, setup.auditee):
        assert _steps(person, audit, now) == []

    assert send_report_reminders(now=now) == 1
    note, = db.session.scalars(select(Notification).where(Notification.kind == "report_overdue"))
    assert note.user_id == setup.coordinator.id
    assert note.title == f"Overdue: certification body's report for {audit.reference}"
    assert 'set the audit to "Report issued" when it arrives' in note.body

    change_status(audit, AuditStatus.REPORT_ISSUED, actor=setup.coordinator, now=now, manual=True)
    db.session.commit()
    assert _steps(setup.coordinator, audit, now) == []
