""""Waiting for me": every open item waits for someone, the list is what the workflow grants,
the home page and the navigation show it in a constant number of queries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.waiting import waiting_for
from audit.findings.workflow import action_waits_for, waiting_steps
from audit.models import ActionStatus, Finding, FindingStatus, Grade, Role, User
from tests.findings.helpers import draft, to_status, world


def _more_states(cast, make, now):
    """States the shared cast does not hold: accepted OFIs, "not effective" findings, a SCAR
    waiting for verification or re-planning, and a finding owned by someone who cannot answer."""
    people, findings = cast
    lead, owner, supplier = people["lead"], people["owner"], people["supplier"]
    audit = findings["draft"].audit
    ofi = fs.raise_finding(audit, grade=Grade.OFI, statement="Label racks", actor=lead, now=now)
    fs.issue_finding(ofi, actor=lead, now=now)
    fs.decide_finding(ofi, accept=True, rationale="Cheap", action_description="Label racks",
                      action_due_on=now.date() + dt.timedelta(days=9), actor=owner, now=now)
    findings["ofi_accepted"] = ofi
    done = fs.raise_finding(audit, grade=Grade.OBSERVATION, statement="Dusty", actor=lead, now=now)
    fs.issue_finding(done, actor=lead, now=now)
    fs.decide_finding(done, accept=True, rationale="Yes", action_description="Clean",
                      action_due_on=now.date() + dt.timedelta(days=9), actor=owner, now=now)
    fs.complete_action(done.actions[0], "Cleaned", actor=owner, now=now)
    findings["ofi_actions_done"] = done
    major = findings["major_pending"]
    fs.verify_effectiveness(major, effective=False, note="Failures again", actor=lead, now=now)
    findings["major_not_effective"] = major
    scar = findings["scar_acting"]
    fs.complete_action(scar.actions[0], "Interlock fitted", actor=supplier, now=now)
    findings["scar_implemented"] = scar
    # "Sales" is owned by the coordinator, who lacks the auditee capability: auto-owned, stuck.
    sales = make.unit(site=audit.site, owner=people["coordinator"], name="Sales")
    audit.units.append(sales)
    stranded = fs.raise_finding(audit, grade=Grade.MINOR, statement="Quotes unsigned",
                                evidence="3 of 5 quotes", clauses=list(findings["draft"].clauses),
                                unit=sales, actor=lead, now=now)
    fs.issue_finding(stranded, actor=lead, now=now)
    findings["stranded"] = stranded
    db.session.flush()
    return people, findings


def test_every_open_state_of_every_finding_action_and_scar_waits_for_someone(app, cast, make, now):
    """Each non-terminal finding, SCAR stage and open action appears in at least one active,
    non-administrator person's list: nothing is stranded."""
    people, findings = _more_states(cast, make, now)
    users = db.session.scalars(select(User).where(User.is_active.is_(True))).all()
    assert not any(Role.ADMIN in u.roles for u in users)
    lists = {u.id: waiting_for(u, now) for u in users}
    open_findings = db.session.scalars(select(Finding).where(Finding.status != FindingStatus.CLOSED)).all()
    states = set()
    for finding in open_findings:
        states.add((finding.status, finding.scar_stage))
        waiting = [u for u in users if any(i.finding.id == finding.id for i in lists[u.id])]
        assert waiting, (finding.reference, finding.status, finding.scar_stage)
        for action in finding.actions:
            if action.status is ActionStatus.OPEN and finding.status in (
                    FindingStatus.ACTION_IN_PROGRESS, FindingStatus.ACCEPTED):
                assert any(i.action is not None and i.action.id == action.id
                           for u in users for i in lists[u.id]), (finding.reference, action.id)
    assert len(states) >= 14  # the walk met every open state and SCAR stage
    stranded = [i for i in lists[people["lead"].id] if i.finding.id == findings["stranded"].id]
    assert [i.step for i in stranded] == ["assign"]
    assert not any(i.finding.id == findings["stranded"].id for i in lists[people["owner"].id])


def test_the_list_is_exactly_what_the_workflow_grants(app, cast, now):
    """For every person and finding, the items are the forward actions granted and the open
    actions they may complete, each carrying the deadline the sweep uses."""
    people, findings = cast
    for who, user in people.items():
        items = waiting_for(user, now)
        for finding in findings.values():
            mine = [i for i in items if i.finding.id == finding.id]
            steps = waiting_steps(finding, user)
            expected = {("verify" if s == "close" else s) for s in steps}
            expected |= {f"complete_action:{a.id}" for a in finding.actions
                         if a.status is ActionStatus.OPEN and action_waits_for(a, user)}
            got = {f"complete_action:{i.action.id}" if i.action else
                   ("verify" if i.step == "close" else i.step) for i in mine}
            assert got == expected, (who, finding.reference)
            for item in mine:
                if item.action is None and item.step != "decide_extension":
                    assert item.due_on == finding.current_due_on(), (who, finding.reference)
    respond = [i for i in waiting_for(people["owner"], now)
               if i.finding.id == findings["minor_awaiting_response"].id]
    assert [(i.label, i.due_label, i.due_on) for i in respond] == [
        ("Response to write", "Response", findings["minor_awaiting_response"].response_due_on)]


