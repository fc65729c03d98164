"""Which audits and reviews a feed selects: the WHERE criteria shared by the feed and its fingerprint.

The feed (``feeds``) and its ETag (``fingerprint``) must select the very same rows, or a 304
could hide a change, so both build their criteria here. Each criteria function takes
``bind(name)``: :func:`bound` gives parameters carrying one request's values (the feed), plain
``bindparam`` gives a statement built once and executed with :func:`window_values` /
:func:`personal_values` (the fingerprint, issue 16).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.types import NullType

from audit.calendar import ical
from audit.models import (
    ActionStatus,
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    CorrectiveAction,
    FeedKind,
    Finding,
    FindingStatus,
    Role,
    Unit,
    User,
)
from audit.models.audit import audit_units
from audit.models.organisation import unit_members

#: Finding statuses whose deadlines still matter to the owner (as ``Finding.current_due_on``:
#: drafts are the auditors' own, closed and declined ones have none).
OPEN_FINDING = (
    FindingStatus.ISSUED, FindingStatus.AWAITING_RESPONSE, FindingStatus.RESPONSE_SUBMITTED,
    FindingStatus.ACTION_IN_PROGRESS, FindingStatus.PENDING_VERIFICATION, FindingStatus.ACCEPTED,
)


def window_values(day: dt.date) -> dict:
    """The values the feed's date criteria compare with on ``day``, by bound-parameter name."""
    start, end = ical.feed_window(day)
    return {
        "window_start": start,
        "window_end": end,
        # A day's margin on both sides for time zones.
        "window_lo": dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), dt.UTC),
        "window_hi": dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), dt.UTC),
        "cancelled_since": dt.datetime.combine(day - dt.timedelta(days=ical.CANCELLED_GRACE_DAYS),
                                               dt.time(), dt.UTC),
    }


def bound(values: dict):
    """``bind(name)``: a parameter carrying its value (criteria built for one request). Typed
    by the column it is compared with, as a plain value would be (NullType adapts)."""
    return lambda name: bindparam(name, values[name], unique=True, type_=NullType())


def _window_clause(bind):
    """Audits that touch the window (with a day's margin for zones), or have only a planned date."""
    return or_(
        and_(Audit.starts_at.is_not(None), Audit.starts_at < bind("window_hi"),
             Audit.ends_at >= bind("window_lo")),
        and_(Audit.starts_at.is_(None), Audit.planned_date.between(bind("window_start"), bind("window_end"))),
    )


def _visible_status(bind):
    """Postponed audits are out; cancelled ones only during their grace period."""
    return and_(
        Audit.status != AuditStatus.POSTPONED,
        or_(Audit.status != AuditStatus.CANCELLED, Audit.cancelled_at >= bind("cancelled_since")),
    )


def my_units_query(user_id):
    """Ids of the units the user owns or belongs to (they are audited in those units' audits);
    ``user_id`` is an id or a bound parameter."""
    return select(Unit.id).where(
        or_(Unit.owner_id == user_id,
            Unit.id.in_(select(unit_members.c.unit_id).where(unit_members.c.user_id == user_id)))
    )


def personal_variant(user: User) -> tuple[bool, bool]:
    """What shapes a personal feed's criteria beyond the bound values: is the user a supplier
    contact (audited in their company's second-party audits), a coordinator (sees every
    management review)? One fingerprint statement is built per variant."""
    return (user.supplier_id is not None and Role.SUPPLIER in user.roles, Role.COORDINATOR in user.roles)


def personal_values(user: User, day: dt.date) -> dict:
    """The values of a personal feed's bound parameters on ``day`` (see :func:`window_values`)."""
    return {**window_values(day), "user_id": user.id, "supplier_id": user.supplier_id}


def personal_criteria(supplier_contact: bool, bind) -> tuple:
    """WHERE criteria of the audits in a personal feed, values given by ``bind(name)``
    (``user_id``, ``supplier_id`` and those of :func:`window_values`); see
    :func:`coordinator_criteria` for why one function serves the feed and its fingerprint."""
    user_id = bind("user_id")
    # IN (ids) rather than a correlated EXISTS: the database looks the few audit ids up by
    # index instead of testing every audit of the organisation (12x faster at demo scale 50).
    involvement = [
        Audit.id.in_(select(AuditTeamMember.audit_id).where(AuditTeamMember.user_id == user_id)),
        Audit.id.in_(select(audit_units.c.audit_id).where(audit_units.c.unit_id.in_(my_units_query(user_id)))),
    ]
    if supplier_contact:
        # A supplier contact is audited in their own company's second-party audits.
        involvement.append(and_(Audit.supplier_id == bind("supplier_id"),
                                Audit.kind == AuditKind.SECOND_PARTY))
    return or_(*involvement), _window_clause(bind), _visible_status(bind)


