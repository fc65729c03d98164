"""Journey 6: hold the management review and see its outputs come back closed at the next one."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from audit.extensions import db
from audit.management.reviews import send_review_reminders
from audit.models import (
    ManagementReview,
    Notification,
    Programme,
    ProgrammeStatus,
    ReviewAction,
    ReviewStatus,
    Role,
    utcnow,
)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_review_journey_outputs_reach_owners_and_the_next_pack(app, make, login):
    """Top management approves the programme a coordinator prepared; the coordinator plans a
    review; top management holds it and records two outputs; each owner finds theirs in
    "waiting for me", on the home page and in notifications, and closes it; the next review's
    pack shows one done and one still open in item (a)."""
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    boss = make.user(roles=(Role.VIEWER,), name="Bea Boss")
    owner = make.user(roles=(Role.AUDITEE,), name="Olga Owner")
    engineer = make.user(roles=(Role.AUDITOR,), name="Erik Engineer")
    today = utcnow().date()
    client = login(coordinator)
    assert client.post("/programme/new", data={
        "name": f"Internal audits {today.year}", "period_start": today.replace(month=1, day=1),
        "period_end": today.replace(month=12, day=31), "manager_id": coordinator.id,
        "objectives": "Cover every process once a year", "scope": "", "risks": "",
        "audit_client": "Bea Boss"}).status_code == 302
    programme = db.session.scalar(select(Programme))
    assert login(boss).post(f"/programme/{programme.id}/approve").status_code == 302
    db.session.expire_all()
    assert db.session.get(Programme, programme.id).status is ProgrammeStatus.APPROVED
    client = login(coordinator)
    response = client.post("/management/reviews/new", data={
        "title": "Management review this year", "period_start": today - dt.timedelta(days=365),
        "period_end": today - dt.timedelta(days=10), "planned_on": today - dt.timedelta(days=2),
        "chair_id": boss.id, "attendees": "Bea Boss"})
    assert response.status_code == 302, _text(response.text)[:500]
    review = db.session.scalar(select(ManagementReview))

    client = login(boss)
    page = client.get(f"/management/reviews/{review.id}")
    assert page.status_code == 200 and "9.3.2 f)" in page.text
    assert client.post(f"/management/reviews/{review.id}/outputs", data={
        "kind": "improvement", "decision": "Too early", "owner_id": owner.id,
        "due_on": today}).status_code == 400  # outputs come after the meeting
    assert client.post(f"/management/reviews/{review.id}/hold", data={
        "held_on": today - dt.timedelta(days=1), "attendees": "Bea Boss, Cora Coordinator",
        "minutes": "Objectives reviewed."}).status_code == 302
    for decision, person in (("Cut scrap in machining by half", owner), ("Buy a second CMM", engineer)):
        response = client.post(f"/management/reviews/{review.id}/outputs", data={
            "kind": "improvement" if person is owner else "resources", "decision": decision,
            "owner_id": person.id, "due_on": today + dt.timedelta(days=30)})
        assert response.status_code == 302, _text(response.text)[:800]
    db.session.expire_all()
    assert db.session.get(ManagementReview, review.id).status is ReviewStatus.HELD
    assert client.post(f"/management/reviews/{review.id}/sign-off").status_code == 302

    client = login(owner)
    waiting = client.get("/findings/waiting").text
    assert 'data-source="management"' in waiting
    waiting = _text(waiting)
    assert "Management review action to complete" in waiting and "Cut scrap in machining by half" in waiting
    assert "Buy a second CMM" not in waiting
    home = _text(client.get("/").text)
    assert "My management review actions" in home and "Cut scrap in machining by half" in home
    assert "Buy a second CMM" not in home
    notes = _text(client.get("/notifications/").text)
    assert "an action for you" in notes
    action = db.session.scalar(select(ReviewAction).where(ReviewAction.owner_id == owner.id))
    other = db.session.scalar(select(ReviewAction).where(ReviewAction.owner_id == engineer.id))
    assert client.post(f"/management/reviews/actions/{other.id}/done", data={"note": "Not mine"}).status_code == 403
    assert client.post(f"/management/reviews/actions/{action.id}/done", data={"note": ""}).status_code == 400
    assert client.post(f"/management/reviews/actions/{action.id}/done",
                       data={"note": "Scrap project closed, rate 1.2 %"}).status_code == 302
    assert "Cut scrap" not in _text(client.get("/").text)
    assert "Cut scrap" not in _text(client.get("/findings/waiting").text)
    assert "Buy a second CMM" in _text(login(engineer).get("/findings/waiting").text)

    assert db.session.scalar(select(Notification.id).where(Notification.user_id == engineer.id,
                                                           Notification.kind == "review_action_assigned"))
    nxt = db.session.scalar(select(ManagementReview).where(ManagementReview.id != review.id))
    assert nxt is not None and nxt.status is ReviewStatus.PLANNED and nxt.chair_id == boss.id
    client = login(boss)
    pack = _text(client.get(f"/management/reviews/{nxt.id}").text)
    item_a = pack[pack.index("9.3.2 a)"):pack.index("9.3.2 b)")]
    assert re.search(r"Cut scrap in machining by half Olga Owner \S+ done Scrap project closed", item_a)
    assert re.search(r"Buy a second CMM Erik Engineer \S+ open", item_a)


def test_reminders_reach_chair_and_owners_once(app, make, now):
    """The reminder sweep tells the chair before the meeting and owners before the due date, once."""
    from audit.management import reviews

    coordinator = make.user(roles=(Role.COORDINATOR,))
    boss = make.user(roles=(Role.VIEWER,))
    review = reviews.plan_review({"title": "MR", "period_start": now.date() - dt.timedelta(days=400),
                                  "period_end": now.date() - dt.timedelta(days=40),
                                  "planned_on": now.date() + dt.timedelta(days=10), "chair_id": boss.id},
                                 actor=coordinator, now=now)
    past = reviews.plan_review({"title": "MR old", "period_start": now.date() - dt.timedelta(days=800),
                                "period_end": now.date() - dt.timedelta(days=420),
                                "planned_on": now.date() - dt.timedelta(days=410), "chair_id": boss.id},
                               actor=coordinator, now=now)
    reviews.hold_review(past, {"held_on": now.date() - dt.timedelta(days=410), "attendees": "Boss"},
                        actor=boss, now=now)
    reviews.add_output(past, {"kind": "improvement", "decision": "Do it", "owner_id": coordinator.id,
                              "due_on": now.date() + dt.timedelta(days=3)}, actor=boss, now=now)
    made = send_review_reminders(now=now)
    assert made == 3  # chair and coordinator for the review, the coordinator's due action
    assert send_review_reminders(now=now) == 0
    kinds = set(db.session.scalars(select(Notification.kind)))
    assert {"review_upcoming", "review_action_due"} <= kinds
    assert review.id
