"""A management review walked from the meeting to its outputs' closure: the seams between steps.

Each test is a step a real chair, coordinator or action owner takes, with the clock moved
through the reminder sweep where the step depends on it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.management import reviews
from audit.models import ManagementReview, Notification, ReviewAction, ReviewStatus, Role, UserRole, utcnow
from tests.journey import at, notice_titles, run_job, waiting_items

MEETING = dt.date(2027, 12, 2)


@pytest.fixture
def people(app, make):
    made = {
        "coordinator": make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator", timezone="UTC"),
        "chair": make.user(roles=(Role.VIEWER,), name="Bea Boss"),
        "invited": make.user(roles=(Role.AUDITOR,), name="Ivo Invited"),
        "owner": make.user(roles=(Role.AUDITEE,), name="Otto Owner"),
        "successor": make.user(roles=(Role.AUDITEE,), name="Olga Successor"),
        "admin": make.user(roles=(Role.ADMIN,), name="Ada Admin"),
    }
    db.session.commit()
    return made


def _plan(p, *, start=dt.date(2026, 12, 1), end=dt.date(2027, 11, 30), planned=MEETING, title="MR 2027"):
    return reviews.plan_review(
        {
            "title": title,
            "period_start": start,
            "period_end": end,
            "planned_on": planned,
            "chair_id": p["chair"].id,
            "invitee_ids": [p["invited"].id],
        },
        actor=p["coordinator"],
        now=at(dt.date(2027, 1, 5)),
    )


def _held(p) -> ManagementReview:
    review = _plan(p)
    reviews.hold_review(
        review, {"held_on": MEETING, "attendees": "Board"}, actor=p["coordinator"], now=at(MEETING, 15)
    )
    return review


def _output(p, review, *, due: dt.date, owner="owner") -> ReviewAction:
    return reviews.add_output(
        review,
        {"kind": "improvement", "decision": "Train the night shift", "owner_id": p[owner].id, "due_on": due},
        actor=p["coordinator"],
        now=at(MEETING, 16),
    )


def _kinds(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def _planned() -> list[ManagementReview]:
    return list(
        db.session.scalars(select(ManagementReview).where(ManagementReview.status == ReviewStatus.PLANNED))
    )


def test_a_departed_chair_does_not_stop_the_meeting_being_recorded(app, people):
    """The chair left before the meeting was recorded: recording it used to fail on the next
    review's chair ("Bea cannot open management reviews"); now the recorder chairs the next one."""
    p = people
    review = _plan(p)
    db.session.commit()
    p["chair"].is_active = False
    db.session.commit()
    reviews.hold_review(
        review, {"held_on": MEETING, "attendees": "Board"}, actor=p["coordinator"], now=at(MEETING, 15)
    )
    db.session.commit()
    assert review.status is ReviewStatus.HELD
    (following,) = _planned()
    assert following.chair_id == p["coordinator"].id
    assert [u.id for u in following.invitees] == [p["invited"].id]


def test_a_chair_who_lost_the_role_is_not_carried_over(app, people):
    p = people
    review = _plan(p)
    db.session.commit()
    p["chair"].role_links = [UserRole(role=Role.AUDITEE)]
    db.session.commit()
    reviews.hold_review(
        review, {"held_on": MEETING, "attendees": "Board"}, actor=p["coordinator"], now=at(MEETING, 15)
    )
    db.session.commit()
    assert _planned()[0].chair_id == p["coordinator"].id


def test_a_cancelled_later_review_does_not_count_as_the_next_one(app, people):
    """A later review that was called off leaves the next period unreviewed: holding this one
    plans the next (the page's "the next review is planned" must be true)."""
    p = people
    review = _plan(p)
    later = _plan(
        p,
        start=dt.date(2027, 12, 1),
        end=dt.date(2028, 11, 30),
        planned=dt.date(2028, 12, 2),
        title="MR 2028",
    )
    reviews.cancel_review(later, "Planned twice", actor=p["coordinator"], now=at(dt.date(2027, 2, 1)))
    reviews.hold_review(
        review, {"held_on": MEETING, "attendees": "Board"}, actor=p["coordinator"], now=at(MEETING, 15)
    )
    db.session.commit()
    (following,) = _planned()
    assert following.period_start == dt.date(2027, 12, 1) and following.id != later.id


