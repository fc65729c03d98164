"""Nothing of top management's waits for nobody: a done risk action waits for its effectiveness
review, an action or output whose owner left waits for a coordinator to name another, and days
are counted where the risk lives."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.core.todo import waiting_for
from audit.extensions import db
from audit.management import registers, reviews, risk_actions
from audit.models import (
    Effectiveness,
    ManagementReview,
    Notification,
    ReviewAction,
    RiskAction,
    RiskActionStatus,
    Role,
    TrailEntry,
    User,
    utcnow,
)

#: Terminal states: nothing is expected of anyone any more.
TERMINAL = {("withdrawn", "not_reviewed"), ("done", "effective"), ("done", "not_effective")}


def _world(make, now):
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    owner = make.user(roles=(Role.AUDITEE,), name="Rita Riskowner")
    doer = make.user(roles=(Role.AUDITEE,), name="Dora Doer")
    leaver = make.user(roles=(Role.AUDITEE,), name="Lea Leaver")
    chair = make.user(roles=(Role.VIEWER,), name="Bea Boss")
    risk = registers.create_risk({"title": "Single supplier for castings", "kind": "risk", "likelihood": 3,
                                  "impact": 4, "owner_id": owner.id, "identified_on": now.date()},
                                 actor=coordinator, now=now)
    orphan = registers.create_risk({"title": "Key person leaves", "kind": "risk", "likelihood": 2,
                                    "impact": 4, "owner_id": leaver.id, "identified_on": now.date()},
                                   actor=coordinator, now=now)
    due = now.date() + dt.timedelta(days=10)

    def act(on, who, description):
        return risk_actions.add_action(on, {"description": description, "owner_id": who.id, "due_on": due},
                                       actor=coordinator, now=now)

    actions = {"open": act(risk, doer, "Qualify a second foundry"),
               "open_stranded": act(risk, leaver, "Audit the foundry"),
               "done": act(risk, doer, "Stock buffer"),
               "done_orphan_risk": act(orphan, doer, "Write the handbook"),
               "withdrawn": act(risk, doer, "Buy the foundry"),
               "effective": act(risk, doer, "Second shift")}
    for key in ("done", "done_orphan_risk", "effective"):
        risk_actions.close_action(actions[key], "done", "Done it", actor=doer, now=now)
    risk_actions.close_action(actions["withdrawn"], "withdrawn", "Too dear", actor=doer, now=now)
    risk_actions.review_effectiveness(actions["effective"], {"effectiveness": "effective",
                                                             "reviewed_on": now.date()}, actor=owner, now=now)
    review = reviews.plan_review({"title": "MR", "period_start": now.date() - dt.timedelta(days=300),
                                  "period_end": now.date() - dt.timedelta(days=2), "planned_on": now.date(),
                                  "chair_id": chair.id}, actor=coordinator, now=now)
    reviews.hold_review(review, {"held_on": now.date(), "attendees": "Bea Boss"}, actor=coordinator, now=now)
    outputs = {key: reviews.add_output(review, {"kind": "improvement", "decision": key, "owner_id": who.id,
                                                "due_on": due}, actor=coordinator, now=now)
               for key, who in (("output_open", doer), ("output_stranded", leaver), ("output_done", doer))}
    reviews.complete_output(outputs["output_done"], "Done", actor=doer, now=now)
    leaver.is_active = False
    db.session.commit()
    return {"coordinator": coordinator, "owner": owner, "doer": doer, "leaver": leaver, "chair": chair,
            "risk": risk, "orphan": orphan, "review": review, **actions, **outputs}


def _lists(app, now):
    users = db.session.scalars(select(User).where(User.is_active.is_(True))).all()
    with app.test_request_context():
        return {u.id: waiting_for(u, now) for u in users}


def _holders(lists, step, title):
    return {uid for uid, items in lists.items() for i in items if i.step == step and title in i.title}


def test_every_open_state_of_risk_actions_and_review_outputs_waits_for_someone(app, make):
    """Each non-terminal risk action and review output is in at least one active person's list;
    terminal ones are in nobody's."""
    now = utcnow()
    w = _world(make, now)
    lists = _lists(app, now)
    texts = {uid: " ".join(f"{i.title} {i.key}" for i in items) for uid, items in lists.items()}
    states = set()
    for action in db.session.scalars(select(RiskAction)):
        state = (action.status.value, action.effectiveness.value)
        waiting = [uid for uid, text in texts.items() if action.description[:60] in text]
        if state in TERMINAL:
            assert not waiting, (action.description, state)
        else:
            states.add((state, action.owner.is_active, action.risk.owner.is_active))
            assert waiting, (action.description, state)
    assert len(states) == 4  # open, open with a departed owner, done, done on an orphaned risk
    for output in db.session.scalars(select(ReviewAction)):
        waiting = [uid for uid, items in lists.items() if any(output.decision in i.title for i in items)]
        assert bool(waiting) == (output.completed_at is None), output.decision
    coordinator = w["coordinator"].id
    assert _holders(lists, "assign_risk_action", "Audit the foundry") == {coordinator}
    assert _holders(lists, "assign_review_action", "output_stranded") == {coordinator}
    assert _holders(lists, "review_risk_action", "Stock buffer") == {w["owner"].id}
    assert _holders(lists, "review_risk_action", "Write the handbook") == {coordinator}
    named = [i for i in lists[coordinator] if i.step == "assign_risk_action"]
    assert [i.label for i in named] == ["Name an owner"] and "Lea Leaver can no longer log in" in named[0].title


