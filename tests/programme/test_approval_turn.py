"""A programme awaiting approval is the turn of the people who may approve it (top management):
it is in their "waiting for me" with a link to the programme page and no deadline, they are told
once when it comes to need approval (first, and again after a change), and the programme's
coordinators are told when it is approved. The home page costs the same queries for one
programme to approve as for four."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.todo import waiting_for
from audit.extensions import db
from audit.models import Notification, ProgrammeStatus, Role, RuleKind
from audit.programme.rules import add_rule, update_rule
from audit.programme.services import change_programme_status, create_programme, update_programme
from audit.programme.waiting import waiting_source

PERIOD = {"period_start": dt.date(2027, 1, 1), "period_end": dt.date(2027, 12, 31)}


@pytest.fixture
def people(make):
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    return {"coordinator": coordinator,
            "ceo": make.user(roles=(Role.VIEWER,), name="Dr. Vogel"),
            "admin": make.user(roles=(Role.ADMIN,), name="Ada Admin"),
            "auditor": make.user(roles=(Role.AUDITOR,), name="Otto Auditor"),
            "other": make.user(roles=(Role.COORDINATOR,), name="Colin Coordinator")}


def _draft(people, now, name="Audit programme 2027", **values):
    coordinator = people["coordinator"]
    data = {"name": name, "objectives": "Confirm conformity with ISO 9001", "manager_id": coordinator.id,
            **PERIOD, **values}
    return create_programme(data, actor=coordinator, now=now)


def _notes(user, kind) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind).order_by(Notification.id)))


def _steps(user, programme, now) -> list[str]:
    return [t.label for t in waiting_source(user, now) if t.key == programme.name]


def test_a_programme_to_approve_waits_for_whoever_may_approve_it(app, make, people, now):
    """A draft with objectives, then an approved programme changed since approval, wait for top
    management — never for the coordinator who prepared or manages it, another coordinator, an
    auditor or an administrator (who may approve, with blanket rights, but it is not their turn);
    approved as it stands, for nobody."""
    programme = _draft(people, now)
    db.session.commit()
    expected = {"ceo": ["Programme to approve"], "admin": [],
                "coordinator": [], "other": [], "auditor": []}
    assert {who: _steps(user, programme, now) for who, user in people.items()} == expected
    item = next(t for t in waiting_for(people["ceo"], now) if t.source == "programme")
    assert (item.step, item.url, item.due_on, item.overdue) == ("approve", f"/programme/{programme.id}", None, False)

    change_programme_status(programme, ProgrammeStatus.APPROVED, actor=people["ceo"], now=now)
    # Approved, not yet active: its manager's turn (not another coordinator's), by its first day.
    expected = {"ceo": [], "admin": [], "coordinator": ["Programme to make active"], "other": [],
                "auditor": []}
    assert {who: _steps(user, programme, now) for who, user in people.items()} == expected
    item = next(t for t in waiting_source(people["coordinator"], now) if t.key == programme.name)
    first_day = dt.date(2027, 1, 1)
    assert (item.step, item.due_on, item.overdue) == ("active", first_day, now.date() > first_day)
    change_programme_status(programme, ProgrammeStatus.ACTIVE, actor=people["coordinator"], now=now)
    assert all(_steps(user, programme, now) == [] for user in people.values())
    # Its period over: its manager's to review and close, from the day after its last day.
    after = dt.datetime(2028, 1, 1, 9, tzinfo=dt.UTC)
    assert _steps(people["coordinator"], programme, after - dt.timedelta(days=1)) == []
    assert _steps(people["coordinator"], programme, after) == ["Programme to review and close"]
    assert _steps(people["other"], programme, after) == [] and _steps(people["ceo"], programme, after) == []

    unit = make.unit()
    add_rule(programme, {"kind": RuleKind.RISK_INTERNAL, "title": "Unit audit", "unit_id": unit.id},
             actor=people["coordinator"], now=now)
    assert _steps(people["ceo"], programme, now) == ["Programme to approve again"]
    assert "version 2 (version 1 was approved)" in next(
        t.title for t in waiting_source(people["ceo"], now) if t.key == programme.name)
    assert _steps(people["coordinator"], programme, now) == []


def test_a_draft_without_objectives_waits_for_its_objectives_first(app, people, now):
    """The workflow refuses to approve a draft without objectives: it waits for its coordinator to
    state them, for nobody's approval, and nobody is told, until they are stated."""
    programme = _draft(people, now, objectives="")
    assert _steps(people["ceo"], programme, now) == [] and _notes(people["ceo"], "programme_approval") == []
    assert _steps(people["coordinator"], programme, now) == ["Programme objectives to state"]
    assert _steps(people["other"], programme, now) == []
    update_programme(programme, {"name": programme.name, **PERIOD, "objectives": "Cover every clause",
                                 "manager_id": people["coordinator"].id}, actor=people["coordinator"], now=now)
    assert _steps(people["ceo"], programme, now) == ["Programme to approve"]
    assert _steps(people["coordinator"], programme, now) == []
    assert len(_notes(people["ceo"], "programme_approval")) == 1


