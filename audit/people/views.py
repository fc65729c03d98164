"""People pages: accounts (administrators), qualifications and training (coordinators)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission
from audit.core.crud import Column, Resource, register
from audit.models import Qualification, TrainingRecord, User
from audit.people import forms, services

bp = Blueprint("people", __name__, url_prefix="/people")


def _user_details(u: User) -> list[tuple[str, object]]:
    return [
        ("E-mail", u.email),
        ("Job title", u.job_title),
        ("Roles", ", ".join(sorted(r.label for r in u.roles))),
        ("Supplier", u.supplier.name if u.supplier else None),
        ("Time zone", u.timezone),
        ("Active", "yes" if u.is_active else "no"),
        ("Qualifications", "; ".join(
            f"{q.level.label} {q.standard.label}"
            + (f" until {q.valid_until:%d %b %Y}" if q.valid_until else "")
            for q in u.qualifications) or "—"),
        ("Training", "; ".join(f"{t.title} ({t.completed_on:%d %b %Y})"
                               for t in u.training_records) or "—"),
    ]


USERS = Resource(
    name="user",
    plural="users",
    title="People",
    model=User,
    form=forms.UserForm,
    create=services.create_user,
    update=services.update_user,
    columns=[
        Column("Name", lambda u: u.name, link=True),
        Column("E-mail", lambda u: u.email),
        Column("Roles", lambda u: ", ".join(sorted(r.label for r in u.roles))),
        Column("Job title", lambda u: u.job_title or ""),
        Column("Active", lambda u: "yes" if u.is_active else "no"),
    ],
    list_query=lambda: select(User).options(selectinload(User.role_links)).order_by(User.name, User.id),
    label=lambda u: u.name,
    write_permission=Permission.MANAGE_USERS,
    form_data=lambda u: {
        "name": u.name, "email": u.email, "job_title": u.job_title,
        "roles": sorted(r.value for r in u.roles), "supplier_id": u.supplier_id or 0,
        "timezone": u.timezone, "is_active": u.is_active,
    },
    details=_user_details,
)

QUALIFICATIONS = Resource(
    name="qualification",
    plural="qualifications",
    title="Auditor qualifications",
    model=Qualification,
    form=forms.QualificationForm,
    create=services.create_qualification,
    update=services.update_qualification,
    columns=[
        Column("Auditor", lambda q: q.user.name, link=True),
        Column("Standard", lambda q: q.standard.label),
        Column("Level", lambda q: q.level.label),
        Column("Valid from", lambda q: f"{q.valid_from:%d %b %Y}"),
        Column("Valid until", lambda q: f"{q.valid_until:%d %b %Y}" if q.valid_until else "—"),
    ],
    list_query=lambda: select(Qualification)
    .options(joinedload(Qualification.user), joinedload(Qualification.standard))
    .order_by(Qualification.user_id, Qualification.id),
    label=lambda q: f"{q.level.label} {q.standard.label} – {q.user.name}",
    write_permission=Permission.MANAGE_QUALIFICATIONS,
    form_data=lambda q: {
        "user_id": q.user_id, "standard_id": q.standard_id, "level": q.level.value,
        "valid_from": q.valid_from, "valid_until": q.valid_until, "reference": q.reference,
    },
    details=lambda q: [
        ("Auditor", q.user.name), ("Standard", q.standard.label), ("Level", q.level.label),
        ("Valid from", f"{q.valid_from:%d %b %Y}"),
        ("Valid until", f"{q.valid_until:%d %b %Y}" if q.valid_until else "no expiry"),
        ("Reference", q.reference),
    ],
    intro="Only auditors with a valid qualification for a standard can be assigned to its audits; "
    "leading needs a lead-auditor qualification.",
)

TRAINING = Resource(
    name="training",
    plural="training",
    title="Training records",
    model=TrainingRecord,
    form=forms.TrainingRecordForm,
    create=services.create_training_record,
    update=services.update_training_record,
    columns=[
        Column("Person", lambda t: t.user.name, link=True),
        Column("Training", lambda t: t.title),
        Column("Completed", lambda t: f"{t.completed_on:%d %b %Y}"),
        Column("Hours", lambda t: t.hours or ""),
    ],
    list_query=lambda: select(TrainingRecord)
    .options(joinedload(TrainingRecord.user))
    .order_by(TrainingRecord.completed_on.desc(), TrainingRecord.id.desc()),
    label=lambda t: t.title,
    write_permission=Permission.MANAGE_QUALIFICATIONS,
    form_data=lambda t: {
        "user_id": t.user_id, "title": t.title, "provider": t.provider,
        "completed_on": t.completed_on, "hours": t.hours, "standard_id": t.standard_id or 0,
        "notes": t.notes,
    },
    details=lambda t: [
        ("Person", t.user.name), ("Training", t.title), ("Provider", t.provider),
        ("Completed", f"{t.completed_on:%d %b %Y}"), ("Hours", t.hours),
        ("Standard", t.standard.label if t.standard else None), ("Notes", t.notes),
    ],
)

for _resource in (USERS, QUALIFICATIONS, TRAINING):
    register(bp, _resource)
