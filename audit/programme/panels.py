"""Programme's contributions to other pages (registered by ``audit.programme.init_app``): the home
panels "My next audits" and "Programme health", and the audit page's cycle and trigger sections."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits.workload import over_limit_months
from audit.auth.permissions import Permission
from audit.extensions import db
from audit.models import Audit, AuditKind, AuditStatus, AuditTeamMember, TeamRole, ThirdPartyType, utcnow
from audit.models.types import SITE_DAY_MARGIN, latest_site_date
from audit.programme.deadlines import cycle_status, cycle_warnings
from audit.programme.rules import explain_rules
from audit.programme.stage2 import stage2_findings, stage2_state
from audit.programme.triggers import triggers_of


def my_next_audits(user, *, now: dt.datetime, limit: int = 6) -> list[Audit]:
    """Open audits ``user`` is in the team of, current and upcoming first."""
    stmt = (
        select(Audit).join(AuditTeamMember)
        .where(AuditTeamMember.user_id == user.id, Audit.status.in_(AuditStatus.live()),
               (Audit.ends_at.is_(None)) | (Audit.ends_at >= now - dt.timedelta(days=1)))
        .options(joinedload(Audit.site), joinedload(Audit.supplier),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user))
        .order_by(Audit.starts_at.nulls_last(), Audit.planned_date).limit(limit)
    )
    return list(db.session.scalars(stmt).unique())


#: "Due soon" for an audit still without a lead.
UNSTAFFED_SOON = dt.timedelta(days=45)
#: Months ahead (this one included) the panel counts auditors past the workload limit in.
WORKLOAD_MONTHS = 3


def _count_at_site(stmt, holds, *, now: dt.datetime) -> int:
    """How many audits of ``stmt`` ``holds(audit, today)`` for, ``today`` being the date at the
    audit's own site (``Audit.local_today``), as the sweeps count days. ``stmt`` selects with a
    day's margin (``SITE_DAY_MARGIN``) around UTC's date; only those audits are loaded."""
    audits = db.session.scalars(stmt.options(joinedload(Audit.site), joinedload(Audit.supplier))).unique()
    return sum(1 for audit in audits if holds(audit, audit.local_today(now)))


def programme_health(*, now: dt.datetime) -> dict:
    """Counts a coordinator acts on: undated or unstaffed soon, overdue, reports late, and
    auditors past the monthly workload limit in the coming months.

    Days are the audit site's days, as in the sweeps: "overdue" is what
    ``audits.reminders.send_overdue_audits`` escalates (its dates have passed, or, undated, its
    planned day is over at its site) and "reports late" what ``send_report_reminders`` does.
    """
    utc_today = now.astimezone(dt.UTC).date()
    latest_today = latest_site_date(now)
    base = select(func.count(Audit.id))
    not_started = Audit.status.in_(AuditStatus.not_started())
    unstaffed = select(Audit).where(
        Audit.status.in_((AuditStatus.PLANNED, AuditStatus.SCHEDULED)), Audit.kind != AuditKind.THIRD_PARTY,
        Audit.planned_date.between(utc_today - SITE_DAY_MARGIN, latest_today + UNSTAFFED_SOON),
        ~Audit.team.any(AuditTeamMember.role == TeamRole.LEAD))
    undated_late = select(Audit).where(not_started, Audit.starts_at.is_(None),
                                       Audit.planned_date < latest_today)
    reports = select(Audit).where(Audit.status.in_(AuditStatus.fieldwork()),
                                  Audit.report_due_on < latest_today)
    # A dated audit is late once it should have ended: an instant, the same at every site.
    dated_late = db.session.scalar(base.where(not_started, Audit.ends_at.is_not(None), Audit.ends_at < now))
    return {
        "unstaffed_soon": _count_at_site(
            unstaffed, lambda audit, today: today <= audit.planned_date <= today + UNSTAFFED_SOON, now=now),
        "undated": db.session.scalar(base.where(Audit.status == AuditStatus.PLANNED,
                                                Audit.starts_at.is_(None))),
        "overdue": dated_late + _count_at_site(undated_late, lambda audit, today: audit.planned_date < today,
                                               now=now),
        "reports_late": _count_at_site(reports, lambda audit, today: audit.report_due_on < today, now=now),
        "in_progress": db.session.scalar(base.where(Audit.status == AuditStatus.IN_PROGRESS)),
        # The workload page's rule: months of an auditor past the limit, this month and the next two.
        "over_limit": over_limit_months(first=utc_today.replace(day=1), months=WORKLOAD_MONTHS),
        "workload_months": WORKLOAD_MONTHS,
    }


def my_audits_panel(user):
    audits = my_next_audits(user, now=utcnow())
    if not audits:
        return None
    return {"title": "My next audits", "template": "programme/panel_my_audits.html",
            "context": {"audits": audits}}


def health_panel(user):
    if not user.can(Permission.MANAGE_PROGRAMME):
        return None
    return {"title": "Programme health", "template": "programme/panel_health.html",
            "context": {"health": programme_health(now=utcnow())}}



def cycle_section(audit, user):
    """On a certification audit's page: where it sits in the certificate's cycle, and any rule
    its planned date breaks (surveillance deadline, one per calendar year, recertification)."""
    if audit.certificate_id is None or audit.third_party_type is None:
        return None

    cert = audit.certificate
    siblings = db.session.scalars(select(Audit).where(Audit.certificate_id == cert.id)).all()
    rows = cycle_status(cert, siblings)
    mine = next((r for r in rows if r["audit"] is not None and r["audit"].id == audit.id), None)
    return {"title": "Certification cycle", "template": "programme/section_cycle.html",
            "context": {"cert": cert, "item": mine["item"] if mine else None, "due": mine["due"] if mine else None,
                        "warnings": cycle_warnings(cert, siblings, today=utcnow().date())}}


def stage2_section(audit, user):
    """On a stage-2 audit's page: each major NC's verification deadline (6 months after stage 2)."""

    if audit.third_party_type is not ThirdPartyType.STAGE2:
        return None
    today = audit.local_today(utcnow())  # the finding page's clock: days at the audited site
    rows = [s for f in stage2_findings(audit_ids=[audit.id]) if (s := stage2_state(f, today))]
    if not rows:
        return None
    return {"title": "Major nonconformities: 6-month rule", "template": "programme/section_stage2.html",
            "context": {"rows": rows}}


def rule_section(audit, user):
    """On a generated audit's page: the rule that made it and why its interval is what it is."""
    if audit.rule is None:
        return None

    reason = explain_rules([audit.rule], now=utcnow()).get(audit.rule.id)
    return {"title": "Why it was planned", "template": "programme/section_rule.html",
            "context": {"rule": audit.rule, "reason": reason}}


def trigger_section(audit, user):
    """On an audit's page: the complaints, incidents and changes this audit answers."""

    found = triggers_of([audit.id])
    if not found:
        return None
    return {"title": "Why this audit", "template": "programme/section_triggers.html",
            "context": {"triggers": found}}

