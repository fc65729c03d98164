"""Risk actions tracked like corrective actions, a complaint raising its own nonconformity, and
this feature's items in "waiting for me"."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from audit.core.errors import DomainError, NotAllowed
from audit.core.registry import registry
from audit.extensions import db
from audit.management import registers, risk_actions
from audit.models import (
    Complaint,
    Finding,
    FindingStatus,
    Grade,
    Notification,
    PoorQualityCost,
    Programme,
    ProgrammeStatus,
    RiskAction,
    RiskActionStatus,
    Role,
    TrailEntry,
    utcnow,
)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _risk(make, now, owner=None):
    coordinator = make.user(roles=(Role.COORDINATOR,))
    owner = owner or make.user(roles=(Role.AUDITEE,), name="Rita Riskowner")
    risk = registers.create_risk({"title": "Single supplier for castings", "kind": "risk", "likelihood": 3,
                                  "impact": 4, "owner_id": owner.id, "identified_on": now.date()},
                                 actor=coordinator, now=now)
    return risk, owner, coordinator


# Risk actions ---------------------------------------------------------------------------------

def test_risk_action_life_cycle_through_the_pages(app, make, login):
    """The risk's owner plans an action for someone; that person is told, sees it in "waiting for
    me", closes it with a note; the risk owner reviews its effectiveness; each step is trailed."""
    now = utcnow()
    risk, owner, _coordinator = _risk(make, now)
    doer = make.user(roles=(Role.AUDITEE,), name="Dora Doer")
    outsider = make.user(roles=(Role.VIEWER,))
    due = now.date() + dt.timedelta(days=20)

    assert login(outsider).post(f"/management/risks/{risk.id}/actions", data={
        "description": "x", "owner_id": doer.id, "due_on": due}).status_code == 403
    client = login(owner)
    refused = client.post(f"/management/risks/{risk.id}/actions", data={
        "description": "Qualify a second foundry", "owner_id": doer.id, "due_on": now.date() - dt.timedelta(days=1)})
    assert refused.status_code == 422 and "already passed" in refused.text
    assert db.session.scalar(select(func.count(RiskAction.id))) == 0
    assert client.post(f"/management/risks/{risk.id}/actions", data={
        "description": "Qualify a second foundry", "owner_id": doer.id, "due_on": due}).status_code == 302
    action = db.session.scalar(select(RiskAction))
    assert action.status is RiskActionStatus.OPEN and action.owner_id == doer.id

    client = login(doer)
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == doer.id,
                                                           Notification.kind == "risk_action_assigned"))
    waiting = _text(client.get("/findings/waiting").text)
    assert "Action on a risk or opportunity to complete" in waiting and "Single supplier for castings" in waiting
    assert "Qualify a second foundry" in _text(client.get("/management/risk-actions").text)
    assert client.post(f"/management/risk-actions/{action.id}/close",
                       data={"outcome": "done", "note": ""}).status_code == 422
    assert client.post(f"/management/risk-actions/{action.id}/effectiveness",
                       data={"effectiveness": "effective", "reviewed_on": now.date()}).status_code == 403
    assert client.post(f"/management/risk-actions/{action.id}/close",
                       data={"outcome": "done", "note": "Second foundry approved"}).status_code == 302
    assert "Single supplier for castings" not in _text(client.get("/findings/waiting").text)

    client = login(owner)
    assert client.post(f"/management/risk-actions/{action.id}/effectiveness", data={
        "effectiveness": "effective", "reviewed_on": now.date() + dt.timedelta(days=1)}).status_code == 422
    assert client.post(f"/management/risk-actions/{action.id}/effectiveness", data={
        "effectiveness": "effective", "reviewed_on": now.date(), "review_note": "Two sources now"}).status_code == 302
    page = _text(client.get(f"/management/risks/{risk.id}").text)
    assert "Second foundry approved" in page and "Effective" in page
    db.session.expire_all()
    action = db.session.get(RiskAction, action.id)
    assert action.status is RiskActionStatus.DONE and action.reviewed_on == now.date()
    actions = set(db.session.scalars(select(TrailEntry.action).where(TrailEntry.object_type == "RiskAction")))
    assert {"create", "done", "effectiveness"} <= actions


