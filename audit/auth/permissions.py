"""Roles are bundles of capabilities; views declare the capability they need.

The map below is the one place that says who may do what. ``requires`` marks a view with its
capability (read or write); the access-matrix test walks the URL map and fails for any
write route that declares none, so a new route cannot ship unchecked. Object-level rules
(only the audit team may answer its checklist, a supplier sees only its own SCARs) live in
the services and are checked on top.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable

from flask import abort
from flask_login import current_user

from audit.models.user import Role


class Permission(enum.Enum):
    VIEW_ORGANISATION = "view_organisation"  #: read internal pages (not supplier contacts)
    MANAGE_ORGANISATION = "manage_organisation"  #: sites, units, suppliers, CBs, certificates
    MANAGE_USERS = "manage_users"
    MANAGE_QUALIFICATIONS = "manage_qualifications"
    MANAGE_LIBRARY = "manage_library"  #: standards, clauses, checklist templates
    MANAGE_PROGRAMME = "manage_programme"  #: programmes, audits, teams, planner
    APPROVE_PROGRAMME = "approve_programme"
    CONDUCT_AUDIT = "conduct_audit"  #: answer checklists, raise findings (team members only)
    RESPOND_FINDING = "respond_finding"  #: auditee side (owners only)
    VERIFY_FINDING = "verify_finding"
    RESPOND_SCAR = "respond_scar"  #: supplier contacts, own company only
    VIEW_REPORTS = "view_reports"
    #: objectives, indicators, customer feedback, risks, context, management reviews
    MANAGE_QUALITY = "manage_quality"
    VIEW_TRAIL = "view_trail"
    OWN_ACCOUNT = "own_account"  #: own profile, notifications, calendar tokens
    VIEW_OUTBOX = "view_outbox"  #: the e-mail outbox of everyone (queued, sent, failed)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COORDINATOR: frozenset(
        {
            Permission.VIEW_ORGANISATION,
            Permission.MANAGE_ORGANISATION,
            Permission.MANAGE_QUALIFICATIONS,
            Permission.MANAGE_LIBRARY,
            Permission.MANAGE_PROGRAMME,
            Permission.VERIFY_FINDING,
            Permission.VIEW_REPORTS,
            Permission.MANAGE_QUALITY,
            Permission.VIEW_TRAIL,
            Permission.OWN_ACCOUNT,
            Permission.VIEW_OUTBOX,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.VIEW_ORGANISATION,
            Permission.CONDUCT_AUDIT,
            Permission.VERIFY_FINDING,
            Permission.VIEW_REPORTS,
            Permission.VIEW_TRAIL,
            Permission.OWN_ACCOUNT,
        }
    ),
    Role.AUDITEE: frozenset(
        {Permission.VIEW_ORGANISATION, Permission.RESPOND_FINDING, Permission.OWN_ACCOUNT}
    ),
    Role.SUPPLIER: frozenset({Permission.RESPOND_SCAR, Permission.OWN_ACCOUNT}),
    Role.VIEWER: frozenset(
        {
            Permission.VIEW_ORGANISATION,
            Permission.APPROVE_PROGRAMME,  #: top management is the internal audit client
            Permission.VIEW_REPORTS,
            Permission.VIEW_TRAIL,
            Permission.OWN_ACCOUNT,
        }
    ),
}


def permissions_for(roles: Iterable[Role]) -> frozenset[Permission]:
    """The union of the capabilities of ``roles``."""
    result: set[Permission] = set()
    for role in roles:
        result |= ROLE_PERMISSIONS[role]
    return frozenset(result)


def requires(*needed: Permission) -> Callable:
    """Decorate a view: the user must hold every capability in ``needed`` (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            held = permissions_for(current_user.roles)
            if not set(needed) <= held:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = frozenset(needed)
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view that needs no login (login page, token-authorised feeds, health check)."""
    view.is_public = True
    return view
