"""Demo step: standards, sites, people with qualifications, units, suppliers, CB, certificate."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from audit.demo import DEMO_PASSWORD
from audit.extensions import db
from audit.library.services import load_library_file
from audit.models import (
    ApprovalStatus,
    Certificate,
    CertificationBody,
    Qualification,
    QualificationLevel,
    RiskClass,
    Role,
    Site,
    SiteHoliday,
    Standard,
    Supplier,
    TrainingRecord,
    Unit,
    UnitKind,
    User,
    UserRole,
)
from audit.organisation.services import default_expiry

SITES = [
    ("BER", "Berlin plant", "Europe/Berlin", "Industriestraße 12, 12099 Berlin, Germany"),
    ("CHI", "Chicago assembly", "America/Chicago", "2400 W Fulton St, Chicago, IL 60612, USA"),
    ("SHA", "Shanghai components", "Asia/Shanghai", "88 Zhangjiang Rd, Pudong, Shanghai, China"),
]

#: key, name, e-mail, roles, home site, job title
PEOPLE = [
    ("admin", "Alex Admin", "admin@example.com", [Role.ADMIN], "BER", "IT administrator"),
    ("coordinator", "Maria Keller", "coordinator@example.com", [Role.COORDINATOR, Role.AUDITOR],
     "BER", "Quality manager / audit programme manager"),
    ("lead9001", "Jonas Weber", "lead@example.com", [Role.AUDITOR], "BER", "Lead auditor QMS"),
    ("lead14001", "Priya Natarajan", "priya@example.com", [Role.AUDITOR], "CHI",
     "EHS lead auditor"),
    ("lead45001", "Carlos Mendes", "carlos@example.com", [Role.AUDITOR], "CHI",
     "Safety lead auditor"),
    ("auditor", "Li Wei", "auditor@example.com", [Role.AUDITOR], "SHA", "Internal auditor"),
    ("trainee", "Emma Schulz", "trainee@example.com", [Role.AUDITOR], "BER", "Quality engineer"),
    ("owner", "Tom Becker", "owner@example.com", [Role.AUDITEE], "BER", "Head of production"),
    ("owner2", "Ana Lopez", "ana@example.com", [Role.AUDITEE], "CHI", "Logistics manager"),
    ("owner3", "Zhang Min", "zhang@example.com", [Role.AUDITEE], "SHA", "Plant manager"),
    ("viewer", "Dr. Heinz Vogel", "management@example.com", [Role.VIEWER], "BER",
     "Managing director"),
]

#: name, kind, site, owner key, importance, change, maturity, standards, member keys
UNITS = [
    ("Management & strategy", UnitKind.PROCESS, "BER", "viewer", 3, 0, 0, ["ISO 9001"], []),
    ("Sales & contract review", UnitKind.PROCESS, "BER", "coordinator", 2, 1, 0, ["ISO 9001"], []),
    ("Design & development", UnitKind.PROCESS, "BER", "owner", 3, 2, 1, ["ISO 9001"], ["trainee"]),
    ("Purchasing", UnitKind.PROCESS, "CHI", "owner2", 2, 0, 0, ["ISO 9001"], []),
    ("Production – machining", UnitKind.PROCESS, "BER", "owner", 3, 1, 0,
     ["ISO 9001", "ISO 14001", "ISO 45001"], []),
    ("Production – assembly", UnitKind.PROCESS, "CHI", "owner2", 3, 0, 0,
     ["ISO 9001", "ISO 45001"], []),
    ("Quality control & inspection", UnitKind.PROCESS, "SHA", "owner3", 3, 0, 0, ["ISO 9001"],
     ["auditor"]),
    ("Warehouse & logistics", UnitKind.PROCESS, "CHI", "owner2", 2, 0, 0,
     ["ISO 9001", "ISO 45001"], []),
    ("Maintenance", UnitKind.DEPARTMENT, "SHA", "owner3", 2, 1, 0, ["ISO 9001", "ISO 45001"], []),
    ("Human resources & training", UnitKind.DEPARTMENT, "BER", "coordinator", 1, 0, 0,
     ["ISO 9001"], []),
    ("Environment, health & safety", UnitKind.DEPARTMENT, "CHI", "owner2", 2, 1, 0,
     ["ISO 14001", "ISO 45001"], []),
    ("Customer service & complaints", UnitKind.PROCESS, "SHA", "owner3", 2, 0, 1, ["ISO 9001"], []),
]

#: name, supplies, risk, approval, country, zone
SUPPLIERS = [
    ("Precision Castings Ltd", "Aluminium castings", RiskClass.HIGH, ApprovalStatus.ON_PROBATION,
     "United Kingdom", "Europe/London"),
    ("Nordic Steel AB", "Bar stock and plate", RiskClass.HIGH, ApprovalStatus.APPROVED,
     "Sweden", "Europe/Stockholm"),
    ("Midwest Plastics Inc.", "Injection-moulded housings", RiskClass.MEDIUM,
     ApprovalStatus.APPROVED, "USA", "America/Chicago"),
    ("Shenzhen Electronics Co.", "PCB assemblies", RiskClass.HIGH,
     ApprovalStatus.CONDITIONALLY_APPROVED, "China", "Asia/Shanghai"),
    ("Rheinland Fasteners GmbH", "Screws, nuts, washers", RiskClass.LOW, ApprovalStatus.APPROVED,
     "Germany", "Europe/Berlin"),
    ("Lakeside Packaging", "Cartons and foam inserts", RiskClass.LOW, ApprovalStatus.APPROVED,
     "USA", "America/Chicago"),
    ("Kalibra Calibration Services", "Calibration of gauges", RiskClass.MEDIUM,
     ApprovalStatus.APPROVED, "Germany", "Europe/Berlin"),
    ("Apex Heat Treatment", "Hardening and tempering", RiskClass.MEDIUM,
     ApprovalStatus.UNDER_EVALUATION, "Poland", "Europe/Warsaw"),
]


def _get_or_create(model, lookup: dict, **values):
    obj = db.session.scalar(select(model).filter_by(**lookup))
    if obj is None:
        obj = model(**lookup, **values)
        db.session.add(obj)
        db.session.flush()
    return obj


def seed(ctx) -> None:
    """Create the organisation; idempotent by natural keys."""

    load_library_file(now=ctx.now)
    for std in db.session.scalars(select(Standard)):
        ctx.standards[std.code] = std
    today = ctx.today
    password_hash = generate_password_hash(DEMO_PASSWORD)

    for code, name, zone, address in SITES:
        ctx.sites[code] = _get_or_create(Site, {"code": code}, name=name, timezone=zone,
                                         address=address)
    for n in range(2, ctx.scale + 1):  # scaled copies of the sites
        for code, name, zone, address in SITES:
            key = f"{code}{n}"
            ctx.sites[key] = _get_or_create(Site, {"code": key}, name=f"{name} {n}",
                                            timezone=zone, address=address)
    # Public holidays the planner must avoid (next occurrences, relative to today).
    for code, month, day, label in (("BER", 10, 3, "Day of German Unity"),
                                    ("BER", 12, 25, "Christmas Day"),
                                    ("CHI", 7, 4, "Independence Day"),
                                    ("CHI", 12, 25, "Christmas Day"),
                                    ("SHA", 10, 1, "National Day")):
        for year in (today.year, today.year + 1):
            _get_or_create(SiteHoliday, {"site_id": ctx.sites[code].id,
                                         "day": dt.date(year, month, day)}, name=label)

    people = list(PEOPLE)
    for n in range(2, ctx.scale + 1):
        for key, name, email, roles, site, title in PEOPLE:
            if key == "admin":
                continue
            local, domain = email.split("@")
            people.append((f"{key}{n}", f"{name} {n}", f"{local}{n}@{domain}", roles,
                           site if n == 1 else f"{site}{n}", title))
    for key, name, email, roles, site, title in people:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            zone = ctx.sites[site].timezone
            user = User(email=email, name=name, password_hash=password_hash, timezone=zone,
                        job_title=title, role_links=[UserRole(role=r) for r in roles])
            db.session.add(user)
            db.session.flush()
        ctx.users[key] = user

    supplier_rows = list(SUPPLIERS)
    for n in range(2, ctx.scale + 1):
        supplier_rows += [(f"{s[0]} {n}", *s[1:]) for s in SUPPLIERS]
    for name, supplies, risk, approval, country, zone in supplier_rows:
        ctx.suppliers[name] = _get_or_create(
            Supplier, {"name": name}, supplies=supplies, risk_class=risk,
            approval_status=approval, country=country, timezone=zone,
            contact_name="Quality contact", contact_email="quality@" + name.split()[0].lower()
            + ".example.com",
        )
    # The supplier contact logs in and sees only their company's SCARs.
    supplier_contact = db.session.scalar(select(User).where(User.email == "supplier@example.com"))
    if supplier_contact is None:
        supplier_contact = User(
            email="supplier@example.com", name="Sam Carter", password_hash=password_hash,
            timezone="Europe/London", job_title="Quality manager, Precision Castings",
            supplier=ctx.suppliers["Precision Castings Ltd"],
            role_links=[UserRole(role=Role.SUPPLIER)],
        )
        db.session.add(supplier_contact)
        db.session.flush()
    ctx.users["supplier"] = supplier_contact

    for n in range(1, ctx.scale + 1):
        suffix = "" if n == 1 else str(n)
        for name, kind, site, owner, imp, chg, mat, stds, members in UNITS:
            unit_name = name if n == 1 else f"{name} {n}"
            unit = db.session.scalar(select(Unit).where(Unit.name == unit_name))
            if unit is None:
                unit = Unit(name=unit_name, kind=kind, site=ctx.sites[f"{site}{suffix}" if n > 1 else site],
                            owner=ctx.users[f"{owner}{suffix}"], importance=imp, change_level=chg,
                            maturity_risk=mat,
                            standards=[ctx.standards[s] for s in stds],
                            members=[ctx.users[f"{m}{suffix}"] for m in members])
                db.session.add(unit)
                db.session.flush()
            ctx.units.append(unit)

    _seed_qualifications(ctx)

    cb = _get_or_create(CertificationBody, {"name": "Certa Cert GmbH"},
                        accreditation="DAkkS D-ZM-16024-01-00",
                        contact_email="audits@certa-cert.example.com",
                        website="https://certa-cert.example.com")
    ctx.extra["certification_body"] = cb
    # Our ISO 9001 certificate, mid-cycle: decided about 14 months ago.
    decision = today - relativedelta(months=14)
    ctx.certificates["ISO 9001"] = _get_or_create(
        Certificate, {"number": "QM-2024-0815"}, standard=ctx.standards["ISO 9001"],
        certification_body=cb, scope="Design, machining and assembly of precision drive units",
        decision_date=decision, expiry_date=default_expiry(decision), cycle_number=2,
    )
    # Suppliers' own certificates: one valid, one already expired.
    _get_or_create(Certificate, {"number": "NS-9001-7731"}, standard=ctx.standards["ISO 9001"],
                   supplier=ctx.suppliers["Nordic Steel AB"], scope="Steel bar and plate",
                   decision_date=today - relativedelta(months=20),
                   expiry_date=default_expiry(today - relativedelta(months=20)))
    _get_or_create(Certificate, {"number": "PC-9001-1202"}, standard=ctx.standards["ISO 9001"],
                   supplier=ctx.suppliers["Precision Castings Ltd"], scope="Aluminium casting",
                   decision_date=today - relativedelta(years=3, months=2),
                   expiry_date=default_expiry(today - relativedelta(years=3, months=2)))
    ctx.summary.update({
        "sites": len(ctx.sites), "users": len(ctx.users), "units": len(ctx.units),
        "suppliers": len(ctx.suppliers),
    })


def _seed_qualifications(ctx) -> None:
    today = ctx.today
    q9001, q14001, q45001 = (ctx.standards[c] for c in ("ISO 9001", "ISO 14001", "ISO 45001"))
    plan = [
        ("coordinator", q9001, QualificationLevel.LEAD, 4, 2),
        ("lead9001", q9001, QualificationLevel.LEAD, 3, 2),
        ("lead9001", q14001, QualificationLevel.AUDITOR, 2, 1),
        ("lead14001", q14001, QualificationLevel.LEAD, 3, 2),
        ("lead14001", q9001, QualificationLevel.AUDITOR, 2, 2),
        ("lead45001", q45001, QualificationLevel.LEAD, 3, 2),
        ("lead45001", q9001, QualificationLevel.AUDITOR, 1, 2),
        ("auditor", q9001, QualificationLevel.AUDITOR, 2, 1),
        ("auditor", q45001, QualificationLevel.AUDITOR, 3, -1),  # expired a year ago
        ("trainee", q9001, QualificationLevel.TRAINEE, 0, 1),
    ]
    for n in range(1, ctx.scale + 1):
        suffix = "" if n == 1 else str(n)
        for key, standard, level, years_ago, years_left in plan:
            user = ctx.users[f"{key}{suffix}"]
            _get_or_create(
                Qualification, {"user_id": user.id, "standard_id": standard.id, "level": level},
                valid_from=today - relativedelta(years=years_ago, months=1),
                valid_until=today + relativedelta(years=years_left),
                reference=f"{standard.code} {level.value} course",
            )
            _get_or_create(
                TrainingRecord, {"user_id": user.id, "title": f"{standard.code} {level.label} course"},
                provider="Quality Academy", completed_on=today - relativedelta(years=years_ago, months=2),
                hours=40 if level is QualificationLevel.LEAD else 16, standard_id=standard.id,
            )
