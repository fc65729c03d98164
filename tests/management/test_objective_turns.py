"""A quality objective at risk or missed is its owner's turn: the owner is told once when a
measurement puts it at risk (again only after it recovered), once when its due date passes
unmet (by the feature's registered sweep, without a new measurement), and it waits in their
"Waiting for me" list, with the objective's due date, until it is back on track or a held
management review has covered the missed objective's due date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.core.registry import registry
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.management import objectives, reviews
from audit.models import Notification, Role
from tests.journey import at, run_job

DUE = dt.date(2027, 6, 30)


def _notes(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                              Notification.kind.like("objective_%"))
                                   .order_by(Notification.id)))


def _items(app, user, day: dt.date) -> dict[str, list]:
    """The user's objective items on ``day``, by step."""
    with app.test_request_context():
        found: dict[str, list] = {}
        for item in waiting_for(user, at(day)):
            if item.step.startswith("objective_"):
                found.setdefault(item.step, []).append(item)
        return found


def _objective(make, owner, coordinator, title="First-pass yield"):
    objective = objectives.create_objective({
        "title": title, "measure": "Assembly FPY", "target": "98", "target_unit": "%",
        "direction": "higher", "frequency": "monthly", "owner_id": owner.id,
        "starts_on": dt.date(2026, 9, 1), "due_on": DUE}, actor=coordinator, now=at(dt.date(2026, 9, 1)))
    db.session.commit()
    return objective


def _measure(objective, day: dt.date, value: str, actor) -> None:
    objectives.record_measurement(objective, {"measured_on": day, "value": value}, actor=actor,
                                  now=at(day + dt.timedelta(days=1)))
    db.session.commit()


def _people(make):
    return make.user(roles=(Role.AUDITEE,), name="Ana Owner"), make.user(roles=(Role.COORDINATOR,))


def test_a_miss_tells_the_owner_once_per_run_and_waits_with_the_due_date(app, make):
    owner, coordinator = _people(make)
    objective = _objective(make, owner, coordinator)
    _measure(objective, dt.date(2026, 9, 30), "98.5", coordinator)
    assert _notes(owner) == [] and _items(app, owner, dt.date(2026, 10, 1)) == {}

    _measure(objective, dt.date(2026, 10, 31), "97.1", coordinator)  # recorded by someone else
    note, = _notes(owner)
    assert (note.kind, note.title) == ("objective_at_risk", "Objective at risk: First-pass yield")
    assert "What happened: First-pass yield is at risk: latest 97.1 % on 31 Oct 2026, target ≥ 98 %." in note.body
    assert "What is expected of you: Act on the objective's plan" in note.body
    assert "By: 30 Jun 2027" in note.body and note.link == f"/management/objectives/{objective.id}"
    item, = _items(app, owner, dt.date(2026, 11, 1))["objective_at_risk"]
    assert (item.key, item.due_on, item.overdue) == ("First-pass yield", DUE, False)
    assert _items(app, coordinator, dt.date(2026, 11, 1)) == {}  # the owner's turn, nobody else's

    _measure(objective, dt.date(2026, 11, 30), "97.2", owner)  # still below: nothing new
    assert len(_notes(owner)) == 1
    _measure(objective, dt.date(2026, 12, 31), "98.4", owner)  # back on track: no longer waiting
    assert _items(app, owner, dt.date(2027, 1, 1)) == {}
    _measure(objective, dt.date(2027, 1, 31), "96", owner)  # a new run below target: told again
    assert [n.kind for n in _notes(owner)] == ["objective_at_risk", "objective_at_risk"]
    assert "latest 96 % on 31 Jan 2027" in _notes(owner)[-1].body


def test_the_due_date_passing_makes_it_missed_through_the_registered_sweep(app, make):
    owner, coordinator = _people(make)
    objective = _objective(make, owner, coordinator)
    _measure(objective, dt.date(2027, 5, 31), "97", owner)
    for _ in range(2):  # the second run sends nothing
        run_job(app, at(DUE + dt.timedelta(days=1)), job="management_review_reminders")
    assert [n.kind for n in _notes(owner)] == ["objective_at_risk", "objective_missed"]
    missed = _notes(owner)[-1]
    assert missed.title == "Objective missed: First-pass yield"
    assert "target ≥ 98 %, due 30 Jun 2027." in missed.body and "What is expected of you: Evaluate" in missed.body
    item, = _items(app, owner, DUE + dt.timedelta(days=1))["objective_missed"]
    assert (item.due_on, item.overdue) == (DUE, True)

    # Reported to a held management review whose period covers the due date: no longer waiting.
    chair = make.user(roles=(Role.VIEWER,))
    review = reviews.plan_review({"title": "MR 2027", "period_start": dt.date(2026, 9, 1),
                                  "period_end": dt.date(2027, 8, 31), "planned_on": dt.date(2027, 9, 20),
                                  "chair_id": chair.id}, actor=coordinator, now=at(dt.date(2027, 7, 1)))
    db.session.commit()
    assert "objective_missed" in _items(app, owner, dt.date(2027, 9, 21))  # planned only
    reviews.hold_review(review, {"held_on": dt.date(2027, 9, 20), "attendees": "Board"}, actor=coordinator,
                        now=at(dt.date(2027, 9, 20)))
    db.session.commit()
    assert _items(app, owner, dt.date(2027, 9, 21)) == {}
    run_job(app, at(dt.date(2027, 9, 21)), job="management_review_reminders")
    assert len(_notes(owner)) == 2