def _company_scars(bind):
    """The open SCARs of the supplier contact's company: a SCAR has no owner, every contact of
    the supplier answers it (``findings.notifying.responders``)."""
    return and_(Finding.supplier_id == bind("supplier_id"), Finding.scar_stage.is_not(None),
                Finding.status.in_(OPEN_FINDING))


def personal_finding_criteria(supplier_contact: bool, bind) -> tuple:
    """WHERE criteria of the findings whose deadlines are in a personal feed: open findings the
    user owns with a response or closure date in the window and, for a supplier contact, the
    open SCARs of their company whose stage deadlines may fall in it. Shared by the feed and its
    fingerprint, like :func:`personal_criteria`."""
    start, end = bind("window_start"), bind("window_end")
    owned = and_(Finding.owner_id == bind("user_id"), Finding.status.in_(OPEN_FINDING),
                 or_(Finding.response_due_on.between(start, end), Finding.closure_due_on.between(start, end)))
    if not supplier_contact:
        return (owned,)
    # The stage dates run from the day after issue (containment) to the implementation date
    # (``Finding.scar_due_dates``): the SCAR counts when that span touches the window.
    scars = and_(_company_scars(bind), Finding.issued_at < bind("window_hi"),
                 or_(Finding.response_due_on >= start, Finding.closure_due_on >= start,
                     Finding.issued_at >= bind("window_lo")))
    return (or_(owned, scars),)


def personal_action_criteria(supplier_contact: bool, bind) -> tuple:
    """WHERE criteria of the corrective actions in a personal feed: open actions due in the
    window that the user carries and, for a supplier contact, those of their company's open
    SCARs (the contacts answer a SCAR together)."""
    mine = CorrectiveAction.owner_id == bind("user_id")
    if supplier_contact:
        mine = or_(mine, CorrectiveAction.finding_id.in_(select(Finding.id).where(_company_scars(bind))))
    return (mine, CorrectiveAction.status == ActionStatus.OPEN,
            CorrectiveAction.due_on.between(bind("window_start"), bind("window_end")))


def personal_audit_criteria(user: User, day: dt.date) -> tuple:
    """WHERE criteria of the audits in ``user``'s personal feed rendered on ``day``.

    Shared by the feed and its fingerprint (audit/calendar/fingerprint.py): the two must
    select the very same rows, or a 304 could hide a change.
    """
    return personal_criteria(personal_variant(user)[0], bound(personal_values(user, day)))


def coordinator_criteria(kind: FeedKind, bind) -> tuple:
    """WHERE criteria of the audits in a programme/site/supplier/certificate feed, their
    values given by ``bind(name)`` (names: ``target_id`` and those of :func:`window_values`).

    The feed binds the values (:func:`coordinator_audit_criteria`); the fingerprint builds one
    statement per kind with plain parameters and executes it with the values, so a 304 does
    not build and hash a new statement on every poll (issue 16). One function for both: they
    must select the very same rows, or a 304 could hide a change.
    """
    column = {
        FeedKind.PROGRAMME: Audit.programme_id,
        FeedKind.SITE: Audit.site_id,
        FeedKind.SUPPLIER: Audit.supplier_id,
        FeedKind.CERTIFICATE: Audit.certificate_id,
    }[kind]
    return column == bind("target_id"), _window_clause(bind), _visible_status(bind)


def coordinator_audit_criteria(kind: FeedKind, target_id: int, day: dt.date) -> tuple:
    """WHERE criteria of the audits in a programme/site/supplier/certificate feed on ``day``."""
    return coordinator_criteria(kind, bound({**window_values(day), "target_id": target_id}))


def review_criteria_bound(coordinator: bool, bind) -> tuple:
    """WHERE criteria of the management reviews in a personal feed, values given by
    ``bind(name)`` (the rule lives with the reviews, ``management.review_calendar``)."""
    from audit.management.review_calendar import bound_review_criteria

    return bound_review_criteria(coordinator, bind)
