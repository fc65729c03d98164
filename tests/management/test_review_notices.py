"""The chair and the invitees of a management review hear about it: invited, moved, cancelled,
reminded; and only people who may open the review page can be invited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.core.registry import registry
from audit.extensions import db
from audit.management import reviews
from audit.models import ManagementReview, Notification, Role, utcnow


def _kinds(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


@pytest.fixture
def people(app, make):
    made = {"coordinator": make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator"),
            "chair": make.user(roles=(Role.VIEWER,), name="Bea Boss"),
            "invited": make.user(roles=(Role.AUDITOR,), name="Ivo Invited"),
            "late": make.user(roles=(Role.VIEWER,), name="Lou Late"),
            "auditee": make.user(roles=(Role.AUDITEE,), name="Aldo Auditee")}
    db.session.commit()
    return made


def _data(p, now, **more):
    return {"title": "Management review 2026", "period_start": now.date() - dt.timedelta(days=300),
            "period_end": now.date() - dt.timedelta(days=1), "planned_on": now.date() + dt.timedelta(days=10),
            "chair_id": p["chair"].id, "invitee_ids": [p["invited"].id], **more}


def test_chair_and_invitees_are_told_when_planned_moved_and_cancelled(app, people):
    p = people
    now = utcnow()
    review = reviews.plan_review(_data(p, now), actor=p["coordinator"], now=now)
    db.session.commit()
    assert _kinds(p["chair"]) == ["review_invited"] and _kinds(p["invited"]) == ["review_invited"]
    assert _kinds(p["coordinator"]) == []  # who acted is not told about their own step
    assert {"review_invited", "review_moved", "review_cancelled", "review_replan"} <= set(
        registry(app).notification_kinds)
    reviews.update_review(review, _data(p, now, planned_on=now.date() + dt.timedelta(days=12),
                                        invitee_ids=[p["invited"].id, p["late"].id]),
                          actor=p["coordinator"], now=now)
    db.session.commit()
    assert _kinds(p["chair"]) == ["review_invited", "review_moved"]
    assert _kinds(p["invited"]) == ["review_invited", "review_moved"]
    assert _kinds(p["late"]) == ["review_invited"]  # newly invited: an invitation, not a move
    reviews.cancel_review(review, "Board away", actor=p["coordinator"], now=now)
    db.session.commit()
    for who in ("chair", "invited", "late"):
        assert _kinds(p[who])[-1] == "review_cancelled", who
    body = db.session.scalar(select(Notification.body).where(Notification.kind == "review_cancelled"))
    assert body == "Board away"


def test_invitees_are_reminded_before_the_meeting(app, people):
    p = people
    now = utcnow()
    reviews.plan_review(_data(p, now, planned_on=now.date() + dt.timedelta(days=1)), actor=p["coordinator"], now=now)
    db.session.commit()
    reviews.send_review_reminders(now=now)
    db.session.commit()
    assert "review_upcoming" in _kinds(p["invited"]) and "review_upcoming" in _kinds(p["chair"])


def test_only_people_who_may_read_the_review_can_be_invited(app, people, login):
    """The service refuses an invitee who cannot open the review page, with a clear message;
    the form does not offer them; the page answers 422 and stores nothing."""
    p = people
    now = utcnow()
    with pytest.raises(DomainError) as refused:
        reviews.plan_review(_data(p, now, invitee_ids=[p["auditee"].id]), actor=p["coordinator"], now=now)
    assert "Aldo Auditee cannot open management reviews" in str(refused.value)
    assert refused.value.field == "invitee_ids"
    db.session.rollback()
    client = login(p["coordinator"])
    form = client.get("/management/reviews/new").text
    assert "Ivo Invited" in form and "Aldo Auditee" not in form.split("invitee_ids")[-1]
    response = client.post("/management/reviews/new", data={
        "title": "MR", "period_start": (now.date() - dt.timedelta(days=300)).isoformat(),
        "period_end": (now.date() - dt.timedelta(days=1)).isoformat(),
        "planned_on": (now.date() + dt.timedelta(days=10)).isoformat(), "chair_id": p["chair"].id,
        "invitee_ids": [p["auditee"].id]})
    assert response.status_code == 422
    assert db.session.scalar(select(ManagementReview.id)) is None


def test_only_people_who_may_read_the_review_can_chair_it(app, people, login):
    """The chair's steps (record the meeting, sign the minutes off) link to the review page: a
    chair who cannot open it is refused by the service and not offered by the form."""
    p = people
    now = utcnow()
    with pytest.raises(DomainError) as refused:
        reviews.plan_review(_data(p, now, chair_id=p["auditee"].id), actor=p["coordinator"], now=now)
    assert "Aldo Auditee cannot open management reviews" in str(refused.value)
    assert "choose a chair who can" in str(refused.value)
    assert refused.value.field == "chair_id"
    db.session.rollback()
    form = login(p["coordinator"]).get("/management/reviews/new").text
    chair_select = form.split('name="chair_id"')[1].split("</select>")[0]
    assert "Bea Boss" in chair_select and "Aldo Auditee" not in chair_select