def test_withdrawn_action_needs_a_reason_and_cannot_be_closed_twice(app, make, now):
    """Withdrawing says why; a closed action stays closed; strangers may not close it."""
    risk, owner, coordinator = _risk(make, now)
    action = risk_actions.add_action(risk, {"description": "Stock buffer", "owner_id": owner.id,
                                            "due_on": now.date()}, actor=coordinator, now=now)
    with pytest.raises(NotAllowed):
        risk_actions.close_action(action, "withdrawn", "x", actor=make.user(roles=(Role.VIEWER,)), now=now)
    with pytest.raises(DomainError, match="why"):
        risk_actions.close_action(action, "withdrawn", " ", actor=owner, now=now)
    risk_actions.close_action(action, "withdrawn", "Second source makes it moot", actor=owner, now=now)
    with pytest.raises(DomainError, match="already withdrawn"):
        risk_actions.close_action(action, "done", "again", actor=owner, now=now)
    with pytest.raises(DomainError, match="once it is done"):
        risk_actions.review_effectiveness(action, {"effectiveness": "effective", "reviewed_on": now.date()},
                                          actor=owner, now=now)


def test_overdue_risk_actions_are_reminded_once_by_the_registered_sweep(app, make, now):
    """The sweep is a registered job; it reminds due and overdue owners once per stage."""
    risk, owner, coordinator = _risk(make, now)
    early = now - dt.timedelta(days=30)
    late = risk_actions.add_action(risk, {"description": "Audit foundry", "owner_id": owner.id,
                                          "due_on": now.date() - dt.timedelta(days=2)}, actor=coordinator, now=early)
    risk_actions.add_action(risk, {"description": "Far away", "owner_id": owner.id,
                                   "due_on": now.date() + dt.timedelta(days=60)}, actor=coordinator, now=now)
    late_id, owner_id = late.id, owner.id
    db.session.commit()
    job = next(job for job in registry(app).jobs if job.id == "management_review_reminders")
    assert job.function(app, now)["send_risk_action_reminders"] == 1
    assert risk_actions.send_risk_action_reminders(now=now) == 0
    note = db.session.scalar(select(Notification).where(Notification.kind == "risk_action_due"))
    assert note.user_id == owner_id and "overdue" in note.title and late_id