def test_an_objective_never_measured_is_missed_after_its_due_date(app, make):
    owner, coordinator = _people(make)
    _objective(make, owner, coordinator)
    assert objectives.send_objective_notices(now=at(DUE)) == 0  # due today: not yet missed
    assert objectives.send_objective_notices(now=at(DUE + dt.timedelta(days=1))) == 1
    assert "no measurement recorded" in _notes(owner)[0].body
    assert {"objective_at_risk", "objective_missed"} <= set(registry(app).notification_kinds)


def test_the_owners_objective_items_cost_the_same_queries_for_one_or_five(app, make, count_queries):
    owner, coordinator = _people(make)

    def add(n):
        for i in range(n):
            objective = _objective(make, owner, coordinator, title=f"Objective {i}")
            _measure(objective, dt.date(2026, 10, 31), "90", coordinator)

    def count() -> tuple[int, int]:
        with app.test_request_context(), count_queries() as q:
            items = [i for i in waiting_for(owner, at(dt.date(2026, 11, 2))) if i.source == "management"]
        return len(items), q.count

    add(1)
    one, few = count()
    add(4)
    five, many = count()
    assert (one, five) == (1, 5)
    assert many == few


def _coordinator_items(app, user, day: dt.date) -> list:
    with app.test_request_context():
        return [i for i in waiting_for(user, at(day)) if i.step == "assign_objective"]


def test_an_objective_whose_owner_left_waits_for_the_coordinators_until_handed_over(app, make, login):
    """With its owner unable to log in, an open objective is the coordinators' turn ("Name an
    owner"); turning at risk tells them (once) instead of nobody; handing it over on the edit
    page tells the new owner at once and ends the coordinators' turn. An inactive owner is refused."""
    owner, coordinator = _people(make)
    successor = make.user(roles=(Role.AUDITEE,), name="Ben Successor")
    objective = _objective(make, owner, coordinator)
    _measure(objective, dt.date(2026, 9, 30), "98.5", owner)
    assert _coordinator_items(app, coordinator, dt.date(2026, 10, 1)) == []
    owner.is_active = False
    db.session.commit()

    item, = _coordinator_items(app, coordinator, dt.date(2026, 10, 1))
    assert (item.label, item.key, item.due_on, item.overdue) == ("Name an owner", "First-pass yield", DUE, False)
    assert item.title.startswith("Ana Owner can no longer log in: on track")
    assert item.url == f"/management/objectives/{objective.id}/edit"

    _measure(objective, dt.date(2026, 10, 31), "97.1", coordinator)
    assert objectives.send_objective_notices(now=at(dt.date(2026, 11, 2))) == 0  # told once
    assert _notes(owner) == []
    note, = _notes(coordinator)
    assert (note.kind, note.title) == ("objective_unowned", "Objective at risk with no owner: First-pass yield")
    assert "Why you: Ana Owner can no longer log in, so nobody acts on it." in note.body
    assert "What is expected of you: Name an owner who can log in" in note.body
    client = login(coordinator)
    assert "Ana Owner (can no longer log in: name a new owner)" in client.get(
        f"/management/objectives/{objective.id}").text

    form = {"title": objective.title, "measure": objective.measure, "target": "98", "target_unit": "%",
            "direction": "higher", "frequency": "monthly", "unit_id": 0, "starts_on": "2026-09-01",
            "due_on": DUE.isoformat(), "owner_id": owner.id}
    refused = client.post(f"/management/objectives/{objective.id}/edit", data=form)
    assert refused.status_code in (400, 422) and objective.owner_id == owner.id
    handed = client.post(f"/management/objectives/{objective.id}/edit", data={**form, "owner_id": successor.id})
    assert handed.status_code == 302
    db.session.expire_all()
    told, = _notes(successor)
    assert (told.kind, told.title) == ("objective_at_risk", "Objective at risk: First-pass yield")
    assert _coordinator_items(app, coordinator, dt.date(2026, 11, 3)) == []
    assert "objective_at_risk" in _items(app, successor, dt.date(2026, 11, 3))

    with pytest.raises(DomainError, match="Ana Owner can no longer log in"):
        objectives.update_objective(objective, {**form, "starts_on": dt.date(2026, 9, 1), "due_on": DUE},
                                    actor=coordinator, now=at(dt.date(2026, 11, 3)))
