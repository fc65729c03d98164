"""Factories for test data: ``create_<thing>(**overrides)`` with sensible defaults.

Passwords use a cheap hash so logging in through the real form stays fast.
"""

from __future__ import annotations

import datetime as dt
import itertools

from werkzeug.security import generate_password_hash

from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Programme,
    ProgrammeStatus,
    Qualification,
    QualificationLevel,
    Role,
    Site,
    Standard,
    Supplier,
    TeamRole,
    Unit,
    User,
    UserRole,
)

PASSWORD = "correct-horse-battery"
_FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def user(roles=(Role.AUDITOR,), **overrides) -> User:
    n = _n()
    values = {
        "email": f"user{n}@example.com",
        "name": f"User {n}",
        "password_hash": _FAST_HASH,
        "timezone": "Europe/Berlin",
    }
    values.update(overrides)
    obj = User(**values)
    obj.role_links = [UserRole(role=r) for r in roles]
    db.session.add(obj)
    db.session.flush()
    return obj


def site(**overrides) -> Site:
    n = _n()
    values = {"name": f"Site {n}", "code": f"S{n}", "timezone": "Europe/Berlin"}
    values.update(overrides)
    obj = Site(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def programme(**overrides) -> Programme:
    """An active programme covering 2026 (the test clock's year) unless told otherwise."""
    values = {"name": f"Programme {_n()}", "period_start": dt.date(2026, 1, 1),
              "period_end": dt.date(2026, 12, 31), "status": ProgrammeStatus.ACTIVE}
    values.update(overrides)
    obj = Programme(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def standard(code: str = "ISO 9001", edition: str = "2015") -> Standard:
    from sqlalchemy import select

    obj = db.session.scalar(select(Standard).where(Standard.code == code, Standard.edition == edition))
    if obj is None:
        obj = Standard(code=code, edition=edition, title=code)
        db.session.add(obj)
        db.session.flush()
    return obj


def unit(**overrides) -> Unit:
    n = _n()
    values = {"name": f"Unit {n}"}
    values.update(overrides)
    if "site" not in values and "site_id" not in values:
        values["site"] = site()
    obj = Unit(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def supplier(**overrides) -> Supplier:
    n = _n()
    values = {"name": f"Supplier {n}"}
    values.update(overrides)
    obj = Supplier(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def qualification(user_obj: User, std: Standard | None = None, level=QualificationLevel.AUDITOR,
                  valid_from=dt.date(2020, 1, 1), valid_until=None) -> Qualification:
    obj = Qualification(user=user_obj, standard=std or standard(), level=level,
                        valid_from=valid_from, valid_until=valid_until)
    db.session.add(obj)
    db.session.flush()
    return obj


def audit(**overrides) -> Audit:
    n = _n()
    values = {
        "reference": f"IA-T-{n:04d}",
        "title": f"Audit {n}",
        "kind": AuditKind.INTERNAL,
        "status": AuditStatus.PLANNED,
    }
    team = overrides.pop("team", [])
    values.update(overrides)
    if "site" not in values and "site_id" not in values:
        values["site"] = site()
    obj = Audit(**values)
    for member, role in team:
        obj.team.append(AuditTeamMember(user=member, role=role))
    db.session.add(obj)
    db.session.flush()
    return obj


__all__ = ["PASSWORD", "audit", "qualification", "site", "standard", "supplier", "unit", "user",
           "TeamRole"]