def test_risk_action_days_are_the_risk_sites_own(app, make):
    """The due date is the risk's site's day, in the due-date check and in the reminder's stage,
    as on the risk page: 02:00 UTC on 2 Mar is still 1 Mar in Los Angeles, already 2 Mar in Tokyo."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    owner = make.user(roles=(Role.AUDITEE,))
    due = dt.date(2027, 3, 1)
    evening_in_la = dt.datetime(2027, 3, 2, 2, tzinfo=dt.UTC)
    actions = {}
    for zone in ("America/Los_Angeles", "Asia/Tokyo"):
        unit = make.unit(site=make.site(timezone=zone))
        risk = registers.create_risk({"title": f"Castings at {zone}", "kind": "risk", "likelihood": 3,
                                      "impact": 4, "owner_id": owner.id, "unit_id": unit.id,
                                      "identified_on": due - dt.timedelta(days=30)}, actor=coordinator,
                                     now=evening_in_la - dt.timedelta(days=30))
        values = {"description": "Qualify a second foundry", "owner_id": owner.id, "due_on": due}
        if zone == "Asia/Tokyo":
            with pytest.raises(DomainError, match="already passed"):
                risk_actions.add_action(risk, values, actor=coordinator, now=evening_in_la)
            actions[zone] = risk_actions.add_action(risk, values, actor=coordinator,
                                                    now=evening_in_la - dt.timedelta(days=1))
        else:
            actions[zone] = risk_actions.add_action(risk, values, actor=coordinator, now=evening_in_la)
    db.session.commit()
    assert risk_actions.send_risk_action_reminders(now=evening_in_la) == 2
    notes = db.session.scalars(select(Notification).where(Notification.kind == "risk_action_due"))
    titles = {n.title for n in notes}
    assert titles == {"Risk action due 01 Mar 2027: Castings at America/Los_Angeles",
                      "Risk action overdue 01 Mar 2027: Castings at Asia/Tokyo"}

# A complaint raises its own nonconformity -----------------------------------------------------

@pytest.fixture
def complaint_setup(app, make, library):
    now = utcnow()
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    unit_owner = make.user(roles=(Role.AUDITEE,), name="Uwe Unitowner")
    site = make.site()
    unit = make.unit(site=site, owner=unit_owner)
    programme = Programme(name="Internal audits", period_start=now.date() - dt.timedelta(days=60),
                          period_end=now.date() + dt.timedelta(days=400), status=ProgrammeStatus.ACTIVE)
    db.session.add(programme)
    audit = make.audit(site=site, programme=programme, standards=[library["ISO 9001"]], units=[unit],
                       planned_date=now.date() + dt.timedelta(days=10))
    complaint = registers.create_complaint({
        "customer": "Acme GmbH", "product": "Bracket B-12", "received_on": now.date() - dt.timedelta(days=3),
        "severity": "high", "status": "open", "description": "Burrs on the edges", "unit_id": unit.id},
        actor=coordinator, now=now)
    clause = next(c for c in library["ISO 9001"].clauses if c.number == "8.7")
    db.session.commit()
    return coordinator, unit_owner, unit, audit, complaint, clause, now


def _counts():
    return (db.session.scalar(select(func.count(Finding.id))),
            db.session.scalar(select(func.count(PoorQualityCost.id))))


def test_complaint_raises_an_issued_nonconformity_with_its_cost(complaint_setup, login, make):
    """From the complaint page: the statement is prefilled; the NC is raised and issued on the
    audit that answers the complaint, its owner told, the cost recorded; linked both ways."""
    coordinator, unit_owner, unit, audit, complaint, clause, now = complaint_setup
    assert login(make.user(roles=(Role.VIEWER,))).post(
        f"/management/complaints/{complaint.id}/nonconformity", data={}).status_code == 403
    client = login(coordinator)
    page = client.get(f"/management/complaints/{complaint.id}").text
    assert "Raise nonconformity" in page and "Customer complaint CC-" in page and "Burrs on the edges" in page
    data = {"grade": "minor", "unit_id": unit.id, "statement": "Brackets shipped with burrs",
            "clause_id": clause.id, "cost_category": "customer_return", "cost_amount": "1250.50",
            "cost_currency": "XXQ", "cost_incurred_on": now.date()}
    bad = client.post(f"/management/complaints/{complaint.id}/nonconformity", data=data)
    assert bad.status_code == 422 and "is not an ISO 4217 currency code" in bad.text
    assert _counts() == (0, 0)
    future = client.post(f"/management/complaints/{complaint.id}/nonconformity", data={
        **data, "cost_currency": "EUR", "cost_incurred_on": now.date() + dt.timedelta(days=5)})
    assert future.status_code == 422 and "the date cannot be in the future" in future.text
    assert _counts() == (0, 0)
    ok = client.post(f"/management/complaints/{complaint.id}/nonconformity", data={**data, "cost_currency": "EUR"})
    assert ok.status_code == 302, _text(ok.text)[:600]
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    finding = complaint.finding
    assert finding.grade is Grade.MINOR and finding.status is FindingStatus.AWAITING_RESPONSE
    assert finding.audit_id == complaint.trigger.audit_id and finding.unit_id == unit.id
    assert finding.owner_id == unit_owner.id and [c.number for c in finding.clauses] == ["8.7"]
    assert complaint.reference in finding.evidence
    cost = db.session.scalar(select(PoorQualityCost))
    assert cost.finding_id == finding.id and str(cost.amount) == "1250.50"
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == unit_owner.id))
    page = client.get(f"/management/complaints/{complaint.id}").text
    assert f"/findings/{finding.id}" in page and "Raise nonconformity" not in page
    assert db.session.scalar(select(TrailEntry.id).where(
        TrailEntry.object_type == "Finding", TrailEntry.object_id == finding.id, TrailEntry.action == "complaint"))
    again = client.post(f"/management/complaints/{complaint.id}/nonconformity", data=data)
    assert again.status_code == 422 and _counts() == (1, 1)


def test_nonconformity_without_clause_gets_the_findings_message(complaint_setup, login):
    """The findings service's own rule applies: a nonconformity cites its clause."""
    coordinator, _owner, unit, _audit, complaint, _clause, _now = complaint_setup
    response = login(coordinator).post(f"/management/complaints/{complaint.id}/nonconformity", data={
        "grade": "major", "unit_id": unit.id, "statement": "Brackets shipped with burrs", "clause_id": 0})
    assert response.status_code == 422 and "must cite the clause" in response.text
    assert _counts() == (0, 0)