def test_a_meeting_held_this_morning_east_of_utc_is_not_in_the_future(app, people, make):
    """A chair in Sydney records at 09:00 local the meeting held that morning: it is still the
    day before in UTC, and the recorder's own day decides."""
    p = people
    sydney = make.user(roles=(Role.COORDINATOR,), name="Syd Ney", timezone="Australia/Sydney")
    review = _plan(p)
    db.session.commit()
    morning = dt.datetime(2027, 12, 1, 22, 0, tzinfo=dt.UTC)  # 09:00 on 2 December in Sydney
    reviews.hold_review(review, {"held_on": MEETING, "attendees": "Board"}, actor=sydney, now=morning)
    assert review.held_on == MEETING
    with pytest.raises(Exception, match="future"):
        reviews.hold_review(
            _plan(p, title="MR again"),
            {"held_on": MEETING, "attendees": "Board"},
            actor=p["coordinator"],
            now=morning,
        )


def test_an_action_handed_over_is_reminded_to_its_new_owner(app, people):
    """The old owner was told it is overdue; after the hand-over the sweep tells the new owner
    too (the reminder's key named the action and stage, not the person)."""
    p = people
    due = MEETING + dt.timedelta(days=10)
    action = _output(p, _held(p), due=due)
    db.session.commit()
    run_job(app, at(due + dt.timedelta(days=1)), job="management_review_reminders")
    assert "review_action_due" in _kinds(p["owner"])
    reviews.reassign_output(
        db.session.get(ReviewAction, action.id),
        p["successor"].id,
        actor=p["coordinator"],
        now=at(due + dt.timedelta(days=2)),
    )
    db.session.commit()
    run_job(app, at(due + dt.timedelta(days=3)), job="management_review_reminders")
    assert notice_titles(p["successor"], kind="review_action_due") == [
        f"Review action overdue {due:%d %b %Y}"
    ]
    # The owner who gave it up is pointed at a page they can open (auditees cannot read reviews).
    (link,) = db.session.scalars(
        select(Notification.link).where(Notification.kind == "review_action_reassigned")
    )
    assert link == "/management/reviews/actions"


def test_an_output_done_is_told_to_the_chair_and_a_closed_one_to_its_owner(app, people):
    p = people
    review = _held(p)
    mine = _output(p, review, due=MEETING + dt.timedelta(days=30))
    theirs = _output(p, review, due=MEETING + dt.timedelta(days=30))
    db.session.commit()
    reviews.complete_output(
        mine, "Trained on 10 Dec", actor=p["owner"], now=at(MEETING + dt.timedelta(days=8))
    )
    reviews.complete_output(
        theirs, "Done by QA", actor=p["coordinator"], now=at(MEETING + dt.timedelta(days=9))
    )
    db.session.commit()
    assert _kinds(p["chair"]).count("review_action_done") == 2
    done_for_owner = db.session.scalars(
        select(Notification).where(
            Notification.user_id == p["owner"].id, Notification.kind == "review_action_done"
        )
    ).all()
    assert len(done_for_owner) == 1 and "Cora Coordinator" in done_for_owner[0].body  # not their own step
    assert done_for_owner[0].link == "/management/reviews/actions"
    assert "review_action_done" not in _kinds(p["coordinator"])


def test_signed_off_minutes_are_told_to_invitees_and_coordinators(app, people):
    p = people
    review = _held(p)
    db.session.commit()
    reviews.sign_off(review, actor=p["chair"], now=at(MEETING + dt.timedelta(days=3)))
    db.session.commit()
    assert notice_titles(p["invited"], kind="review_signed_off") == ["MR 2027: the minutes are signed off"]
    assert notice_titles(p["coordinator"], kind="review_signed_off") == [
        "MR 2027: the minutes are signed off"
    ]
    assert "review_signed_off" not in _kinds(p["chair"])  # who signed is not told


