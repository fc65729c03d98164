"""Answer saves in short transactions: few statements, the write lock only around the writes,
a fresh read when a version moved meanwhile, and pruned mutation ids (issue 16 item 2)."""

from __future__ import annotations

import datetime as dt

from flask import g
from sqlalchemy import func, select, update

from audit.conduct import answering, api
from audit.core.registry import registry
from audit.extensions import db
from audit.models import AppliedMutation, ChecklistAnswer, TrailEntry
from tests.conduct.test_answers_api import _put


def _path(setup, key) -> str:
    return f"/api/audits/{setup.audit.id}/answers/{setup.questions[key].id}"


def _fresh_put(client, path, **body):
    """A save as a request in production sees it: a session with nothing loaded yet (the test
    client shares the test's session, whose expired rows would otherwise reload mid-count)."""
    db.session.expunge_all()
    g.pop("_login_user", None)  # Flask-Login's cache lives in the same (shared) app context
    body.setdefault("base_version", 0)
    return client.put(path, json=body)


def test_a_save_sends_at_most_six_statements(login, setup, count_queries):
    """A new answer and a changed answer, each with a mutation id, cost ≤ 6 statements each
    (user, one read, answer, trail, mutation id), whatever the audit's size."""
    client = login(setup.auditor)
    path = _path(setup, "S1Q1")
    with count_queries() as first:
        assert _fresh_put(client, path, verdict="conforming", mutation_id="n-1").status_code == 200
    with count_queries() as second:
        response = _fresh_put(client, path, verdict="minor_nc", base_version=1, mutation_id="n-2")
    assert response.status_code == 200 and response.json["answer"]["version"] == 2
    assert first.count <= 6, "\n".join(s[:150].replace("\n", " ") for s in first.statements)
    assert second.count <= 6, "\n".join(s[:150].replace("\n", " ") for s in second.statements)
    assert not [s for s in first.statements + second.statements if "clauses" in s.lower()]
    assert db.session.scalar(select(func.count(TrailEntry.id)).where(
        TrailEntry.object_type == "ChecklistAnswer")) == 2


def test_the_write_lock_is_taken_after_the_reads(login, setup, sqlite_trace):
    """On SQLite the reads run under a deferred BEGIN; BEGIN IMMEDIATE comes after them, on the
    same connection, and is followed by writes only, then COMMIT."""
    client = login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming")
    if db.engine.dialect.name != "sqlite":
        return
    with sqlite_trace() as sent:
        assert _put(client, setup, "S1Q1", verdict="minor_nc", base_version=1,
                    mutation_id="w-1").status_code == 200
    begins = [i for i, s in enumerate(sent) if s.startswith("BEGIN")]
    assert [sent[i] for i in begins] == ["BEGIN", "BEGIN IMMEDIATE"], sent
    assert any(s.startswith("SELECT") for s in sent[:begins[1]])
    assert sent[begins[1] - 1] == "COMMIT", sent  # the read ended before the lock was asked for
    writes = sent[begins[1] + 1:]
    assert writes[-1] == "COMMIT" and writes[:-1], sent
    assert all(s.startswith(("INSERT", "UPDATE")) for s in writes[:-1]), sent


def test_a_save_with_nothing_to_write_takes_no_write_lock(login, setup, sqlite_trace):
    """Sending the stored answer again (a retry after a lost response without mutation id)
    answers from the read alone: no BEGIN IMMEDIATE, so it never queues behind writers."""
    client = login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming")
    with sqlite_trace() as sent:
        response = _put(client, setup, "S1Q1", verdict="conforming", base_version=1)
    assert response.status_code == 200 and response.json["answer"]["version"] == 1
    if db.engine.dialect.name == "sqlite":
        assert sent and "BEGIN IMMEDIATE" not in sent, sent
        assert not [s for s in sent if s.startswith(("INSERT", "UPDATE", "DELETE"))], sent


def test_a_version_moved_after_the_read_is_read_again(login, setup, monkeypatch):
    """When another auditor saves between this save's read and its write, nothing is written
    blindly: the save reads again and answers 409 with the other auditor's answer."""
    client = login(setup.auditor)
    _put(client, setup, "S1Q1", verdict="conforming")
    question_id = setup.questions["S1Q1"].id
    real_begin_writing = answering.begin_writing
    calls = []

    def someone_saves_then_begin_writing():
        if not calls:
            with db.engine.begin() as conn:
                conn.execute(update(ChecklistAnswer).where(ChecklistAnswer.question_id == question_id)
                             .values(note="Changed by the lead", version=2))
        calls.append(1)
        real_begin_writing()

    monkeypatch.setattr(answering, "begin_writing", someone_saves_then_begin_writing)
    reads = []
    real_read = answering.read_answer
    monkeypatch.setattr(answering, "read_answer", lambda *a: reads.append(1) or real_read(*a))
    response = _put(client, setup, "S1Q1", verdict="minor_nc", base_version=1)
    assert response.status_code == 409, response.json
    assert response.json["current"]["note"] == "Changed by the lead"
    assert len(reads) == 2  # read, the version moved before the write, read again
    db.session.expire_all()
    answer = db.session.scalar(select(ChecklistAnswer).where(ChecklistAnswer.question_id == question_id))
    assert (answer.verdict.value, answer.version) == ("conforming", 2)