# Waiting for me -------------------------------------------------------------------------------

def test_waiting_page_lists_review_and_risk_actions_with_constant_queries(app, make, login, count_queries):
    """Review outputs and risk actions the person owns, with due date and overdue flag; the
    page's query count does not grow with the number of items."""
    from audit.management import reviews

    now = utcnow()
    risk, owner, coordinator = _risk(make, now)
    boss = make.user(roles=(Role.VIEWER,))
    review = reviews.plan_review({"title": "MR 2025", "period_start": dt.date(2025, 1, 1),
                                  "period_end": dt.date(2025, 12, 31), "planned_on": dt.date(2026, 1, 20),
                                  "chair_id": boss.id}, actor=coordinator, now=now)
    reviews.hold_review(review, {"held_on": dt.date(2026, 1, 20), "attendees": "Boss"}, actor=boss, now=now)

    def add(n):
        for i in range(n):
            reviews.add_output(review, {"kind": "improvement", "decision": f"Decision {i}", "owner_id": owner.id,
                                        "due_on": now.date() + dt.timedelta(days=i)}, actor=boss, now=now)
            risk_actions.add_action(risk, {"description": f"Risk step {i}", "owner_id": owner.id,
                                           "due_on": now.date() + dt.timedelta(days=i)}, actor=coordinator,
                                    now=now - dt.timedelta(days=10))
        db.session.commit()

    add(1)
    db.session.execute(db.update(RiskAction).values(due_on=now.date() - dt.timedelta(days=1)))
    client = login(owner)
    client.get("/findings/waiting")  # warm-up: the first request after login loads more
    with count_queries() as few:
        page = client.get("/findings/waiting").text
    assert "Management review action to complete" in page and "Risk step 0" in page
    assert re.search(r"Risk step 0.*overdue", _text(page))
    add(4)
    client.get("/")
    with count_queries() as many:
        page = client.get("/findings/waiting").text
    assert page.count('data-source="management"') == 10
    assert many.count == few.count, "\n".join(many.statements)


@pytest.mark.parametrize("page", ["risk", "actions", "review"])
def test_action_pages_keep_a_constant_query_count(app, make, login, count_queries, page):
    """A risk's page, the owner's risk actions and a review's page (pack included) cost the same
    number of queries with one action as with six."""
    from audit.management import reviews

    now = utcnow()
    risk, owner, coordinator = _risk(make, now)
    boss = make.user(roles=(Role.VIEWER,))
    review = reviews.plan_review({"title": "MR 2025", "period_start": dt.date(2025, 1, 1),
                                  "period_end": dt.date(2025, 12, 31), "planned_on": dt.date(2026, 1, 20),
                                  "chair_id": boss.id}, actor=coordinator, now=now)
    reviews.hold_review(review, {"held_on": dt.date(2026, 1, 20), "attendees": "Boss"}, actor=boss, now=now)

    def add(n):
        for i in range(n):
            doer = make.user(roles=(Role.AUDITEE,))
            action = risk_actions.add_action(risk, {"description": f"Step {i}", "owner_id": owner.id if i % 2
                                                    else doer.id, "due_on": now.date()}, actor=coordinator, now=now)
            if i % 3 == 0:
                risk_actions.close_action(action, "done", "Done", actor=coordinator, now=now)
            reviews.add_output(review, {"kind": "improvement", "decision": f"D{i}", "owner_id": doer.id,
                                        "due_on": now.date()}, actor=boss, now=now)
        db.session.commit()

    path = {"risk": f"/management/risks/{risk.id}", "actions": "/management/risk-actions",
            "review": f"/management/reviews/{review.id}"}[page]
    client = login(owner if page == "actions" else coordinator)
    add(2)
    client.get(path)
    with count_queries() as few:
        assert client.get(path).status_code == 200
    add(4)
    client.get(path)
    with count_queries() as many:
        response = client.get(path)
        assert response.status_code == 200
    if page == "actions":
        assert response.text.count("name=\"note\"") == 2  # the owner's open ones: step 1, twice
    assert many.count == few.count, "\n".join(s[:150] for s in many.statements)


