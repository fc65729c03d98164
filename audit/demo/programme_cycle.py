"""Demo step helper: the ISO 9001 certificate's cycle as a programme rule with generated audits."""

from __future__ import annotations

from sqlalchemy import select

from audit.audits.services import add_team_member, change_status, to_utc, update_audit
from audit.extensions import db
from audit.models import AuditStatus, ProgrammeRule, RuleKind, TeamRole
from audit.programme.generation import generate_programme
from audit.programme.rules import add_rule


def seed_cycle(ctx, programme) -> None:
    """Certification rule for our ISO 9001 certificate; surveillance 1 (past) walked to report issued."""
    import datetime as dt

    cert = ctx.certificates.get("ISO 9001")
    if cert is None:
        return
    coordinator = ctx.users["coordinator"]
    rule = db.session.scalar(select(ProgrammeRule).where(ProgrammeRule.certificate_id == cert.id,
                                                         ProgrammeRule.programme_id == programme.id))
    if rule is None:
        rule = add_rule(programme, {"kind": RuleKind.CERTIFICATION, "title": f"ISO 9001 certificate {cert.number}",
                                    "certificate_id": cert.id, "site_id": ctx.sites["BER"].id,
                                    "planned_days": 2, "horizon_months": 15},
                        actor=coordinator, now=ctx.now)
    # Generate from the decision onwards so the past surveillance exists as a real audit too.
    generate_programme(programme, actor=coordinator, now=ctx.now - dt.timedelta(days=400))
    generate_programme(programme, actor=coordinator, now=ctx.now)

    for audit in rule.audits:
        if audit.planned_date < ctx.today and audit.status is AuditStatus.PLANNED:
            start = dt.datetime.combine(audit.planned_date, dt.time(8, 30))
            values = {"title": audit.title, "kind": audit.kind, "third_party_type": audit.third_party_type,
                      "site_id": audit.site_id, "programme_id": audit.programme_id,
                      "certificate_id": audit.certificate_id,
                      "certification_body_id": audit.certification_body_id,
                      "audit_client": audit.audit_client, "objectives": audit.objectives, "scope": audit.scope,
                      "criteria": audit.criteria, "unit_ids": [], "standard_ids": [s.id for s in audit.standards],
                      "planned_days": audit.planned_days, "starts_local": start,
                      "ends_local": start + dt.timedelta(days=audit.planned_days - 1, hours=8)}
            when = to_utc(start, audit.timezone)
            update_audit(audit, values, actor=coordinator, now=when - dt.timedelta(days=30))
            add_team_member(audit, coordinator, TeamRole.GUIDE, actor=coordinator, now=when - dt.timedelta(days=30))
            for step in (AuditStatus.SCHEDULED, AuditStatus.IN_PROGRESS, AuditStatus.FIELDWORK_COMPLETE,
                         AuditStatus.REPORT_ISSUED):
                change_status(audit, step, actor=coordinator, now=when + dt.timedelta(days=2))
    ctx.extra["certification_rule"] = rule