def test_home_panel_and_navigation_badge_show_the_list(app, make, library, now, login):
    """The auditor's home says a verification waits for them (it said "Nothing open" before),
    and the navigation counts the items."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    db.session.commit()
    page = login(w.auditor).get("/").text
    assert "Waiting for me (1)" in page and "Verification to do" in page and f.reference in page
    assert 'aria-label="1 waiting"' in page
    owner_page = login(w.owner).get("/findings/waiting").text
    assert "Nothing is waiting for you." in owner_page


def test_home_page_query_count_does_not_grow_with_items(app, make, library, now, login, count_queries):
    """Three or thirty findings waiting: the home page sends the same number of queries."""
    w = world(make, library)

    def add(n):
        for _ in range(n):
            to_status(w, draft(w, Grade.MINOR, now=now), "response_submitted", now=now)
        db.session.commit()

    add(3)
    client, coordinator = login(w.auditor), app.test_client()
    from tests.factories import PASSWORD

    assert coordinator.post("/login", data={"email": w.coordinator.email, "password": PASSWORD}).status_code == 302
    db.session.expire_all()
    with count_queries() as few:
        assert client.get("/").status_code == 200
    db.session.expire_all()
    with count_queries() as few_coordinator:
        assert coordinator.get("/").status_code == 200
    add(27)
    db.session.expire_all()
    with count_queries() as many:
        page = client.get("/").text
    assert "Waiting for me (30)" in page
    assert many.count == few.count, many.statements
    # the coordinator's list weighs every finding's team (stand-in rule): still constant
    db.session.expire_all()
    with count_queries() as many_coordinator:
        assert coordinator.get("/").status_code == 200
    assert many_coordinator.count == few_coordinator.count, many_coordinator.statements


def test_coordinator_sees_only_what_is_theirs_and_stands_in_for_a_missing_team(app, cast, now):
    """Verifications and reviews wait for the audit's lead, not for every coordinator; the
    coordinator names owners and decides extensions, and takes over the audit side's steps
    when the team has nobody active who may take them."""
    people, findings = cast
    coordinator, lead = people["coordinator"], people["lead"]
    steps = {(i.step, i.finding.reference) for i in waiting_for(coordinator, now)}
    assert steps == {("assign", findings["issued_unowned"].reference),
                     ("decide_extension", findings["extension_pending"].reference)}
    lead_steps = {(i.step, i.finding.reference) for i in waiting_for(lead, now)}
    assert ("verify", findings["minor_pending_verification"].reference) in lead_steps
    assert ("accept", findings["minor_response_submitted"].reference) in lead_steps
    assert ("issue", findings["draft"].reference) in lead_steps
    lead.is_active = False  # the lead left: the coordinator stands in
    db.session.flush()
    steps = {(i.step, i.finding.reference) for i in waiting_for(coordinator, now)}
    assert ("verify", findings["minor_pending_verification"].reference) in steps
    assert ("accept", findings["minor_response_submitted"].reference) in steps
    assert ("issue", findings["draft"].reference) in steps


def test_escalations_wait_for_the_ladder_step_they_reached(app, cast, make, now):
    """Overdue past the coordinators' step: on the coordinators' list, not yet top
    management's; past the top step: on both, with the deadline the sweep escalated on."""
    from audit.findings.reminders import escalation_ladder

    people, findings = cast
    f = findings["minor_awaiting_response"]
    steps = dict((level, days) for days, level in escalation_ladder())
    due = f.response_due_on

    def escalated(who, at):
        return [i for i in waiting_for(people[who], at) if i.step == "escalated" and i.finding.id == f.id]

    def day(n):
        return now + dt.timedelta(days=(due - now.date()).days + n)

    assert not escalated("coordinator", day(steps["coordinators"] - 1))
    [item] = escalated("coordinator", day(steps["coordinators"]))
    assert (item.due_on, item.overdue, item.due_label) == (due, True, "Response")
    assert not escalated("viewer", day(steps["coordinators"]))
    assert escalated("viewer", day(steps["top_management"]))
    assert not escalated("owner", day(steps["top_management"]))  # the owner has it to respond


def test_a_scar_nobody_at_the_supplier_can_answer_waits_for_the_coordinators(app, make, library, now):
    """The supplier's only contact is deactivated while its SCAR waits on them: the SCAR would be
    nobody's turn until the escalation reached the coordinators; they are told at once and have
    "Supplier contact to add", with the SCAR's deadline, until a contact can answer again."""
    from audit.models import AuditKind, Notification
    from audit.people.services import update_user

    supplier = make.supplier(name="Precision Castings Ltd")
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
    scar = draft(w, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    db.session.commit()

    def steps(user):
        return [(i.step, i.due_on) for i in waiting_for(user, now) if i.finding.id == scar.id]

    assert steps(contact) == [("acknowledge", scar.current_deadline()[1])]
    assert steps(w.coordinator) == []
    admin = make.user(roles=(Role.ADMIN,))
    update_user(contact, {"email": contact.email, "name": contact.name, "roles": ["supplier"],
                          "supplier_id": supplier.id, "timezone": "UTC", "is_active": False},
                actor=admin, now=now)
    db.session.commit()
    assert steps(w.coordinator) == [("supplier_contact", scar.current_deadline()[1])]
    told, = db.session.scalars(select(Notification).where(Notification.kind == "finding_stranded"))
    assert told.user_id == w.coordinator.id and told.link == f"/findings/{scar.id}"
    assert told.title == (f"SCAR {scar.reference} waits on its supplier, but nobody there can answer it "
                          "any more.")
    assert steps(w.auditor) == [] and steps(w.owner) == []
    # Correcting the departed contact's name a day later is not news: nobody is told again.
    update_user(contact, {"email": contact.email, "name": "J. Former-Contact", "roles": ["supplier"],
                          "supplier_id": supplier.id, "timezone": "UTC", "is_active": False},
                actor=admin, now=now + dt.timedelta(days=1))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.kind == "finding_stranded")) == 1
    make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)  # a new contact
    db.session.commit()
    assert steps(w.coordinator) == []
