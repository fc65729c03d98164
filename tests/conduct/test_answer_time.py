"""Offline answers keep the device's time (issue 15 item 9), bounded by the audit's first day
and the sync time, and the trail shows it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.conduct.answers import bounded_answer_time, save_answer
from audit.extensions import db
from audit.models import ChecklistAnswer, TrailEntry


def test_device_time_is_bounded_by_the_audit_day_and_the_sync_time(setup, now):
    """Inside the bounds the device time stands; a clock ahead gives the sync time; a clock far
    behind gives the start of the audit's first local day (Berlin midnight)."""
    audit = setup.audit  # starts two hours before ``now`` (10 March, 07:30 UTC)
    earlier = now - dt.timedelta(minutes=40)
    assert bounded_answer_time(audit, earlier, now) == earlier
    assert bounded_answer_time(audit, None, now) == now
    assert bounded_answer_time(audit, now + dt.timedelta(hours=3), now) == now
    first_day = dt.datetime(2026, 3, 9, 23, 0, tzinfo=dt.UTC)  # 10 March 00:00 in Berlin
    assert bounded_answer_time(audit, dt.datetime(2001, 1, 1, tzinfo=dt.UTC), now) == first_day


def test_offline_answer_records_device_time_and_trail_shows_it(setup, now, login):
    """Through the API, answered_at is stored as the device time and the trail row names it
    beside the sync time; a malformed value is refused and stores nothing."""
    client = login(setup.auditor)
    q = setup.questions["S1Q1"]
    url = f"/api/audits/{setup.audit.id}/answers/{q.id}"
    r = client.put(url, json={"verdict": "conforming", "base_version": 0, "answered_at": "yesterday"})
    assert r.status_code == 422 and r.json["field"] == "answered_at"
    assert db.session.scalar(select(ChecklistAnswer.id)) is None
    device = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    r = client.put(url, json={"verdict": "conforming", "base_version": 0,
                              "answered_at": device.isoformat().replace("+00:00", "Z")})
    assert r.status_code == 200
    answer = db.session.scalar(select(ChecklistAnswer))
    assert abs(answer.answered_at - device) < dt.timedelta(seconds=1)
    assert r.json["answer"]["answered_at"] == answer.answered_at.isoformat()
    entry = db.session.scalar(select(TrailEntry).where(TrailEntry.object_type == "ChecklistAnswer"))
    assert entry.at - answer.answered_at > dt.timedelta(minutes=29)
    assert entry.changes["answered_at"] == answer.answered_at.isoformat()


def test_online_answer_has_no_separate_device_time(setup, now):
    """An answer synced at once is stamped with the sync time and the trail adds nothing."""
    save_answer(setup.audit, setup.questions["S1Q1"], verdict="conforming", base_version=0,
                answered_at=now - dt.timedelta(seconds=5), actor=setup.auditor, now=now)
    entry = db.session.scalar(select(TrailEntry).where(TrailEntry.object_type == "ChecklistAnswer"))
    assert "answered_at" not in entry.changes
