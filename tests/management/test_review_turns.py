"""Every step of a management review is somebody's turn: a meeting whose day has come waits for
its chair and the coordinators (and is chased once it passed unrecorded), held minutes wait for
the chair's sign-off; and a pack read before its period ends never calls an objective missed
before its due date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.registry import registry
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.management import objectives, reviews
from audit.management.pack import build_review_pack
from audit.models import Notification, Role
from tests.journey import at

MEETING = dt.date(2027, 12, 2)


def _notes(user, kind: str) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                              Notification.kind == kind)))


def _steps(app, user, day: dt.date) -> dict[str, object]:
    """The user's management review items on ``day``, by step."""
    with app.test_request_context():
        return {i.step: i for i in waiting_for(user, at(day))
                if i.step in ("hold_review", "sign_off_review")}


@pytest.fixture
def people(app, make):
    made = {"coordinator": make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator"),
            "chair": make.user(roles=(Role.VIEWER,), name="Bea Boss"),
            "invited": make.user(roles=(Role.AUDITOR,), name="Ivo Invited"),
            "admin": make.user(roles=(Role.ADMIN,), name="Ada Admin")}
    db.session.commit()
    return made


def _plan(p, **more):
    return reviews.plan_review({"title": "Management review 2027", "period_start": dt.date(2026, 12, 1),
                                "period_end": dt.date(2027, 11, 30), "planned_on": MEETING,
                                "chair_id": p["chair"].id, "invitee_ids": [p["invited"].id], **more},
                               actor=p["coordinator"], now=at(dt.date(2027, 1, 5)))


def test_held_review_waits_for_the_chairs_sign_off_and_the_chair_is_told_once(app, people):
    """A coordinator records the meeting: the chair is asked to sign off (one notification) and
    has "Minutes to sign off" until they do; nobody else is chased for it."""
    p = people
    review = _plan(p)
    reviews.hold_review(review, {"held_on": MEETING, "attendees": "Bea Boss"}, actor=p["coordinator"],
                        now=at(MEETING, 15))
    db.session.commit()
    note, = _notes(p["chair"], "review_sign_off")
    assert note.link == f"/management/reviews/{review.id}" and "What is expected of you" in note.body
    assert "review_sign_off" in registry(app).notification_kinds
    item = _steps(app, p["chair"], MEETING + dt.timedelta(days=3))["sign_off_review"]
    assert (item.label, item.key, item.url) == ("Minutes to sign off", review.title,
                                                f"/management/reviews/{review.id}")
    assert item.due_on is None and not item.overdue  # no deadline exists for the sign-off
    for other in ("coordinator", "invited", "admin"):
        assert "sign_off_review" not in _steps(app, p[other], MEETING), other
    reviews.sign_off(review, actor=p["chair"], now=at(MEETING + dt.timedelta(days=4)))
    db.session.commit()
    assert _steps(app, p["chair"], MEETING + dt.timedelta(days=4)) == {}
    assert len(_notes(p["chair"], "review_sign_off")) == 1


def test_chair_who_records_the_meeting_finds_the_sign_off_in_their_list(app, people):
    """Who acted is not told about their own step (``review_notices``): the item is enough."""
    p = people
    review = _plan(p)
    reviews.hold_review(review, {"held_on": MEETING, "attendees": "Bea Boss"}, actor=p["chair"],
                        now=at(MEETING, 15))
    db.session.commit()
    assert _notes(p["chair"], "review_sign_off") == []
    assert "sign_off_review" in _steps(app, p["chair"], MEETING)


def test_sign_off_of_a_departed_chair_waits_for_an_administrator(app, people):
    p = people
    review = _plan(p)
    reviews.hold_review(review, {"held_on": MEETING, "attendees": "Bea Boss"}, actor=p["coordinator"],
                        now=at(MEETING, 15))
    p["chair"].is_active = False
    db.session.commit()
    assert "sign_off_review" in _steps(app, p["admin"], MEETING)
    assert "sign_off_review" not in _steps(app, p["coordinator"], MEETING)


