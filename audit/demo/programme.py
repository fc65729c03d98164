"""Demo step: this year's audit programme with past, current and upcoming audits of all kinds.

Every audit is created through the audit services (so every team rule holds) and keyed by a
``generation_key`` of the form ``demo:<key>``: running the step twice adds nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.audits import services as audits
from audit.demo.programme_cycle import seed_cycle
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTrigger,
    Programme,
    ProgrammeStatus,
    TeamRole,
)
from audit.programme.cycle import certification_cycle
from audit.programme.services import change_programme_status, create_programme
from audit.programme.triggers import record_trigger

#: The path every finished audit walks, in order.
LIFE = (AuditStatus.SCHEDULED, AuditStatus.PLAN_ISSUED, AuditStatus.IN_PROGRESS,
        AuditStatus.FIELDWORK_COMPLETE, AuditStatus.REPORT_ISSUED, AuditStatus.CLOSED)


def weekday(day: dt.date, forward: bool = True) -> dt.date:
    """The nearest Monday–Friday from ``day`` (forward or backward)."""
    step = dt.timedelta(days=1 if forward else -1)
    while day.weekday() >= 5:
        day += step
    return day


def _unit(ctx, name: str, n: int):
    wanted = name if n == 1 else f"{name} {n}"
    return next(u for u in ctx.units if u.name == wanted)


def _period_end(ctx) -> dt.date:
    """The demo programme runs to the year's end, at least four months, and far enough to hold
    the certificate's next cycle step (rules generate only inside their programme's period)."""

    today = ctx.today
    ends = [dt.date(today.year, 12, 31), today + dt.timedelta(days=120)]
    cert = ctx.certificates.get("ISO 9001")
    if cert is not None:
        ends += [next((i.planned for i in certification_cycle(cert.decision_date, cert.expiry_date)
                       if i.planned > today), today)]
    return max(ends)


def _programme(ctx) -> Programme:
    today = ctx.today
    name = f"Audit programme {today.year}"
    programme = db.session.scalar(select(Programme).where(Programme.name == name))
    if programme is None:

        coordinator = ctx.users["coordinator"]
        programme = create_programme({
            "name": name,
            "period_start": min(dt.date(today.year, 1, 1), today - dt.timedelta(days=160)),
            "period_end": _period_end(ctx),
            "audit_client": "Dr. Heinz Vogel, managing director",
            "manager_id": coordinator.id,
            "objectives": "Confirm conformity with ISO 9001, 14001 and 45001; prepare the "
                          "surveillance audit; follow up last year's nonconformities.",
            "scope": "All processes at the Berlin, Chicago and Shanghai sites; critical suppliers.",
            "risks": "New CNC line in Berlin (change); supplier quality of castings; auditor capacity.",
        }, actor=coordinator, now=ctx.now - dt.timedelta(days=150))
        # Top management (the audit client) approves; the coordinator who prepared it may not.
        change_programme_status(programme, ProgrammeStatus.APPROVED, actor=ctx.users["viewer"],
                                now=ctx.now - dt.timedelta(days=149))
        change_programme_status(programme, ProgrammeStatus.ACTIVE, actor=coordinator,
                                now=ctx.now - dt.timedelta(days=149))
    return programme


def _make_audit(ctx, key: str, *, programme, title, kind, day: dt.date, days: int = 1, site=None,
                supplier=None, units=(), standards=("ISO 9001",), team=(), status=AuditStatus.PLANNED,
                third_party_type=None, certificate=None, checklist=None, dated=True) -> Audit:
    """Create (once) an audit and walk it to ``status`` with clocks at plausible moments."""
    gen_key = f"demo:{key}"
    audit = db.session.scalar(select(Audit).where(Audit.generation_key == gen_key))
    if audit is not None:
        return audit
    coordinator = ctx.users["coordinator"]
    zone = (site or supplier).timezone
    start = dt.datetime.combine(day, dt.time(8, 30))
    end = dt.datetime.combine(day + dt.timedelta(days=days - 1), dt.time(16, 30))
    created = min(ctx.now, audits.to_utc(start, zone) - dt.timedelta(days=30))
    data = {
        "title": title, "kind": kind, "third_party_type": third_party_type,
        "programme_id": programme.id, "site_id": site.id if site else None,
        "supplier_id": supplier.id if supplier else None,
        "certificate_id": certificate.id if certificate else None,
        "audit_client": programme.audit_client,
        "objectives": "Determine conformity of the audited processes and the effectiveness of the "
                      "management system; identify opportunities for improvement.",
        "scope": ", ".join(u.name for u in units) or (supplier.supplies if supplier else None),
        "criteria": ", ".join(standards) + " and the company's process descriptions",
        "unit_ids": [u.id for u in units],
        "standard_ids": [ctx.standards[s].id for s in standards],
        "planned_date": day, "planned_days": days,
        "checklist_version_id": checklist.id if checklist is not None else None,
    }
    if dated:
        data["starts_local"], data["ends_local"] = start, end
    audit = audits.create_audit(data, actor=coordinator, now=created)
    audit.generation_key = gen_key
    for user, role in team:
        audits.add_team_member(audit, user, role, actor=coordinator, now=created)
    if status is not AuditStatus.PLANNED:
        moments = {
            AuditStatus.SCHEDULED: created, AuditStatus.PLAN_ISSUED: created + dt.timedelta(days=16),
            AuditStatus.IN_PROGRESS: audits.to_utc(start, zone),
            AuditStatus.FIELDWORK_COMPLETE: audits.to_utc(end, zone),
            AuditStatus.REPORT_ISSUED: audits.to_utc(end, zone) + dt.timedelta(days=5),
            AuditStatus.CLOSED: audits.to_utc(end, zone) + dt.timedelta(days=40),
        }
        for step in LIFE:
            audits.change_status(audit, step, actor=coordinator, now=min(moments[step], ctx.now))
            if step is status:
                break
    return audit


def _seed_copy(ctx, programme, n: int) -> dict:
    """One copy of the demo audits; copy ``n`` > 1 uses the scaled sites, units and people."""
    s = "" if n == 1 else str(n)
    today = ctx.today
    users, sites = ctx.users, ctx.sites
    checklists = ctx.extra.get("checklists") or {}
    internal, supplier_cl = checklists.get("internal_9001"), checklists.get("supplier")
    lead, auditor, trainee = users[f"lead9001{s}"], users[f"auditor{s}"], users[f"trainee{s}"]
    maria, priya, carlos = users[f"coordinator{s}"], users[f"lead14001{s}"], users[f"lead45001{s}"]
    ber, chi, sha = sites[f"BER{s}"], sites[f"CHI{s}"], sites[f"SHA{s}"]
    internal_kind = AuditKind.INTERNAL
    made: dict = {"past": []}

    def past(key, days_ago, **kw):
        day = weekday(today - dt.timedelta(days=days_ago), forward=False)
        audit = _make_audit(ctx, f"{key}{s}", programme=programme, day=day, **kw)
        made["past"].append(audit)
        return audit

    past("ia-mgmt", 130, title="Management review and leadership", kind=internal_kind, site=ber,
         units=[_unit(ctx, "Management & strategy", n)], team=[(lead, TeamRole.LEAD)],
         status=AuditStatus.CLOSED, checklist=internal)
    past("ia-purchasing", 95, title="Purchasing and supplier control", kind=internal_kind, site=chi,
         units=[_unit(ctx, "Purchasing", n)], team=[(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR)],
         status=AuditStatus.REPORT_ISSUED, checklist=internal)
    past("ia-qc", 63, title="Inspection and release of product", kind=internal_kind, site=sha,
         units=[_unit(ctx, "Customer service & complaints", n)], team=[(maria, TeamRole.LEAD)],
         status=AuditStatus.REPORT_ISSUED, checklist=internal)
    past("ia-logistics", 24, title="Warehouse, handling and preservation", kind=internal_kind, site=chi,
         units=[_unit(ctx, "Warehouse & logistics", n)], standards=("ISO 9001", "ISO 45001"),
         team=[(carlos, TeamRole.LEAD)], status=AuditStatus.REPORT_ISSUED, checklist=internal)
    made["supplier"] = past(
        "sa-castings", 45, title="Supplier audit: aluminium castings", kind=AuditKind.SECOND_PARTY,
        supplier=ctx.suppliers["Precision Castings Ltd" if n == 1 else f"Precision Castings Ltd {n}"],
        team=[(lead, TeamRole.LEAD), (maria, TeamRole.AUDITOR)], status=AuditStatus.REPORT_ISSUED,
        checklist=supplier_cl)
    # The tablet journey: an audit on the floor in Berlin today.
    made["in_progress"] = _make_audit(
        ctx, f"ia-machining{s}", programme=programme, title="Production – machining: process audit",
        kind=internal_kind, day=today, site=ber, units=[_unit(ctx, "Production – machining", n)],
        team=[(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR), (trainee, TeamRole.TRAINEE)],
        status=AuditStatus.IN_PROGRESS, checklist=internal)
    upcoming = [
        ("ia-assembly", 8, "Assembly line safety and control", chi, "Production – assembly",
         ("ISO 45001",), [(carlos, TeamRole.LEAD)], AuditStatus.PLAN_ISSUED),
        ("ia-sales", 15, "Sales and contract review", ber, "Sales & contract review", ("ISO 9001",),
         [(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR)], AuditStatus.SCHEDULED),
        ("ia-maintenance", 22, "Maintenance and infrastructure", sha, "Maintenance", ("ISO 9001",),
         [(maria, TeamRole.LEAD)], AuditStatus.SCHEDULED),
        ("ia-ehs", 29, "Environmental aspects and legal compliance", chi, "Environment, health & safety",
         ("ISO 14001",), [(priya, TeamRole.LEAD)], AuditStatus.SCHEDULED),
    ]
    made["upcoming"] = [
        _make_audit(ctx, f"{key}{s}", programme=programme, title=title, kind=internal_kind,
                    day=weekday(today + dt.timedelta(days=days)), site=site, units=[_unit(ctx, unit, n)],
                    standards=stds, team=team, status=status, checklist=internal)
        for key, days, title, site, unit, stds, team, status in upcoming
    ]
    # Undated, unstaffed audits later in the year: the planner's work.
    made["unplanned"] = [
        _make_audit(ctx, f"{key}{s}", programme=programme, title=title, kind=internal_kind,
                    day=weekday(today + dt.timedelta(days=days)), site=site,
                    units=[_unit(ctx, unit, n)], standards=stds, dated=False, checklist=internal)
        for key, days, title, site, unit, stds in (
            ("ia-design", 50, "Design and development", ber, "Design & development", ("ISO 9001",)),
            ("ia-hr", 64, "Competence, training and awareness", ber, "Human resources & training",
             ("ISO 9001",)),
            ("ia-complaints", 78, "Customer complaints handling", sha, "Customer service & complaints",
             ("ISO 9001",)),
        )
    ]
    return made


#: Demo triggers: reference, kind, unit, days from today, title, details.
TRIGGERS = [
    ("CC-0142", "complaint", "Production – assembly", -12, "Pump housings delivered with loose fasteners",
     "Key account reports 6 of 250 pumps with under-torqued housing screws (lot 24-118)."),
    ("MOC-0031", "significant_change", "Warehouse & logistics", -20, "New warehouse management system went live",
     "Paper pick lists are replaced by handheld scanners; stock locations are re-numbered."),
]


def _seed_triggers(ctx) -> None:
    """A customer complaint and a planned change, each answered by an audit (idempotent by reference)."""

    for reference, kind, unit_name, offset, title, details in TRIGGERS:
        if db.session.scalar(select(AuditTrigger.id).where(AuditTrigger.external_reference == reference)):
            continue
        record_trigger({"kind": kind, "title": title, "description": details, "external_reference": reference,
                        "occurred_on": ctx.now.date() + dt.timedelta(days=offset),
                        "unit_id": _unit(ctx, unit_name, 1).id},
                       actor=ctx.users["coordinator"], now=ctx.now)


def seed(ctx) -> None:
    """This year's programme; audits past, today and upcoming; scaled copies for benchmarks."""
    programme = _programme(ctx)
    first = None
    total = 0
    for n in range(1, ctx.scale + 1):
        made = _seed_copy(ctx, programme, n)
        total += len(made["past"]) + 1 + len(made["upcoming"]) + len(made["unplanned"])
        if first is None:
            first = made

    seed_cycle(ctx, programme)
    _seed_triggers(ctx)
    db.session.flush()
    ctx.extra["programme"] = programme
    ctx.extra["audit_in_progress"] = first["in_progress"]
    ctx.extra["past_audits"] = [a for a in first["past"] if a.report_issued_at is not None]
    ctx.extra["supplier_audit"] = first["supplier"]
    ctx.extra["upcoming_audits"] = first["upcoming"]
    ctx.summary["audits"] = total
