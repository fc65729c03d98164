"""Who may read an audit and what hangs off it (plan, calendar file, checklist, report, findings).

One rule, used by every page, export, calendar file and API route that shows an audit:

- coordinators and administrators read everything;
- report readers (auditors, top management) read every audit, read-only unless the audit's own
  workflow grants them more (only the audit team acts on an audit);
- the audit's team reads its audit;
- a process owner (auditee) reads the audits of the units they own or belong to, and the issued
  reports of audits at their own sites (a site is where their units are);
- a supplier contact reads only their own company's audits (through the SCAR pages).

``readable_audits`` is the same rule as a SQL condition, for lists.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.models import Audit, AuditTeamMember, Role, TeamRole, Unit
from audit.models.audit import audit_units
from audit.models.organisation import unit_members


def _reads_everything(user) -> bool:
    return Role.ADMIN in user.roles or user.can(Permission.MANAGE_PROGRAMME) or user.can(Permission.VIEW_REPORTS)


def team_role(audit: Audit, user) -> TeamRole | None:
    """``user``'s role in ``audit``'s team, or None."""
    uid = getattr(user, "id", None)
    return next((m.role for m in audit.team if m.user_id == uid), None)


def is_auditee(audit: Audit, user) -> bool:
    """``user`` owns or belongs to one of the audited units."""
    uid = getattr(user, "id", None)
    return any(u.owner_id == uid or any(m.id == uid for m in u.members) for u in audit.units)


def my_unit_ids(user):
    """SQL: the units ``user`` owns or belongs to."""
    return select(Unit.id).where(or_(Unit.owner_id == user.id,
                                     Unit.id.in_(select(unit_members.c.unit_id)
                                                 .where(unit_members.c.user_id == user.id))))


def can_read_audit(audit: Audit, user) -> bool:
    """Whether ``user`` may open ``audit``'s page, plan, calendar file and checklist."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.supplier_id is not None:
        return audit.supplier_id == user.supplier_id and user.can(Permission.RESPOND_SCAR)
    if not user.can(Permission.VIEW_ORGANISATION):
        return False
    return _reads_everything(user) or team_role(audit, user) is not None or is_auditee(audit, user)


def can_read_report(audit: Audit, user) -> bool:
    """The report: whoever reads the audit, and process owners of the site once it is issued."""
    if can_read_audit(audit, user):
        return True
    if audit.report_issued_at is None or user.supplier_id is not None:
        return False
    return user.can(Permission.VIEW_ORGANISATION) and audit.site_id in {u.site_id for u in _my_units(user)}


def _my_units(user) -> list[Unit]:
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(my_unit_ids(user)))))


def readable_audits(user) -> ColumnElement[bool]:
    """SQL condition on ``Audit``: the audits ``user`` may read (``can_read_audit`` for lists)."""
    if user.supplier_id is not None:
        return Audit.supplier_id == user.supplier_id
    if not user.can(Permission.VIEW_ORGANISATION):
        return false()
    if _reads_everything(user):
        return true()
    return or_(Audit.id.in_(select(AuditTeamMember.audit_id).where(AuditTeamMember.user_id == user.id)),
               Audit.id.in_(select(audit_units.c.audit_id).where(audit_units.c.unit_id.in_(my_unit_ids(user)))))
