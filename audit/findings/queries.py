"""Read-side queries for findings: list filters, overdue logic in SQL, dashboard figures.

Shared by the list, the dashboards and the management review pack so that all show the same
numbers. Every function loads its related rows explicitly: pages keep a constant query count.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, or_, select, true
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from audit.audits.access import my_unit_ids
from audit.auth.permissions import Permission
from audit.extensions import db
from audit.findings.deadlines import local_date
from audit.models import (
    Audit,
    AuditKind,
    AuditTeamMember,
    Clause,
    CorrectiveAction,
    Finding,
    FindingStatus,
    Grade,
    Role,
    TeamRole,
)
from audit.models.finding import SCAR_NEXT_DEADLINE, SCAR_STAGE_DELAYS, finding_clauses
from audit.models.types import latest_site_date

OPEN = [s for s in FindingStatus if s.is_open]
NO_DEADLINE = [FindingStatus.DRAFT, FindingStatus.CLOSED, FindingStatus.DECLINED]


def _due_expr():
    """SQL: the date ``Finding.current_deadline`` names, except a SCAR's stage dates (dates in
    its audit's zone, see ``overdue_clause``): none for findings without a deadline, the
    response date while a response is awaited (an issued finding without an owner too), else
    the closure date."""
    return case(
        (Finding.status.in_(NO_DEADLINE), None),
        (and_(Finding.status.in_([FindingStatus.ISSUED, FindingStatus.AWAITING_RESPONSE]),
              Finding.response_due_on.is_not(None)), Finding.response_due_on),
        else_=Finding.closure_due_on,
    )


def overdue_clause(latest_today: dt.date):
    """SQL: the findings that may be overdue somewhere when the latest site date is
    ``latest_today`` (``latest_site_date``): a superset that ``is_overdue_at`` narrows, as no
    single SQL date is every site's. A SCAR awaiting the supplier runs on the deadline of its
    next stage (``SCAR_NEXT_DEADLINE``), never earlier than that stage's delay after issue (an
    extension only moves it later; a sooner plan date bounds it, and the response date counts)."""
    day_starts = dt.datetime.combine(latest_today, dt.time(), tzinfo=dt.UTC)
    by_stage = {}
    for stage, deadline in SCAR_NEXT_DEADLINE.items():
        by_stage.setdefault(deadline, []).append(stage)
    scar_stage_may_be_due = and_(Finding.status == FindingStatus.AWAITING_RESPONSE, or_(*[
        and_(Finding.scar_stage.in_(stages), Finding.issued_at < day_starts - SCAR_STAGE_DELAYS[deadline])
        for deadline, stages in by_stage.items()]))
    return and_(Finding.status.notin_(NO_DEADLINE), or_(_due_expr() < latest_today, scar_stage_may_be_due))


def is_overdue_at(finding: Finding, now: dt.datetime) -> bool:
    """Whether ``finding`` is overdue at ``now`` on the date where its audit happened, as the
    sweep and "Waiting for me" judge it (``deadlines.local_date``); its audit, site and supplier
    should be loaded."""
    return finding.is_overdue(local_date(finding, now))


@dataclass
class Filters:
    status: str = ""
    grade: str = ""
    unit: int = 0
    site: int = 0
    supplier: int = 0
    owner: int = 0
    clause: str = ""
    overdue: bool = False
    #: SQL condition limiting the findings to those the reader may open (``readable_findings``).
    readable: object = None

    @classmethod
    def from_form(cls, form, *, reader=None) -> Filters:
        return cls(status=form.status.data or "", grade=form.grade.data or "",
                   unit=form.unit.data or 0, site=form.site.data or 0,
                   supplier=form.supplier.data or 0, owner=form.owner.data or 0,
                   clause=(form.clause.data or "").strip(), overdue=bool(form.overdue.data),
                   readable=readable_findings(reader) if reader is not None else None)


def readable_findings(user):
    """SQL condition on ``Finding``: what ``user`` may open (``workflow.can_read`` for lists)."""
    if user.supplier_id is not None:
        return and_(Finding.scar_stage.is_not(None), Finding.supplier_id == user.supplier_id)
    if Role.ADMIN in user.roles or user.can(Permission.MANAGE_PROGRAMME):
        return true()
    auditing = [r for r in TeamRole if r.is_auditing]
    my_audits = select(AuditTeamMember.audit_id).where(AuditTeamMember.user_id == user.id,
                                                       AuditTeamMember.role.in_(auditing))
    if user.can(Permission.VIEW_REPORTS):
        return or_(Finding.status != FindingStatus.DRAFT, Finding.audit_id.in_(my_audits))
    mine = or_(Finding.owner_id == user.id, Finding.unit_id.in_(my_unit_ids(user)),
               Finding.id.in_(select(CorrectiveAction.finding_id).where(CorrectiveAction.owner_id == user.id)))
    return and_(Finding.status != FindingStatus.DRAFT, mine)


def filtered(stmt, filters: Filters, today: dt.date):
    """Apply ``filters`` to a select of Finding."""
    if filters.readable is not None:
        stmt = stmt.where(filters.readable)
    if filters.status == "open":
        stmt = stmt.where(Finding.status.in_(OPEN))
    elif filters.status:
        stmt = stmt.where(Finding.status == FindingStatus(filters.status))
    if filters.grade:
        stmt = stmt.where(Finding.grade == Grade(filters.grade))
    for column, value in ((Finding.unit_id, filters.unit), (Finding.site_id, filters.site),
                          (Finding.supplier_id, filters.supplier),
                          (Finding.owner_id, filters.owner)):
        if value:
            stmt = stmt.where(column == value)
    if filters.clause:
        stmt = stmt.where(exists(
            select(finding_clauses.c.finding_id)
            .join(Clause, Clause.id == finding_clauses.c.clause_id)
            .where(finding_clauses.c.finding_id == Finding.id,
                   or_(Clause.number == filters.clause,
                       Clause.number.like(filters.clause + ".%")))))
    if filters.overdue:
        stmt = stmt.where(overdue_clause(today))
    return stmt


def list_findings(filters: Filters, today: dt.date, *, limit: int = 200, offset: int = 0):
    """Findings for the list page, newest first, with what the rows show loaded (the audit's
    site and supplier too: they give the zone that "overdue" is judged in)."""
    stmt = filtered(select(Finding), filters, today).options(
        joinedload(Finding.audit).options(joinedload(Audit.site), joinedload(Audit.supplier)),
        joinedload(Finding.unit), joinedload(Finding.site),
        joinedload(Finding.supplier), joinedload(Finding.owner),
        selectinload(Finding.clauses),
    ).order_by(Finding.raised_at.desc(), Finding.id.desc()).limit(limit).offset(offset)
    return db.session.scalars(stmt).unique().all()


def _all(filters: Filters | None, now: dt.datetime, *, since=None, until=None):
    stmt = select(Finding).options(selectinload(Finding.clauses), joinedload(Finding.unit),
                                   selectinload(Finding.costs))
    if filters is not None:
        stmt = filtered(stmt, filters, latest_site_date(now))
    if since is not None:
        stmt = stmt.where(Finding.raised_at >= since)
    if until is not None:
        stmt = stmt.where(Finding.raised_at < until)
    stmt = stmt.where(Finding.status != FindingStatus.DRAFT)
    findings = db.session.scalars(stmt).unique().all()
    _load_audits(findings)
    if filters is not None and filters.overdue:
        findings = [f for f in findings if is_overdue_at(f, now)]
    return findings


def _load_audits(findings) -> None:
    """The audits of the open findings among ``findings``, with site and supplier, in one
    statement: they give the zone whose date says how old a finding is and whether it is
    overdue (``local_date``); a SCAR's stage deadlines are dates in that zone too
    (``Finding.scar_due_dates``). Without this each finding lazy-loaded its audit and the
    audit's site, two statements apiece; closed findings need no date of their site.
    """
    wanted = [f for f in findings if (f.status.is_open or f.is_scar) and f.audit_id is not None]
    if not wanted:
        return
    audits = {a.id: a for a in db.session.scalars(
        select(Audit).where(Audit.id.in_({f.audit_id for f in wanted}))
        .options(joinedload(Audit.site), joinedload(Audit.supplier)))}
    for finding in wanted:
        # As if loaded with the finding (the session's identity map holds objects weakly).
        set_committed_value(finding, "audit", audits.get(finding.audit_id))


AGE_BUCKETS = ((0, 30, "0–30 days"), (31, 60, "31–60 days"), (61, 90, "61–90 days"),
               (91, 180, "91–180 days"), (181, None, "over 180 days"))


def dashboard(filters: Filters | None, now: dt.datetime, *, months: int = 12) -> dict:
    """Ageing of open findings, days to close, clause heat map of NCs, monthly trend; how old
    and how overdue an open finding is counts in days where its audit happened, as the sweep
    counts them (``local_date``)."""
    findings = _all(filters, now)
    today = now.astimezone(dt.UTC).date()  # the trend's months: organisation-wide, in UTC
    ageing = Counter()
    for f in findings:
        if not f.status.is_open:
            continue
        age = (local_date(f, now) - local_date(f, f.issued_at or f.raised_at)).days
        for low, high, label in AGE_BUCKETS:
            if age >= low and (high is None or age <= high):
                ageing[label] += 1
    closed_days = [((f.closed_at - (f.issued_at or f.raised_at)).days, f.grade)
                   for f in findings if f.status is FindingStatus.CLOSED and f.closed_at
                   and f.grade is not Grade.GOOD_PRACTICE]
    by_grade: dict[Grade, list[int]] = defaultdict(list)
    for days, grade in closed_days:
        by_grade[grade].append(days)
    days_to_close = [(g.label, len(v), round(sum(v) / len(v), 1), max(v))
                     for g, v in sorted(by_grade.items(), key=lambda kv: list(Grade).index(kv[0]))]
    heat: dict[str, dict[str, int]] = defaultdict(lambda: {"major": 0, "minor": 0})
    titles: dict[str, str] = {}
    for f in findings:
        if not f.grade.is_nonconformity:
            continue
        for c in f.clauses:
            top = ".".join(c.number.split(".")[:2])
            heat[top][f.grade.value] += 1
            titles.setdefault(top, c.title or "")
    # Label each row with the grouping clause's own title ("8.5 Production and service
    # provision"), never a child's that happened to come first.
    if heat:
        titles = {c.number: c.title or "" for c in db.session.scalars(
            select(Clause).where(Clause.number.in_(list(heat))).order_by(Clause.id.desc()))}
    heat_rows = sorted(heat.items(), key=lambda kv: [int(p) if p.isdigit() else 0
                                                     for p in kv[0].split(".")])
    month_keys = []
    y, m = today.year, today.month
    for _ in range(months):
        month_keys.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    month_keys.reverse()
    trend = {k: {"raised": 0, "closed": 0, "nc": 0} for k in month_keys}
    for f in findings:
        raised = (f.issued_at or f.raised_at)
        key = (raised.year, raised.month)
        if key in trend:
            trend[key]["raised"] += 1
            if f.grade.is_nonconformity:
                trend[key]["nc"] += 1
        if f.closed_at is not None:
            key = (f.closed_at.year, f.closed_at.month)
            if key in trend:
                trend[key]["closed"] += 1
    return {
        "ageing": [(label, ageing.get(label, 0)) for _, _, label in AGE_BUCKETS],
        "days_to_close": days_to_close,
        "heat": [(k, titles.get(k, ""), v["major"], v["minor"]) for k, v in heat_rows],
        "trend": [(f"{y}-{m:02d}", v["raised"], v["closed"], v["nc"])
                  for (y, m), v in trend.items()],
        "open": sum(1 for f in findings if f.status.is_open),
        "overdue": sum(1 for f in findings if f.status.is_open and is_overdue_at(f, now)),
        "total": len(findings),
    }


def recordable_audits(user, *, limit: int = 300) -> list[Audit]:
    """Audits ``user`` may record findings on by hand: open ones (or third-party ones, whose CB
    report is transcribed later) where they audit, or all of them for a coordinator."""
    stmt = (select(Audit).where(Audit.report_issued_at.is_(None) | (Audit.kind == AuditKind.THIRD_PARTY))
            .order_by(Audit.reference.desc()).limit(limit))
    if not (Role.ADMIN in user.roles or user.can(Permission.MANAGE_PROGRAMME)):
        auditing = [r for r in TeamRole if r.is_auditing]
        stmt = stmt.where(Audit.team.any((AuditTeamMember.user_id == user.id)
                                         & AuditTeamMember.role.in_(auditing)))
    return list(db.session.scalars(stmt))
