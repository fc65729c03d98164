"""Management review meetings in the personal calendar feeds: who sees them, that the three
reference parsers read them alike, and that the feed's 304 fingerprint moves with every change."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from audit.calendar import feeds, fingerprint, ical
from audit.extensions import db
from audit.management import reviews
from audit.models import FeedKind, Role
from tests.calendar.parsers import assert_wellformed, parse_everywhere

DAY = dt.date(2026, 3, 10)


def _feed(app, user, day=DAY) -> bytes:
    db.session.flush()
    data = ical.render_feed(feeds.build_feed(FeedKind.PERSONAL, None, user, day=day, links=feeds.Links(app)))
    assert_wellformed(data)
    return data


def _etag(app, user, day=DAY) -> str:
    db.session.flush()
    token = SimpleNamespace(user=user, kind=FeedKind.PERSONAL, target_id=None)
    return fingerprint.feed_etag(token, None, day=day, links=feeds.Links(app), org_name="Audits")


@pytest.fixture
def planned(app, make, now):
    coordinator = make.user(roles=(Role.COORDINATOR,))
    boss = make.user(roles=(Role.VIEWER,))
    invited = make.user(roles=(Role.AUDITEE,))
    stranger = make.user(roles=(Role.AUDITOR,))
    review = reviews.plan_review({
        "title": "Management review 2025", "period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31),
        "planned_on": dt.date(2026, 4, 20), "chair_id": boss.id, "invitee_ids": [invited.id]},
        actor=coordinator, now=now)
    return SimpleNamespace(coordinator=coordinator, boss=boss, invited=invited, stranger=stranger,
                           review=review, now=now, uid=f"review-{review.id}")


def _uids(events: dict) -> set[str]:
    return {uid.split("@")[0] for uid in events}


def test_planned_review_is_in_chair_invited_and_coordinator_feeds_only(app, planned):
    """All-day on the meeting day, tentative while planned, linked to the review page; the three
    parsers agree; someone not involved does not get it."""
    for person in (planned.boss, planned.invited, planned.coordinator):
        events = parse_everywhere(_feed(app, person))
        assert planned.uid in _uids(events)
    assert planned.uid not in _uids(parse_everywhere(_feed(app, planned.stranger)))
    data = _feed(app, planned.boss)
    (uid, (start, end, status, sequence)), = [(u, v) for u, v in parse_everywhere(data).items()
                                             if u.startswith(planned.uid + "@")]
    assert (start, end, status, sequence) == (dt.date(2026, 4, 20), dt.date(2026, 4, 21), "TENTATIVE", 0)
    assert f"/management/reviews/{planned.review.id}".encode() in data
    assert b"Management review 2025" in data


def test_moving_holding_and_cancelling_keep_the_uid_and_raise_the_sequence(app, planned):
    """The same UID throughout; SEQUENCE grows with each change; cancelled shows as CANCELLED."""
    review, boss, now = planned.review, planned.boss, planned.now
    data = {"title": review.title, "period_start": review.period_start, "period_end": review.period_end,
            "planned_on": dt.date(2026, 4, 27), "chair_id": boss.id, "invitee_ids": [planned.invited.id]}
    reviews.update_review(review, data, actor=planned.coordinator, now=now + dt.timedelta(minutes=1))
    moved = {u: v for u, v in parse_everywhere(_feed(app, planned.invited)).items() if u.startswith(planned.uid + "@")}
    (start, _end, _status, seq_moved), = moved.values()
    assert start == dt.date(2026, 4, 27) and seq_moved >= 1
    reviews.cancel_review(review, "Merged with the board meeting", actor=boss, now=now + dt.timedelta(minutes=2))
    cancelled = {u: v for u, v in parse_everywhere(_feed(app, planned.invited)).items()
                 if u.startswith(planned.uid + "@")}
    assert list(cancelled) == list(moved)
    (_start, _end, status, seq_cancelled), = cancelled.values()
    assert status == "CANCELLED" and seq_cancelled > seq_moved


def test_review_changes_move_the_feed_fingerprint(app, make, planned):
    """Planning, moving, inviting, holding and cancelling each change the ETag of an involved
    person's feed, so a client holding the old one gets the new bytes instead of a 304."""
    boss, now = planned.boss, planned.now
    seen = {_etag(app, boss)}

    def changed():
        tag = _etag(app, boss)
        assert tag not in seen
        seen.add(tag)

    review = planned.review
    base = {"title": review.title, "period_start": review.period_start, "period_end": review.period_end,
            "chair_id": boss.id, "invitee_ids": [planned.invited.id]}
    reviews.update_review(review, {**base, "planned_on": dt.date(2026, 5, 4)}, actor=planned.coordinator, now=now)
    changed()
    other = reviews.plan_review({**base, "title": "Extra review", "planned_on": dt.date(2026, 6, 1)},
                                actor=planned.coordinator, now=now)
    changed()
    invited_before = _etag(app, planned.stranger)
    reviews.update_review(other, {**base, "title": "Extra review", "planned_on": dt.date(2026, 6, 1),
                                  "invitee_ids": [planned.stranger.id]}, actor=planned.coordinator, now=now)
    assert _etag(app, planned.stranger) != invited_before  # the boss's bytes did not change
    held = reviews.plan_review({**base, "title": "Past review", "period_start": dt.date(2024, 1, 1),
                                "period_end": dt.date(2024, 12, 31), "planned_on": dt.date(2026, 2, 1)},
                               actor=planned.coordinator, now=now)
    changed()
    reviews.hold_review(held, {"held_on": dt.date(2026, 2, 3), "attendees": "Boss"}, actor=boss, now=now)
    changed()
    reviews.cancel_review(other, "Not needed", actor=boss, now=now)
    changed()


def test_feed_queries_do_not_grow_with_reviews(app, make, planned, count_queries):
    """The reviews part is one query whatever their number."""
    _feed(app, planned.boss)
    with count_queries() as few:
        _feed(app, planned.boss)
    for month in range(5, 10):
        reviews.plan_review({"title": f"Review {month}", "period_start": dt.date(2025, 1, 1),
                             "period_end": dt.date(2025, 12, 31), "planned_on": dt.date(2026, month, 2),
                             "chair_id": planned.boss.id}, actor=planned.coordinator, now=planned.now)
    _feed(app, planned.boss)
    with count_queries() as many:
        assert len([u for u in parse_everywhere(_feed(app, planned.boss)) if u.startswith("review-")]) == 6
    assert many.count == few.count