def test_a_replay_after_a_lost_response_writes_nothing(login, setup, count_queries):
    """The same mutation id sent again returns the first result with two statements, no writes."""
    client = login(setup.auditor)
    first = _put(client, setup, "S1Q2", verdict="conforming", mutation_id="r-1")
    path = _path(setup, "S1Q2")
    with count_queries() as replay:
        again = _fresh_put(client, path, verdict="conforming", mutation_id="r-1")
    assert again.json == {**first.json, "replayed": True}
    assert not [s for s in replay.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_pruning_forgets_only_mutations_older_than_the_offline_window(app, setup, now):
    """Mutation ids older than OFFLINE_WINDOW_DAYS go, newer ones stay; a second run deletes nothing."""
    days = app.config["OFFLINE_WINDOW_DAYS"]
    for key, age in (("old", days + 1), ("edge", days - 1), ("new", 0)):
        db.session.add(AppliedMutation(mutation_id=key, audit_id=setup.audit.id, kind="answer",
                                       result={}, applied_at=now - dt.timedelta(days=age)))
    db.session.commit()
    job = next(j for j in registry(app).jobs if j.id == "prune_applied_mutations")
    assert job.function(app, now) == {"prune_applied_mutations": 1}
    assert job.function(app, now) == {"prune_applied_mutations": 0}
    assert set(db.session.scalars(select(AppliedMutation.mutation_id))) == {"edge", "new"}
    assert answering.prune_applied_mutations(now=now, keep_days=0) == 1  # "edge"; "new" is not older than now


def test_lean_saves_write_the_rows_the_full_save_writes(login, setup, monkeypatch):
    """The lean path's Core writes match what ``answers.save_answer`` and ``trail.record`` write:
    the trail rows (a device time bounded in the site's zone), and each mutation id with the
    response it produced, also for a save that changes nothing."""
    from audit.conduct.answers import bounded_answer_time
    from audit.models import utcnow

    monkeypatch.setattr(api, "_save_in_full", lambda *a: (_ for _ in ()).throw(AssertionError("full path")))
    client = login(setup.auditor)
    question = setup.questions["S1Q1"]
    device = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    created = _put(client, setup, "S1Q1", verdict="conforming", mutation_id="l-1",
                   answered_at="2001-01-01T00:00:00Z")
    changed = _put(client, setup, "S1Q1", verdict="minor_nc", note=" Seen ", base_version=1, mutation_id="l-2")
    same = _put(client, setup, "S1Q1", verdict="minor_nc", note="Seen", base_version=2, mutation_id="l-3")
    assert [r.status_code for r in (created, changed, same)] == [200, 200, 200]
    db.session.expire_all()
    answer = db.session.scalar(select(ChecklistAnswer).where(ChecklistAnswer.question_id == question.id))
    assert (answer.verdict.value, answer.note, answer.version, answer.answered_by_id) == (
        "minor_nc", "Seen", 2, setup.auditor.id)
    first_day = bounded_answer_time(setup.audit, device, utcnow())  # the ORM audit's zone
    assert created.json["answer"]["answered_at"] == first_day.isoformat()
    entries = db.session.scalars(select(TrailEntry).where(TrailEntry.object_type == "ChecklistAnswer")
                                 .order_by(TrailEntry.id)).all()
    reference = setup.audit.reference
    assert [(e.action, e.object_id, e.actor_id, e.summary, e.changes) for e in entries] == [
        ("create", answer.id, setup.auditor.id, f"Answered {question.key} in {reference}",
         {"verdict": "conforming", "value": None, "note": None, "answered_at": first_day.isoformat()}),
        ("update", answer.id, setup.auditor.id, f"Changed answer {question.key} in {reference}",
         {"verdict": ["conforming", "minor_nc"], "note": [None, "Seen"]}),
    ]
    mutations = db.session.scalars(select(AppliedMutation).order_by(AppliedMutation.mutation_id)).all()
    assert [(m.mutation_id, m.audit_id, m.user_id, m.kind, m.result) for m in mutations] == [
        (f"l-{i}", setup.audit.id, setup.auditor.id, "answer", r.json["answer"])
        for i, r in enumerate((created, changed, same), start=1)]
    assert same.json["answer"]["version"] == 2 and same.json["replayed"] is False