def test_meeting_day_passed_unrecorded_is_the_chairs_and_coordinators_turn(app, people):
    """Due on the meeting day, overdue the day after, for the chair and the coordinators (who
    record meetings), not the invitees; recording the meeting settles it."""
    p = people
    review = _plan(p)
    db.session.commit()
    assert _steps(app, p["chair"], MEETING - dt.timedelta(days=1)) == {}
    on_the_day = _steps(app, p["chair"], MEETING)["hold_review"]
    assert (on_the_day.due_on, on_the_day.overdue) == (MEETING, False)
    later = MEETING + dt.timedelta(days=18)
    for who in ("chair", "coordinator"):
        item = _steps(app, p[who], later)["hold_review"]
        assert (item.label, item.key, item.due_on, item.overdue) == ("Meeting to record", review.title,
                                                                     MEETING, True), who
    assert _steps(app, p["invited"], later) == {}
    reviews.hold_review(review, {"held_on": MEETING, "attendees": "Bea Boss"}, actor=p["coordinator"],
                        now=at(later))
    db.session.commit()
    assert "hold_review" not in _steps(app, p["coordinator"], later)


def test_reminder_sweep_chases_a_meeting_day_that_passed_unrecorded_once(app, people):
    """After the day-before reminder the sweep no longer goes silent: the day after the meeting
    the chair and the coordinators get one overdue notice each; later runs send no more."""
    p = people
    _plan(p)
    db.session.commit()
    reviews.send_review_reminders(now=at(MEETING - dt.timedelta(days=1)))
    assert _notes(p["chair"], "review_overdue") == []
    assert reviews.send_review_reminders(now=at(MEETING)) == 0  # meeting day: still on time
    assert reviews.send_review_reminders(now=at(MEETING + dt.timedelta(days=1))) == 2
    db.session.commit()
    assert reviews.send_review_reminders(now=at(MEETING + dt.timedelta(days=18))) == 0
    for who in ("chair", "coordinator"):
        note, = _notes(p[who], "review_overdue")
        assert "02 Dec 2027" in note.title and "What is expected of you" in note.body, who
    assert _notes(p["invited"], "review_overdue") == [] and _notes(p["admin"], "review_overdue") == []
    assert "review_overdue" in registry(app).notification_kinds


def _objective(p):
    """Due 30 Jun 2027, within the period 1 Sep 2026 - 31 Aug 2027, below target in November."""
    objective = objectives.create_objective({
        "title": "First-pass yield", "measure": "Assembly FPY", "target": "98", "target_unit": "%",
        "direction": "higher", "frequency": "monthly", "owner_id": p["coordinator"].id,
        "starts_on": dt.date(2026, 9, 1), "due_on": dt.date(2027, 6, 30)},
        actor=p["coordinator"], now=at(dt.date(2026, 9, 1)))
    objectives.record_measurement(objective, {"measured_on": dt.date(2026, 11, 30), "value": "97.2"},
                                  actor=p["coordinator"], now=at(dt.date(2026, 12, 1)))
    db.session.commit()
    return objective


def _status(today: dt.date) -> str:
    pack = build_review_pack(dt.date(2026, 9, 1), dt.date(2027, 8, 31), today=today)
    row, = pack.section("c2").tables[0].rows
    return row[-1]


def test_pack_read_before_the_due_date_says_at_risk_like_the_objectives_page(app, people):
    objective = _objective(people)
    reading_day = dt.date(2026, 12, 2)
    assert _status(reading_day) == objectives.status_as_of(objective, reading_day)[0] == objectives.AT_RISK


def test_pack_read_after_the_period_end_stays_frozen_at_it(app, people):
    """Read after the period end, the status is the one at its end (due date passed: missed),
    whatever is entered after it."""
    objective = _objective(people)
    objectives.record_measurement(objective, {"measured_on": dt.date(2027, 6, 30), "value": "99"},
                                  actor=people["coordinator"], now=at(dt.date(2027, 9, 15)))
    db.session.commit()
    assert _status(dt.date(2027, 12, 2)) == objectives.MISSED