def test_complaint_without_a_unit_raises_its_nonconformity_on_the_chosen_unit(complaint_setup, login):
    """A complaint recorded without a unit takes the unit chosen in the form; the audit trigger
    it needs sees that unit at once (not only after a flush)."""
    coordinator, _owner, unit, _audit, complaint, clause, _now = complaint_setup
    complaint.unit = None
    complaint.unit_id = None
    db.session.commit()
    response = login(coordinator).post(f"/management/complaints/{complaint.id}/nonconformity", data={
        "grade": "minor", "unit_id": unit.id, "statement": "Brackets shipped with burrs", "clause_id": clause.id})
    assert response.status_code == 302, _text(response.text)[:600]
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    assert complaint.unit_id == unit.id and complaint.trigger.unit_id == unit.id
    assert complaint.finding.unit_id == unit.id


def test_cost_amount_without_its_kind_is_refused_not_dropped(complaint_setup, login):
    """An amount given without the kind of cost is refused on the kind field; nothing is stored
    and the form comes back with what was typed."""
    coordinator, _owner, unit, _audit, complaint, clause, now = complaint_setup
    response = login(coordinator).post(f"/management/complaints/{complaint.id}/nonconformity", data={
        "grade": "minor", "unit_id": unit.id, "statement": "Brackets shipped with burrs typed",
        "clause_id": clause.id, "cost_category": "", "cost_amount": "987.65", "cost_currency": "EUR",
        "cost_incurred_on": now.date()})
    assert response.status_code == 422
    assert "Choose the kind of cost the amount is for" in response.text
    assert "987.65" in response.text and "Brackets shipped with burrs typed" in response.text
    assert _counts() == (0, 0)
    db.session.expire_all()
    assert db.session.get(Complaint, complaint.id).trigger_id is None


def test_refused_risk_action_forms_come_back_with_what_was_typed(app, make, login):
    """An over-long close note and a future-dated effectiveness review are refused (422) with a
    message, and each form shows the values typed, not an empty box or the stored values."""
    now = utcnow()
    risk, owner, _coordinator = _risk(make, now)
    action = risk_actions.add_action(risk, {"description": "Stock buffer", "owner_id": owner.id,
                                            "due_on": now.date() + dt.timedelta(days=5)}, actor=owner, now=now)
    done = risk_actions.add_action(risk, {"description": "Dual sourcing", "owner_id": owner.id,
                                          "due_on": now.date() + dt.timedelta(days=5)}, actor=owner, now=now)
    risk_actions.close_action(done, "done", "Approved", actor=owner, now=now)
    risk_actions.review_effectiveness(done, {"effectiveness": "effective", "reviewed_on": now.date(),
                                             "review_note": "Stored note"}, actor=owner, now=now)
    db.session.commit()
    client = login(owner)
    long_note = "Buffer stock of three weeks built " + "x" * 4000
    refused = client.post(f"/management/risk-actions/{action.id}/close",
                          data={"outcome": "withdrawn", "note": long_note})
    assert refused.status_code == 422
    assert "4000" in refused.text and long_note in refused.text
    assert '<option value="withdrawn" selected>' in refused.text
    future = (now.date() + dt.timedelta(days=3)).isoformat()
    refused = client.post(f"/management/risk-actions/{done.id}/effectiveness", data={
        "effectiveness": "not_effective", "reviewed_on": future, "review_note": "Typed review note"})
    assert refused.status_code == 422 and "A review cannot take place after today." in refused.text
    assert f'value="{future}"' in refused.text and "Typed review note" in refused.text
    assert "Stored note" not in refused.text.split("Effectiveness: Dual sourcing")[1].split("</form>")[0]
    assert '<option value="not_effective" selected>' in refused.text
    db.session.expire_all()
    assert db.session.get(RiskAction, action.id).status is RiskActionStatus.OPEN
    assert db.session.get(RiskAction, done.id).review_note == "Stored note"
