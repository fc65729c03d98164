"""Programmes in "waiting for me" (``core.todo``): a programme awaiting approval is the turn of
the people the PROGRAMME workflow lets take its "approve" step by their own role (top
management, the audit client; never whoever prepared or manages it, nor an administrator
because of blanket rights).

The programme's own coordinators (whoever prepared and manages it, else every coordinator:
``programme_coordinators``) have the steps before and after that approval: a draft without objectives
cannot be approved until they state them, and an approved programme is theirs to make active
(the complaint and incident triggers add audits to the active programme only), due on the
first day of its period; an active programme whose period is over is theirs to review and close.

A programme awaits approval exactly when that step is open on it, whoever asks: a draft, or an
approved or active programme changed since its approval, with its objectives stated
(``awaits_approval``: the step's states and guard). The approval has no deadline in the domain,
so the items carry none. The list costs one query whatever the number of programmes, none for
people who may not approve at all.

The coordinators also record the certification body's decisions on our certificates: once a
recertification or stage 2 audit is held and the certificate still shows the decision before
it (``deadlines.awaiting_decision``), "Certification decision to record" waits for every
coordinator (as the certification sweep warns them all), due on the certificate's expiry after a
recertification, or ``MAJOR_NC_MONTHS`` after a stage 2 (``deadlines.decision_due``). One query
more for a coordinator, whatever the number of certificates.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    Certificate,
    Programme,
    ProgrammeStatus,
    Role,
    ThirdPartyType,
    User,
    UserRole,
)
from audit.people.services import coordinators
from audit.programme.deadlines import DECIDED_AFTER, awaiting_decision, decision_due
from audit.programme.workflow import PROGRAMME

#: The workflow steps these items ask for.
APPROVE = PROGRAMME.steps["approve"]
ACTIVATE = PROGRAMME.steps[ProgrammeStatus.ACTIVE.value]
CLOSE = PROGRAMME.steps[ProgrammeStatus.CLOSED.value]


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


def programme_coordinators(programme: Programme, staff: list[User]) -> list[User]:
    """Who runs ``programme``: whoever prepared and manages it while they are among ``staff``
    (the active coordinators), else all of ``staff``. The notices and the list use this one rule."""
    named = [p for p in (programme.prepared_by, programme.manager) if p is not None and p in staff]
    return list({p.id: p for p in named}.values()) or staff


def _coordinator_item(programme: Programme, user, today: dt.date) -> ToDo | None:
    """What ``programme`` waits for from one of its coordinators: objectives, activation, or
    its review and closing once its period is over."""
    url = f"/programme/{programme.id}"
    if programme.status is ProgrammeStatus.DRAFT and not (programme.objectives or "").strip():
        return ToDo("programme", "state_objectives", "Programme objectives to state", programme.name,
                    "Its objectives are needed before top management can approve it.", url)
    may_activate = PROGRAMME.decide(programme, user, ACTIVATE.name).allowed
    if programme.status is ProgrammeStatus.APPROVED and may_activate:
        return ToDo("programme", ACTIVATE.name, "Programme to make active", programme.name,
                    f"Approved (version {programme.approved_version}): make it active for "
                    f"{programme.period_start:%d %b %Y} to {programme.period_end:%d %b %Y}.", url,
                    programme.period_start, "Period starts", programme.period_start < today)
    if (programme.status is ProgrammeStatus.ACTIVE and programme.period_end < today
            and PROGRAMME.decide(programme, user, CLOSE.name).allowed):
        return ToDo("programme", CLOSE.name, "Programme to review and close", programme.name,
                    f"Its period ended on {programme.period_end:%d %b %Y}: review what it achieved "
                    "(ISO 19011 5.7) and close it.", url, programme.period_end, "Period ended", False)
    return None


def decision_items(now: dt.datetime) -> list[ToDo]:
    """"Certification decision to record" for each of our certificates whose held stage 2 or
    recertification audit has no decision recorded after it, linked to the certificate (one query)."""
    audits = db.session.scalars(
        select(Audit).join(Certificate, Audit.certificate_id == Certificate.id)
        .where(Certificate.supplier_id.is_(None), Audit.third_party_type.in_(DECIDED_AFTER),
               Audit.status.in_(AuditStatus.audited()))
        .options(joinedload(Audit.site), joinedload(Audit.supplier),
                 joinedload(Audit.certificate).joinedload(Certificate.standard))).unique().all()
    items = []
    for cert in {audit.certificate.id: audit.certificate for audit in audits}.values():
        audit = awaiting_decision(cert, audits)
        if audit is None:
            continue
        due = decision_due(cert, audit)
        today = audit.local_today(now)
        after_stage2 = audit.third_party_type is ThirdPartyType.STAGE2
        items.append(ToDo("programme", "record_decision", "Certification decision to record",
                          cert.number or cert.standard.code,
                          f"{audit.third_party_type.label} {audit.reference} held: "
                          f"record the decision ({cert.standard.code}).",
                          f"/organisation/certificates/{cert.id}", due,
                          "Stage 2 + 6 months" if after_stage2 else "Expiry",
                          due < today))
    return items


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Each programme ``user`` may approve now, and each of theirs to complete, make active or
    close, linked to its page (where the form or button is)."""
    approves = bool(set(_approver_roles()) & user.roles)
    runs = Role.COORDINATOR in user.roles
    if not user.is_active or not (approves or runs):
        return []
    programmes = db.session.scalars(select(Programme).where(Programme.status.in_(APPROVE.states))
                                    .options(joinedload(Programme.prepared_by), joinedload(Programme.manager))
                                    .order_by(Programme.period_start, Programme.id)).all()
    staff = coordinators() if runs and programmes else []
    today = now.astimezone(dt.UTC).date()  # a programme's period is the organisation's, not a site's
    items = []
    for programme in programmes:
        if approves and may_approve(programme, user):
            label, title = _describe(programme)
            # A plain path: the list is also computed outside requests (sweeps, tests).
            items.append(ToDo("programme", APPROVE.name, label, programme.name, title,
                              f"/programme/{programme.id}"))
        elif runs and user in programme_coordinators(programme, staff):
            item = _coordinator_item(programme, user, today)
            if item is not None:
                items.append(item)
    return items + (decision_items(now) if runs else [])