def test_done_action_tells_the_risk_owner_and_waits_for_the_review(app, make, login):
    """Done: the risk's owner is told and has "Review effectiveness" due the completion date
    plus the configured days; once reviewed, it leaves the list."""
    now = utcnow()
    w = _world(make, now)
    note = db.session.scalar(select(Notification).where(Notification.user_id == w["owner"].id,
                                                        Notification.kind == "risk_action_done"))
    assert note is not None and "Stock buffer" in note.body
    assert "risk_action_done" in __import__("audit.core.registry", fromlist=["registry"]).registry(app) \
        .notification_kinds
    with app.test_request_context():
        item, = [i for i in waiting_for(w["owner"], now) if i.step == "review_risk_action"]
    assert item.label == "Review effectiveness" and item.due_on == now.date() + dt.timedelta(days=30)
    app.config["RISK_EFFECTIVENESS_REVIEW_DAYS"] = 14
    try:
        with app.test_request_context():
            item, = [i for i in waiting_for(w["owner"], now) if i.step == "review_risk_action"]
        assert item.due_on == now.date() + dt.timedelta(days=14)
    finally:
        app.config.pop("RISK_EFFECTIVENESS_REVIEW_DAYS")
    page = login(w["owner"]).get("/findings/waiting").text
    assert "Review effectiveness" in page and "Stock buffer" in page
    risk_actions.review_effectiveness(w["done"], {"effectiveness": "not_effective", "reviewed_on": now.date()},
                                      actor=w["owner"], now=now)
    db.session.commit()
    with app.test_request_context():
        assert not [i for i in waiting_for(w["owner"], now) if i.step == "review_risk_action"]


def test_stranded_action_is_handed_over_through_the_page(app, make, login):
    """A coordinator hands the departed owner's action to someone active: trailed, the new owner
    told; a refused choice comes back 422 with a message; strangers get 403; the risk owner
    may hand over too, and the previous owner is told."""
    now = utcnow()
    w = _world(make, now)
    action = w["open_stranded"]
    url = f"/management/risk-actions/{action.id}/owner"
    assert login(w["doer"]).post(url, data={"owner_id": w["owner"].id}).status_code == 403
    client = login(w["coordinator"])
    page = client.get(f"/management/risks/{w['risk'].id}").text
    assert "Lea Leaver can no longer log in" in page and "Hand over" in page
    refused = client.post(url, data={"owner_id": w["leaver"].id})
    assert refused.status_code == 422
    assert client.post(url, data={"owner_id": w["doer"].id}).status_code == 302
    db.session.expire_all()
    action = db.session.get(RiskAction, action.id)
    assert action.owner_id == w["doer"].id
    assert db.session.scalar(select(TrailEntry.id).where(TrailEntry.object_type == "RiskAction",
                                                         TrailEntry.object_id == action.id,
                                                         TrailEntry.action == "reassign"))
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == w["doer"].id, Notification.kind == "risk_action_assigned",
        Notification.body.contains("handed this action to you")))
    with app.test_request_context():
        assert not [i for i in waiting_for(w["coordinator"], now) if i.step == "assign_risk_action"]
    # The risk owner hands the (active) doer's action to the coordinator: both are told.
    assert login(w["owner"]).post(f"/management/risk-actions/{w['open'].id}/owner",
                                  data={"owner_id": w["coordinator"].id}).status_code == 302
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == w["doer"].id, Notification.kind == "risk_action_reassigned"))
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == w["coordinator"].id, Notification.kind == "risk_action_assigned"))


