"""Who a notice goes to: the active coordinators, and the person it is about with them, once."""

from __future__ import annotations

from audit.extensions import db
from audit.models import Role
from audit.people.services import coordinators, with_staff


def test_coordinators_are_the_active_ones_in_a_stable_order(app, make):
    first = make.user(roles=(Role.COORDINATOR,))
    make.user(roles=(Role.COORDINATOR,), is_active=False)
    second = make.user(roles=(Role.COORDINATOR, Role.AUDITOR))
    make.user(roles=(Role.AUDITOR,))
    db.session.commit()
    assert coordinators() == [first, second]


def test_the_person_first_then_the_staff_each_once(app, make):
    owner = make.user(roles=(Role.AUDITOR,))
    coordinator = make.user(roles=(Role.COORDINATOR,))
    owning_coordinator = make.user(roles=(Role.COORDINATOR,))
    staff = [coordinator, owning_coordinator]
    assert with_staff(owner, staff) == [owner, coordinator, owning_coordinator]
    assert with_staff(owning_coordinator, staff) == [owning_coordinator, coordinator]
    assert with_staff(None, staff) == staff
    owner.is_active = False  # can no longer log in: the staff take over
    assert with_staff(owner, staff) == staff