def test_approvers_are_told_once_and_coordinators_when_approved(app, make, people, login, now):
    """Approvers are told when the draft is created and when the approved programme changes,
    once each however many edits follow; the coordinator is told of each approval. The approval
    itself goes through the programme page."""
    ceo, admin, coordinator = people["ceo"], people["admin"], people["coordinator"]
    programme = _draft(people, now)
    unit = make.unit()
    rule = add_rule(programme, {"kind": RuleKind.RISK_INTERNAL, "title": "Unit audit", "unit_id": unit.id},
                    actor=coordinator, now=now)
    update_rule(rule, {"kind": RuleKind.RISK_INTERNAL, "title": "Unit audit (yearly)", "unit_id": unit.id},
                actor=coordinator, now=now)
    (note,) = _notes(ceo, "programme_approval")
    assert note.title == "Programme Audit programme 2027 awaits your approval"
    assert note.link == f"/programme/{programme.id}" and note.created_at == now
    assert note.body.startswith("What happened: Audit programme 2027 (draft, 01 Jan 2027 to 31 Dec 2027)")
    assert "What is expected of you: Review its objectives" in note.body
    assert _notes(admin, "programme_approval") == []  # may approve, but it is not their turn
    assert _notes(coordinator, "programme_approval") == [] and _notes(people["other"], "programme_approval") == []

    client = login(ceo)
    assert client.post(f"/programme/{programme.id}/approve").status_code == 302
    (approved,) = _notes(coordinator, "programme_approved")
    assert approved.title == "Programme Audit programme 2027 approved (version 3)"
    assert "What happened: Dr. Vogel approved Audit programme 2027 (version 3)." in approved.body
    assert _notes(people["other"], "programme_approved") == []  # not theirs: the manager is told
    assert "Audit programme 2027" not in client.get("/findings/waiting").get_data(as_text=True)

    db.session.expire_all()
    programme = db.session.merge(programme)
    update_rule(db.session.merge(rule), {"kind": RuleKind.RISK_INTERNAL, "title": "Unit audit (twice a year)",
                                          "unit_id": unit.id}, actor=coordinator, now=now)
    update_programme(programme, {"name": programme.name, **PERIOD, "objectives": "Cover every clause",
                                 "manager_id": coordinator.id}, actor=coordinator, now=now)
    first, again = _notes(ceo, "programme_approval")
    assert again.title == "Programme Audit programme 2027 awaits your approval again"
    assert "changed since its approval (version 3); version 4 needs approval again" in again.body
    db.session.commit()
    page = client.get("/findings/waiting").get_data(as_text=True)
    assert "Programme to approve again" in page and f'href="/programme/{programme.id}"' in page
    assert client.post(f"/programme/{programme.id}/approve").status_code == 302
    assert [n.title for n in _notes(coordinator, "programme_approved")] == [
        "Programme Audit programme 2027 approved (version 3)", "Programme Audit programme 2027 approved (version 5)"]


def test_home_page_queries_do_not_grow_with_programmes_to_approve(app, people, login, count_queries, now):
    """Top management's home page lists every programme to approve at a constant query count."""
    client = login(people["ceo"])
    _draft(people, now, name="Programme A")
    db.session.commit()
    client.get("/")  # warm-up: the first request after login loads more
    with count_queries() as few:
        page = client.get("/").get_data(as_text=True)
    assert page.count("Programme to approve") == 1
    for name in ("Programme B", "Programme C", "Programme D"):
        _draft(people, now, name=name)
    db.session.commit()
    client.get("/")  # the test shares the session: reload the people its services loaded
    with count_queries() as many:
        page = client.get("/").get_data(as_text=True)
    assert page.count("Programme to approve") == 4
    assert many.count == few.count, "\n".join(many.statements)
