"""Who may see and change an audit's records (checklist, evidence, report), and the freeze.

Only the audit team's auditing members answer; the auditees, coordinators and report readers
see; nothing changes once the report is issued or the audit is cancelled or postponed.
"""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.models import Audit, AuditStatus, TeamRole, Unit


class AuditFrozen(DomainError):
    """The audit's report is issued: its records are frozen."""



def team_role(audit: Audit, user) -> TeamRole | None:
    """The role of ``user`` in ``audit``'s team, or None."""
    uid = getattr(user, "id", None)
    for member in audit.team:
        if member.user_id == uid:
            return member.role
    return None


def is_auditee(audit: Audit, user) -> bool:
    """True when ``user`` owns or belongs to an audited unit, or leads a session as contact."""
    uid = getattr(user, "id", None)
    return any(u.owner_id == uid or any(m.id == uid for m in u.members) for u in audit.units)


def can_answer(audit: Audit, user) -> bool:
    """Only the audit team's auditing members (lead, auditor, trainee) answer its checklist."""
    role = team_role(audit, user)
    if role is None or not role.is_auditing:
        return False
    return Permission.CONDUCT_AUDIT in permissions_for(user.roles)


def can_view(audit: Audit, user) -> bool:
    """Team members, the auditees of the audited units, coordinators and report readers."""
    held = permissions_for(user.roles)
    if Permission.VIEW_ORGANISATION not in held:
        return False
    if team_role(audit, user) is not None or is_auditee(audit, user):
        return True
    return bool({Permission.MANAGE_PROGRAMME, Permission.VIEW_REPORTS} & held)


def require_answerer(audit: Audit, user) -> None:
    """Raise NotAllowed unless ``user`` may answer, AuditFrozen once the report is issued."""
    if not can_answer(audit, user):
        raise NotAllowed("Only the audit team's auditors can change this audit's checklist.")
    require_not_frozen(audit)


def is_frozen(audit: Audit) -> bool:
    """The audit's records no longer change: report issued, or the audit cancelled or postponed."""
    return audit.report_issued_at is not None or audit.status in AuditStatus.inactive()


def can_edit_records(audit: Audit, user) -> bool:
    """``user`` may change the checklist and evidence now (pages show controls only then)."""
    return can_answer(audit, user) and not is_frozen(audit)


def require_not_frozen(audit: Audit) -> None:
    """Raise AuditFrozen once the report is issued (or the audit was cancelled or postponed)."""
    if audit.report_issued_at is not None:
        raise AuditFrozen("The report of this audit is issued: its records can no longer change.")
    if audit.status in AuditStatus.inactive():
        raise AuditFrozen(f"This audit is {audit.status.label.lower()}: its checklist cannot change.")


#: ``load_audit``'s statement, built once with the id as a parameter: building and keying it
#: anew cost ~0.3 ms of every page and API call that loads an audit (issue 16).
_LOAD_AUDIT = (
    select(Audit)
    .where(Audit.id == bindparam("audit_id", type_=Integer))
    .options(
        selectinload(Audit.team),
        selectinload(Audit.units).selectinload(Unit.members),
        selectinload(Audit.site),
    )
)


def load_audit(audit_id: int) -> Audit | None:
    """The audit with team, units (and their people) and site loaded for permission checks."""
    return db.session.scalar(_LOAD_AUDIT, {"audit_id": audit_id})

