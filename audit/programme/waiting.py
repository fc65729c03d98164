"""Programmes in "waiting for me" (``core.todo``): a programme awaiting approval is the turn of
the people the PROGRAMME workflow lets take its "approve" step by their own role (top
management, the audit client; never whoever prepared or manages it, nor an administrator
because of blanket rights).

A programme awaits approval exactly when that step is open on it, whoever asks: a draft, or an
approved or active programme changed since its approval, with its objectives stated
(``awaits_approval``: the step's states and guard). The approval has no deadline in the domain,
so the items carry none. The list costs one query whatever the number of programmes, none for
people who may not approve at all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import Programme, Role, User, UserRole
from audit.programme.workflow import PROGRAMME

#: The workflow step these items ask for.
APPROVE = PROGRAMME.steps["approve"]


def awaits_approval(programme: Programme) -> bool:
    """Whether the programme waits for an approval now: the "approve" step's states and guard
    hold (who may take it is asked per person, ``may_approve``)."""
    return programme.status in APPROVE.states and APPROVE.guard(programme, None) is None


def may_approve(programme: Programme, user) -> bool:
    """Whether ``user`` may approve ``programme`` now (the workflow's whole decision)."""
    return PROGRAMME.decide(programme, user, APPROVE.name).allowed


def _approver_roles() -> list[Role]:
    """Roles whose own job holds the capability the "approve" step asks for (APPROVE_PROGRAMME).
    An administrator may approve too, with blanket rights, but the approval is not their turn
    (as with findings: nothing waits for an administrator because they may act for anyone)."""
    return [r for r in Role if r is not Role.ADMIN and Permission.APPROVE_PROGRAMME in permissions_for({r})]


def approvers(programme: Programme) -> list[User]:
    """The active people who may approve ``programme`` now (two queries), by name."""
    people = db.session.scalars(
        select(User).join(UserRole).where(UserRole.role.in_(_approver_roles()), User.is_active.is_(True))
        .options(selectinload(User.role_links)).order_by(User.name, User.id)).unique()
    return [person for person in people if may_approve(programme, person)]


def _describe(programme: Programme) -> tuple[str, str]:
    """The item's label and description: a first approval, or approval again after a change."""
    if programme.changed_since_approval:
        return ("Programme to approve again",
                f"Changed since approval: version {programme.content_version} "
                f"(version {programme.approved_version} was approved).")
    return ("Programme to approve",
            f"Draft, version {programme.content_version}: "
            f"{programme.period_start:%d %b %Y} to {programme.period_end:%d %b %Y}.")


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Each programme ``user`` may approve now, linked to its page (where the button is)."""
    if not user.is_active or not set(_approver_roles()) & user.roles:
        return []
    programmes = db.session.scalars(select(Programme).where(Programme.status.in_(APPROVE.states))
                                    .order_by(Programme.period_start, Programme.id))
    items = []
    for programme in programmes:
        if may_approve(programme, user):
            label, title = _describe(programme)
            # A plain path: the list is also computed outside requests (sweeps, tests).
            items.append(ToDo("programme", APPROVE.name, label, programme.name, title,
                              f"/programme/{programme.id}"))
    return items
