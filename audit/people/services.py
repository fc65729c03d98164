"""Rules for user accounts, qualifications and training records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from audit.auth.services import end_sessions, hash_password
from audit.core.errors import DomainError
from audit.core.forms import is_valid_timezone
from audit.core.services import get_or_fail, save_with_trail
from audit.extensions import db
from audit.models import (
    Qualification,
    QualificationLevel,
    Role,
    Standard,
    Supplier,
    TrainingRecord,
    User,
    UserRole,
)
from audit.trail.services import apply_changes, record


def coordinators() -> list[User]:
    """The active coordinators, in a stable order (one query): they plan and staff audits, decide
    extensions, evaluate suppliers, and take over whatever nobody active owns."""
    return list(db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == Role.COORDINATOR, User.is_active.is_(True)).order_by(User.id)).unique())


def with_staff(person: User | None, staff: list[User]) -> list[User]:
    """``person`` (the one a notice is about or for: owner, auditor), if any and still able to
    log in, then ``staff`` (usually ``coordinators()``) without them: each told once."""
    first = [person] if person is not None and person.is_active else []
    return [*first, *(member for member in staff if member not in first)]


def supplier_contacts(supplier_id: int | None) -> list[User]:
    """A supplier's active contacts, who log in to answer its SCARs (none for no supplier)."""
    if supplier_id is None:
        return []
    return list(db.session.scalars(select(User).where(
        User.supplier_id == supplier_id, User.is_active.is_(True)).order_by(User.id)))


def _user_values(data: dict, current: User | None) -> tuple[dict, set[Role]]:
    email = data["email"].strip().lower()
    clash = select(User.id).where(func.lower(User.email) == email)
    if current is not None:
        clash = clash.where(User.id != current.id)
    if db.session.scalar(clash) is not None:
        raise DomainError(f"Another account already uses {email}.", field="email")
    try:
        roles = {Role(r) for r in data.get("roles") or []}
    except ValueError:
        raise DomainError("Unknown role.", field="roles") from None
    if not roles:
        raise DomainError("Give the person at least one role.", field="roles")
    supplier = get_or_fail(Supplier, data.get("supplier_id"), field="supplier_id", what="supplier",
                    optional=True)
    if Role.SUPPLIER in roles and supplier is None:
        raise DomainError("A supplier contact must belong to a supplier company.",
                          field="supplier_id")
    if supplier is not None and roles != {Role.SUPPLIER}:
        raise DomainError("Supplier contacts can hold only the supplier contact role.",
                          field="roles")
    if not is_valid_timezone(data.get("timezone")):
        raise DomainError("Choose a time zone from the list.", field="timezone")
    values = {
        "name": data["name"].strip(),
        "email": email,
        "job_title": (data.get("job_title") or "").strip() or None,
        "supplier": supplier,
        "timezone": data["timezone"],
        "is_active": bool(data.get("is_active", True)),
    }
    return values, roles


def _set_roles(user: User, roles: set[Role]) -> dict:
    old = user.roles
    if old == roles:
        return {}
    for link in list(user.role_links):
        if link.role not in roles:
            user.role_links.remove(link)
    for role in roles - old:
        user.role_links.append(UserRole(role=role))
    return {"roles": [sorted(r.value for r in old), sorted(r.value for r in roles)]}


def create_user(data: dict, *, actor, now: dt.datetime) -> User:
    """Create an account with hashed password and its roles."""
    values, roles = _user_values(data, None)
    if not data.get("password"):
        raise DomainError("A new account needs a password.", field="password")
    user = User(
        password_hash=hash_password(data["password"], user_inputs=(values["email"], values["name"])),
        **values,
    )
    user.role_links = [UserRole(role=r) for r in sorted(roles, key=lambda r: r.value)]
    db.session.add(user)
    db.session.flush()
    record(user, "create", actor=actor, now=now, summary=f"Created account {user.email}",
           changes={"email": user.email, "name": user.name,
                    "roles": sorted(r.value for r in roles)})
    return user