def test_stranded_review_output_is_handed_over(app, make, login):
    """The departed owner's review output is handed over from the review page by a coordinator."""
    now = utcnow()
    w = _world(make, now)
    output = w["output_stranded"]
    client = login(w["coordinator"])
    page = client.get(f"/management/reviews/{w['review'].id}").text
    assert "Lea Leaver can no longer log in" in page
    assert login(w["doer"]).post(f"/management/reviews/actions/{output.id}/owner",
                                 data={"owner_id": w["doer"].id}).status_code == 403
    client = login(w["coordinator"])
    assert client.post(f"/management/reviews/actions/{output.id}/owner",
                       data={"owner_id": 0}).status_code == 422
    assert client.post(f"/management/reviews/actions/{output.id}/owner",
                       data={"owner_id": w["doer"].id}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ReviewAction, output.id).owner_id == w["doer"].id
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == w["doer"].id, Notification.body.contains("handed this action to you")))


def test_days_are_the_risk_sites_not_utc(app, make):
    """At 20:00 UTC it is already tomorrow in Auckland: a review dated the site's today is
    accepted, and an action due the UTC day is overdue there."""
    now = dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)
    coordinator = make.user(roles=(Role.COORDINATOR,))
    owner = make.user(roles=(Role.AUDITEE,))
    unit = make.unit(site=make.site(timezone="Pacific/Auckland"))
    risk = registers.create_risk({"title": "Earthquake", "kind": "risk", "likelihood": 2, "impact": 5,
                                  "owner_id": owner.id, "unit_id": unit.id, "identified_on": now.date()},
                                 actor=coordinator, now=now - dt.timedelta(days=20))
    early = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    action = risk_actions.add_action(risk, {"description": "Brace the racks", "owner_id": owner.id,
                                            "due_on": dt.date(2026, 3, 10)}, actor=coordinator, now=early)
    late = risk_actions.add_action(risk, {"description": "Anchor the shelves", "owner_id": owner.id,
                                          "due_on": dt.date(2026, 3, 10)}, actor=coordinator, now=early)
    db.session.commit()
    with app.test_request_context():
        item, = [i for i in waiting_for(owner, now) if "Anchor" in i.title]
    assert item.overdue
    risk_actions.close_action(action, "done", "Braced", actor=owner, now=now)
    risk_actions.review_effectiveness(action, {"effectiveness": "effective", "reviewed_on": dt.date(2026, 3, 11)},
                                      actor=owner, now=now)
    assert action.effectiveness is Effectiveness.EFFECTIVE
    assert late.status is RiskActionStatus.OPEN


def test_cancelled_review_asks_coordinators_to_plan_the_next(app, make):
    """With the only planned review cancelled, coordinators see "Plan the next management
    review" and are told; planning one clears it."""
    now = utcnow()
    coordinator = make.user(roles=(Role.COORDINATOR,))
    other = make.user(roles=(Role.COORDINATOR,))
    review = reviews.plan_review({"title": "MR 2026", "period_start": now.date() - dt.timedelta(days=300),
                                  "period_end": now.date() - dt.timedelta(days=1),
                                  "planned_on": now.date() + dt.timedelta(days=5), "chair_id": coordinator.id},
                                 actor=coordinator, now=now)
    reviews.cancel_review(review, "Board away", actor=coordinator, now=now)
    db.session.commit()
    with app.test_request_context():
        for person in (coordinator, other):
            assert [i.label for i in waiting_for(person, now) if i.step == "plan_review"] == [
                "Plan the next management review"]
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == other.id,
                                                           Notification.kind == "review_replan"))
    reviews.plan_review({"title": "MR 2026 again", "period_start": review.period_start,
                         "period_end": review.period_end, "planned_on": now.date() + dt.timedelta(days=20),
                         "chair_id": coordinator.id}, actor=coordinator, now=now)
    db.session.commit()
    with app.test_request_context():
        assert not [i for i in waiting_for(other, now) if i.step == "plan_review"]
    assert db.session.scalar(select(ManagementReview.id).where(ManagementReview.title == "MR 2026 again"))
