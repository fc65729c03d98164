"""Organisation pages: sites, units, suppliers, certification bodies, certificates."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload, with_expression

from audit.auth.permissions import Permission
from audit.core.crud import Column, Resource, register
from audit.models import Certificate, CertificationBody, Site, SiteHoliday, Supplier, Unit
from audit.organisation import forms, services

bp = Blueprint("organisation", __name__, url_prefix="/organisation")

SITES = Resource(
    name="site",
    plural="sites",
    title="Sites",
    model=Site,
    form=forms.SiteForm,
    create=services.create_site,
    update=services.update_site,
    columns=[
        Column("Name", lambda s: s.name, link=True),
        Column("Code", lambda s: s.code),
        Column("Time zone", lambda s: s.timezone),
        Column("Units", lambda s: s.unit_count),
        Column("Active", lambda s: "yes" if s.is_active else "no"),
    ],
    # The unit count as a correlated COUNT in the same statement, not a load of every unit.
    list_query=lambda: select(Site).options(with_expression(
        Site.unit_count,
        select(func.count(Unit.id)).where(Unit.site_id == Site.id).correlate(Site).scalar_subquery(),
    )).order_by(Site.name, Site.id),
    label=lambda s: s.name,
    write_permission=Permission.MANAGE_ORGANISATION,
    details=lambda s: [
        ("Code", s.code), ("Time zone", s.timezone), ("Address", s.address),
        ("Units", ", ".join(u.name for u in s.units)),
        ("Holidays", ", ".join(f"{h.day:%d %b %Y} {h.name}" for h in s.holidays)),
    ],
    intro="Each site has an IANA time zone; audit times there are entered and shown in it.",
)

UNITS = Resource(
    name="unit",
    plural="units",
    title="Auditable units",
    model=Unit,
    form=forms.UnitForm,
    create=services.create_unit,
    update=services.update_unit,
    columns=[
        Column("Name", lambda u: u.name, link=True),
        Column("Kind", lambda u: u.kind.value),
        Column("Site", lambda u: u.site.name),
        Column("Owner", lambda u: u.owner.name if u.owner else "—"),
        Column("Standards", lambda u: ", ".join(s.code for s in u.standards)),
        Column("Risk factors", lambda u: f"I{u.importance} C{u.change_level} M{u.maturity_risk}"),
    ],
    list_query=lambda: select(Unit)
    .options(joinedload(Unit.site), joinedload(Unit.owner), selectinload(Unit.standards))
    .order_by(Unit.name),
    label=lambda u: u.name,
    write_permission=Permission.MANAGE_ORGANISATION,
    form_data=lambda u: {
        "name": u.name, "kind": u.kind.value, "site_id": u.site_id, "owner_id": u.owner_id or 0,
        "description": u.description, "importance": u.importance,
        "change_level": u.change_level, "maturity_risk": u.maturity_risk,
        "standard_ids": [s.id for s in u.standards], "member_ids": [m.id for m in u.members],
        "is_active": u.is_active,
    },
    details=lambda u: [
        ("Kind", u.kind.value), ("Site", u.site.name),
        ("Owner", u.owner.name if u.owner else "—"),
        ("Members", ", ".join(m.name for m in u.members) or "—"),
        ("Standards", ", ".join(s.label for s in u.standards) or "—"),
        ("Importance / change / immaturity", f"{u.importance} / {u.change_level} / {u.maturity_risk}"),
        ("Description", u.description),
    ],
    intro="Processes and departments that audits cover, with the risk factors that set how often.",
)

SUPPLIERS = Resource(
    name="supplier",
    plural="suppliers",
    title="Suppliers",
    model=Supplier,
    form=forms.SupplierForm,
    create=services.create_supplier,
    update=services.update_supplier,
    columns=[
        Column("Name", lambda s: s.name, link=True),
        Column("Supplies", lambda s: s.supplies or ""),
        Column("Risk", lambda s: s.risk_class.value),
        Column("Approval", lambda s: s.approval_status.label),
        Column("Country", lambda s: s.country or ""),
    ],
    list_query=lambda: select(Supplier).order_by(Supplier.name),
    label=lambda s: s.name,
    write_permission=Permission.MANAGE_ORGANISATION,
    form_data=lambda s: {
        "name": s.name, "contact_name": s.contact_name, "contact_email": s.contact_email,
        "phone": s.phone, "country": s.country, "supplies": s.supplies, "timezone": s.timezone,
        "risk_class": s.risk_class.value, "approval_status": s.approval_status.value,
        "notes": s.notes,
    },
    details=lambda s: [
        ("Supplies", s.supplies), ("Contact", f"{s.contact_name or ''} {s.contact_email or ''}"),
        ("Phone", s.phone), ("Country", s.country), ("Time zone", s.timezone),
        ("Risk class", s.risk_class.value), ("Approval status", s.approval_status.label),
        ("Certificates", ", ".join(f"{c.standard.label} until {c.expiry_date:%d %b %Y}"
                                   for c in s.certificates) or "—"),
        ("Notes", s.notes),
    ],
)

CERTIFICATION_BODIES = Resource(
    name="certification_body",
    plural="certification-bodies",
    title="Certification bodies",
    model=CertificationBody,
    form=forms.CertificationBodyForm,
    create=services.create_certification_body,
    update=services.update_certification_body,
    columns=[
        Column("Name", lambda c: c.name, link=True),
        Column("Accreditation", lambda c: c.accreditation or ""),
        Column("Contact", lambda c: c.contact_email or ""),
    ],
    list_query=lambda: select(CertificationBody).order_by(CertificationBody.name),
    label=lambda c: c.name,
    write_permission=Permission.MANAGE_ORGANISATION,
    details=lambda c: [("Accreditation", c.accreditation), ("Contact", c.contact_email),
                       ("Website", c.website)],
)

CERTIFICATES = Resource(
    name="certificate",
    plural="certificates",
    title="Certificates",
    model=Certificate,
    form=forms.CertificateForm,
    create=services.create_certificate,
    update=services.update_certificate,
    columns=[
        Column("Number", lambda c: c.number or f"#{c.id}", link=True),
        Column("Standard", lambda c: c.standard.label),
        Column("Holder", lambda c: c.supplier.name if c.supplier else "Our organisation"),
        Column("Body", lambda c: c.certification_body.name if c.certification_body else "—"),
        Column("Decision", lambda c: f"{c.decision_date:%d %b %Y}"),
        Column("Expiry", lambda c: f"{c.expiry_date:%d %b %Y}"),
        Column("Status", lambda c: c.status.value),
    ],
    list_query=lambda: select(Certificate)
    .options(joinedload(Certificate.standard), joinedload(Certificate.supplier),
             joinedload(Certificate.certification_body))
    .order_by(Certificate.expiry_date),
    label=lambda c: c.number or c.standard.label,
    write_permission=Permission.MANAGE_ORGANISATION,
    form_data=lambda c: {
        "standard_id": c.standard_id, "certification_body_id": c.certification_body_id or 0,
        "supplier_id": c.supplier_id or 0, "number": c.number, "scope": c.scope,
        "decision_date": c.decision_date, "expiry_date": c.expiry_date,
        "status": c.status.value, "is_accredited": c.is_accredited,
        "cycle_number": c.cycle_number,
    },
    details=lambda c: [
        ("Standard", c.standard.label),
        ("Holder", c.supplier.name if c.supplier else "Our organisation"),
        ("Certification body", c.certification_body.name if c.certification_body else "—"),
        ("Scope", c.scope), ("Decision", f"{c.decision_date:%d %b %Y}"),
        ("Expiry", f"{c.expiry_date:%d %b %Y}"), ("Status", c.status.value),
        ("Accredited", "yes" if c.is_accredited else "no"), ("Cycle", c.cycle_number),
    ],
    intro="The 3-year cycle starts at the certification decision (ISO/IEC 17021-1).",
)

HOLIDAYS = Resource(
    name="holiday",
    plural="holidays",
    title="Site holidays",
    model=SiteHoliday,
    form=forms.SiteHolidayForm,
    create=services.create_site_holiday,
    update=services.update_site_holiday,
    columns=[
        Column("Day", lambda h: f"{h.day:%a %d %b %Y}", link=True),
        Column("Site", lambda h: h.site.name),
        Column("Name", lambda h: h.name),
    ],
    list_query=lambda: select(SiteHoliday).options(joinedload(SiteHoliday.site))
    .order_by(SiteHoliday.day),
    label=lambda h: f"{h.name} ({h.day:%d %b %Y})",
    write_permission=Permission.MANAGE_ORGANISATION,
    details=lambda h: [("Site", h.site.name), ("Day", f"{h.day:%A %d %B %Y}"), ("Name", h.name)],
    intro="Days a site is closed. The audit planner never proposes them.",
)

RESOURCES = (SITES, UNITS, SUPPLIERS, CERTIFICATION_BODIES, CERTIFICATES, HOLIDAYS)
for _resource in RESOURCES:
    register(bp, _resource)