def update_user(user: User, data: dict, *, actor, now: dt.datetime) -> User:
    """Update an account; a non-empty password replaces the old one.

    A new password, deactivation, a removed role or a supplier contact moved to another company
    ends every session the person has open, so what was taken away takes effect now rather
    than when their cookie expires.
    """
    values, roles = _user_values(data, user)
    if actor is not None and actor.id == user.id and Role.ADMIN in user.roles and Role.ADMIN not in roles:
        raise DomainError("You cannot remove your own administrator role.", field="roles")
    password_hash = (
        hash_password(data["password"], user_inputs=(values["email"], values["name"]))
        if data.get("password") else None
    )
    removed_roles = user.roles - roles
    old_supplier_id = user.supplier_id
    changes = apply_changes(user, values)
    changes.update(_set_roles(user, roles))
    if password_hash is not None:
        user.password_hash = password_hash
        changes["password"] = ["***", "***"]
    if changes:
        db.session.flush()
        record(user, "update", actor=actor, now=now, summary=f"Updated account {user.email}",
               changes=changes)
    reasons = [
        text for text, applies in (
            ("password reset", password_hash is not None),
            ("deactivated", "is_active" in changes and not user.is_active),
            ("roles removed: " + ", ".join(sorted(r.value for r in removed_roles)),
             bool(removed_roles)),
            ("supplier company changed", "supplier" in changes and old_supplier_id is not None),
        ) if applies
    ]
    if reasons:
        end_sessions(user, actor=actor, now=now, reason="; ".join(reasons))
    # Only a change that takes the person away from the supplier: editing the name of a contact
    # who left long ago must not tell the coordinators again.
    left = ("is_active" in changes and not user.is_active) or bool(removed_roles) \
        or user.supplier_id != old_supplier_id
    if old_supplier_id is not None and left:
        # Imported here: the findings feature builds on people's services.
        from audit.findings.notifying import notify_if_supplier_unanswered

        notify_if_supplier_unanswered(old_supplier_id, actor=actor, now=now)
    return user


def _qualification_values(data: dict) -> dict:
    user = get_or_fail(User, data.get("user_id"), field="user_id", what="auditor")
    standard = get_or_fail(Standard, data.get("standard_id"), field="standard_id", what="standard")
    if not isinstance(data.get("valid_from"), dt.date):
        raise DomainError("Enter the date the qualification starts.", field="valid_from")
    if data.get("valid_until") and data["valid_until"] < data["valid_from"]:
        raise DomainError("“Valid until” cannot be before “valid from”.", field="valid_until")
    return {
        "user": user,
        "standard": standard,
        "level": QualificationLevel(data.get("level") or "auditor"),
        "valid_from": data["valid_from"],
        "valid_until": data.get("valid_until"),
        "reference": (data.get("reference") or "").strip() or None,
    }


def create_qualification(data: dict, *, actor, now: dt.datetime) -> Qualification:
    """Record an auditor qualification for a standard."""
    values = _qualification_values(data)
    return save_with_trail(Qualification(), values, actor=actor, now=now,
                 label=f"qualification {values['level'].label} {values['standard'].label} "
                       f"for {values['user'].name}")


def update_qualification(q: Qualification, data: dict, *, actor, now) -> Qualification:
    """Update a qualification (e.g. extend its validity after re-training)."""
    return save_with_trail(q, _qualification_values(data), actor=actor, now=now,
                 label=f"qualification of {q.user.name}")


def _training_values(data: dict) -> dict:
    user = get_or_fail(User, data.get("user_id"), field="user_id", what="person")
    standard = get_or_fail(Standard, data.get("standard_id"), field="standard_id", what="standard",
                    optional=True)
    if not isinstance(data.get("completed_on"), dt.date):
        raise DomainError("Enter the completion date.", field="completed_on")
    return {
        "user": user,
        "title": data["title"].strip(),
        "provider": (data.get("provider") or "").strip() or None,
        "completed_on": data["completed_on"],
        "hours": data.get("hours"),
        "standard": standard,
        "notes": (data.get("notes") or "").strip() or None,
    }


def create_training_record(data: dict, *, actor, now: dt.datetime) -> TrainingRecord:
    """Record a completed training."""
    values = _training_values(data)
    return save_with_trail(TrainingRecord(), values, actor=actor, now=now,
                 label=f"training {values['title']} for {values['user'].name}")


def update_training_record(t: TrainingRecord, data: dict, *, actor, now) -> TrainingRecord:
    """Update a training record."""
    return save_with_trail(t, _training_values(data), actor=actor, now=now,
                 label=f"training {t.title}")