def test_an_overdue_action_is_flagged_where_its_owner_closes_it(app, people, login):
    """The home panel and the waiting list said "overdue"; the page where the owner closes the
    action and the review's outputs table now say it too (one rule: ``overdue_on``)."""
    p = people
    today = utcnow().date()  # the pages read the real clock
    review = _plan(
        p,
        start=today - dt.timedelta(days=400),
        end=today - dt.timedelta(days=40),
        planned=today - dt.timedelta(days=30),
    )
    reviews.hold_review(
        review,
        {"held_on": today - dt.timedelta(days=30), "attendees": "Board"},
        actor=p["coordinator"],
        now=utcnow(),
    )
    late = reviews.add_output(
        review,
        {
            "kind": "improvement",
            "decision": "Late one",
            "owner_id": p["owner"].id,
            "due_on": today - dt.timedelta(days=2),
        },
        actor=p["coordinator"],
        now=utcnow(),
    )
    reviews.add_output(
        review,
        {
            "kind": "improvement",
            "decision": "On time",
            "owner_id": p["owner"].id,
            "due_on": today + dt.timedelta(days=30),
        },
        actor=p["coordinator"],
        now=utcnow(),
    )
    db.session.commit()
    client = login(p["owner"])
    mine = client.get("/management/reviews/actions").get_data(as_text=True)
    assert mine.count('<span class="pill bad">overdue</span>') == 1
    assert mine.index("overdue") < mine.index(f'action="/management/reviews/actions/{late.id + 1}/done"')
    client = login(p["coordinator"])
    detail = client.get(f"/management/reviews/{review.id}").get_data(as_text=True)
    outputs = detail[detail.index('id="outputs"') :]
    assert outputs.count('<span class="pill bad">overdue</span>') == 1


def test_the_pack_lists_only_resource_needs_still_open_when_the_period_began(app, people):
    from audit.management.pack import build_review_pack

    p = people
    review = _held(p)
    old = reviews.add_output(
        review,
        {
            "kind": "resources",
            "decision": "Second calibration bench",
            "owner_id": p["owner"].id,
            "due_on": MEETING + dt.timedelta(days=20),
        },
        actor=p["coordinator"],
        now=at(MEETING, 16),
    )
    open_need = reviews.add_output(
        review,
        {
            "kind": "resources",
            "decision": "Two more auditors",
            "owner_id": p["owner"].id,
            "due_on": MEETING + dt.timedelta(days=400),
        },
        actor=p["coordinator"],
        now=at(MEETING, 16),
    )
    reviews.complete_output(old, "Bench bought", actor=p["owner"], now=at(MEETING + dt.timedelta(days=10)))
    db.session.commit()
    pack = build_review_pack(dt.date(2028, 1, 1), dt.date(2028, 12, 31), today=dt.date(2029, 1, 2))
    needs = next(s for s in pack.sections if s.code == "d").tables[0].rows
    assert [row[0] for row in needs] == [open_need.decision]


def test_an_output_is_overdue_by_its_owners_own_day(app, people, make):
    """Just after midnight in Tokyo the owner's output due yesterday is overdue -- in their list
    and in the sweep's reminder -- while it is still its due day in UTC; a UTC owner's output
    due the same day is not overdue yet."""
    from audit.management.panels import management_overview

    p = people
    tokyo = make.user(roles=(Role.AUDITEE,), name="Taro Tokyo", timezone="Asia/Tokyo")
    utc_owner = make.user(roles=(Role.AUDITEE,), name="Uma UTC", timezone="UTC")
    review = _held(p)
    due = MEETING + dt.timedelta(days=20)
    for owner in (tokyo, utc_owner):
        reviews.add_output(review, {"kind": "improvement", "decision": f"Action of {owner.name}",
                                    "owner_id": owner.id, "due_on": due},
                           actor=p["coordinator"], now=at(MEETING, 16))
    db.session.commit()
    moment = dt.datetime.combine(due, dt.time(15, 30), tzinfo=dt.UTC)  # 00:30 the next day in Tokyo
    overdue = {u.name: [i.overdue for i in waiting_items(app, u, moment, step="review_action")]
               for u in (tokyo, utc_owner)}
    assert overdue == {"Taro Tokyo": [True], "Uma UTC": [False]}
    run_job(app, moment, job="management_review_reminders")
    assert notice_titles(tokyo, kind="review_action_due")[-1] == f"Review action overdue {due:%d %b %Y}"
    assert notice_titles(utc_owner, kind="review_action_due")[-1] == f"Review action due {due:%d %b %Y}"
    with app.test_request_context():
        assert management_overview(moment)["overdue_actions"] == 1
