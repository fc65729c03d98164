"""A supplier's approval status changed by the findings workflow is told to the coordinators
and to the supplier's own contacts, once per change, and a supplier whose approval waits for a decision (on probation, under
evaluation) is in the coordinators' "Waiting for me" list until it recovers or is decided."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.core.registry import registry
from audit.core.todo import waiting_for
from audit.extensions import db
from audit.findings import services as fs
from audit.models import ApprovalStatus, AuditKind, Notification, Role
from tests.findings.helpers import draft, world
from tests.findings.test_scar import _walk_supplier_stages


def _notes(user, kind="supplier_status") -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind).order_by(Notification.id)))


def _supplier_items(app, user, now) -> list[tuple[str, str]]:
    with app.test_request_context():
        return [(i.step, i.key) for i in waiting_for(user, now) if i.source == "organisation"]


def _sweep(app, now):
    """The registered findings sweep at ``now``, twice (the second run must send nothing)."""
    job = next(j for j in registry(app).jobs if j.id == "finding_deadlines")
    db.session.commit()
    first = job.function(app, now)
    job.function(app, now)
    db.session.expire_all()
    return next(iter(first.values()))


def test_probation_and_recovery_tell_the_coordinators_once_and_wait_for_them(app, make, library, now):
    supplier = make.supplier(name="Precision Castings Ltd", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    second = make.user(roles=(Role.COORDINATOR,), name="Second Coordinator")
    gone = make.user(roles=(Role.COORDINATOR,), name="Gone Coordinator", is_active=False)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
    left = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, is_active=False)
    other = make.user(roles=(Role.SUPPLIER,), supplier_id=make.supplier(name="Other Foundry").id)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert _supplier_items(app, w.coordinator, now) == []

    later = now + dt.timedelta(days=31)  # the SCAR's stages are overdue
    assert _sweep(app, later)["suppliers_changed"] == 1
    for person in (w.coordinator, second):
        note, = _notes(person)
        assert note.title == "Supplier on probation: Precision Castings Ltd"
        assert note.body.startswith("What happened: Precision Castings Ltd on probation: overdue SCAR "
                                    f"{f.reference}")
        assert "What is expected of you: Follow up its SCARs" in note.body
        assert note.link == f"/organisation/suppliers/{supplier.id}"
        assert _supplier_items(app, person, later) == [("supplier_on_probation", "Precision Castings Ltd")]
    assert _notes(gone) == [] and _notes(w.auditor) == [] and _notes(contact) == []
    # The supplier's own active contacts hear it in their words, pointing at their SCAR pages.
    told, = _notes(contact, "own_supplier_status")
    assert told.title == "Precision Castings Ltd is on probation"
    assert told.body.startswith(f"What happened: Precision Castings Ltd on probation: overdue SCAR {f.reference}")
    assert "What is expected of you: Bring the SCARs named above up to date" in told.body
    assert told.link == "/scar/"
    assert _notes(left, "own_supplier_status") == [] and _notes(other, "own_supplier_status") == []
    assert _notes(w.coordinator, "own_supplier_status") == []
    assert _supplier_items(app, w.auditor, later) == []  # not theirs to decide

    f = db.session.get(type(f), f.id)
    _walk_supplier_stages(f, contact, later)  # the supplier catches up: back to approved
    db.session.commit()
    assert supplier.approval_status is ApprovalStatus.APPROVED
    for person in (w.coordinator, second):
        assert [n.title for n in _notes(person)] == ["Supplier on probation: Precision Castings Ltd",
                                                     "Supplier approved: Precision Castings Ltd"]
        assert "What is expected of you: Nothing" in _notes(person)[-1].body
    assert [n.title for n in _notes(contact, "own_supplier_status")] == [
        "Precision Castings Ltd is on probation", "Precision Castings Ltd is approved"]
    assert "Nothing: your company is approved again." in _notes(contact, "own_supplier_status")[-1].body
    assert _supplier_items(app, w.coordinator, later) == []
    assert {"supplier_status", "own_supplier_status"} <= set(registry(app).notification_kinds)


def test_suppliers_waiting_for_a_decision_cost_two_queries_however_many(app, make, count_queries, now):
    """The suppliers, then who decided the probations (one query each, whatever their number)."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    make.supplier(name="Apex Heat Treatment", approval_status=ApprovalStatus.UNDER_EVALUATION)
    make.supplier(name="Bright Castings", approval_status=ApprovalStatus.ON_PROBATION)
    make.supplier(name="Nordic Steel", approval_status=ApprovalStatus.APPROVED)
    db.session.commit()
    assert _supplier_items(app, coordinator, now) == [("evaluate_supplier", "Apex Heat Treatment"),
                                                      ("supplier_on_probation", "Bright Castings")]

    from audit.organisation.waiting import waiting_source

    def queries() -> int:
        with app.test_request_context(), count_queries() as q:
            waiting_source(coordinator, now)
        return q.count

    few = queries()
    for i in range(5):
        make.supplier(name=f"Candidate {i}", approval_status=ApprovalStatus.UNDER_EVALUATION)
        make.supplier(name=f"Late {i}", approval_status=ApprovalStatus.ON_PROBATION)
    db.session.commit()
    assert len(_supplier_items(app, coordinator, now)) == 12
    assert queries() == few == 2


def test_a_probation_a_coordinator_decides_is_told_and_only_lifted_by_a_person(app, make, login, now):
    """Put on probation on the supplier's page (no SCAR behind it): the contacts and the other
    coordinators are told, the sweep does not lift it, and the coordinator's own approval does."""
    supplier = make.supplier(name="Quiet Foundry", approval_status=ApprovalStatus.APPROVED, timezone="UTC")
    deciding = make.user(roles=(Role.COORDINATOR,), name="Dana Deciding")
    other = make.user(roles=(Role.COORDINATOR,), name="Otto Other")
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
    client = login(deciding)

    def decide(status: str):
        response = client.post(f"/organisation/suppliers/{supplier.id}/edit", data={
            "name": supplier.name, "timezone": "UTC", "risk_class": "medium", "approval_status": status})
        assert response.status_code == 302, response.data[:400]

    decide("on_probation")
    assert _sweep(app, now + dt.timedelta(days=1))["suppliers_changed"] == 0
    assert db.session.get(type(supplier), supplier.id).approval_status is ApprovalStatus.ON_PROBATION
    told, = _notes(contact, "own_supplier_status")
    assert told.title == "Quiet Foundry is on probation"
    assert "approval status changed from approved to on probation by Dana Deciding" in told.body
    assert "they decide when the probation ends" in told.body
    note, = _notes(other)
    assert note.title == "Supplier on probation: Quiet Foundry" and "lifted there too" in note.body
    assert _notes(deciding) == []  # their own decision
    assert _supplier_items(app, other, now) == [("supplier_on_probation", "Quiet Foundry")]
    with app.test_request_context():
        item, = [i for i in waiting_for(other, now) if i.source == "organisation"]
    assert item.title == "Set by hand: approve it again when satisfied, or disqualify it."

    decide("approved")
    assert [n.title for n in _notes(contact, "own_supplier_status")] == [
        "Quiet Foundry is on probation", "Quiet Foundry is approved"]
    assert len(_notes(other)) == 1  # a coordinator's approval asks nothing of the others
    assert _supplier_items(app, other, now) == []
