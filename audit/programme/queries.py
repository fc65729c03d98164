"""Read queries of the programme pages: programmes, their audits by page, rules, planner runs,
the calendar window, certificates and triggers. Each returns what a page shows, with what it
shows loaded, in a fixed number of queries (no writes here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, and_, bindparam, false, func, or_, select
from sqlalchemy.orm import joinedload

from audit.audits.queries import audit_list_query
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    AuditTeamMember,
    AuditTrigger,
    Certificate,
    PlannerRun,
    Programme,
    ProgrammeRule,
    ProgrammeStatus,
    Site,
    Supplier,
    TeamRole,
    Unit,
    User,
)
from audit.models.audit import audit_day


def pages_for(total: int, page_size: int) -> int:
    """How many pages ``total`` rows fill (at least one, so an empty list still has a page)."""
    return max((total + page_size - 1) // page_size, 1)


# --- programmes -------------------------------------------------------------------------------


def programmes_with_counts() -> tuple[list[Programme], dict[int, dict[AuditStatus, int]]]:
    """All programmes, newest period first, and per programme its audit counts by status."""
    programmes = db.session.scalars(select(Programme).order_by(Programme.period_start.desc())).all()
    counts: dict[int, dict[AuditStatus, int]] = {}
    for programme_id, status, n in db.session.execute(
            select(Audit.programme_id, Audit.status, func.count(Audit.id))
            .where(Audit.programme_id.is_not(None)).group_by(Audit.programme_id, Audit.status)):
        counts.setdefault(programme_id, {})[status] = n
    return list(programmes), counts


def current_programme() -> Programme | None:
    """The active programme with the latest period start (what the planner preview defaults to)."""
    return db.session.scalar(select(Programme).where(Programme.status == ProgrammeStatus.ACTIVE)
                             .order_by(Programme.period_start.desc()).limit(1))


def _programme_id():
    return bindparam("programme_id", type_=Integer)


#: The page's statements, built once: a statement object keeps its cache key, where building
#: one per request cost its construction and its key each time (issue 16); ids are parameters.
_LOAD_PROGRAMME = (select(Programme).where(Programme.id == _programme_id())
                   .options(joinedload(Programme.manager), joinedload(Programme.approved_by),
                            joinedload(Programme.prepared_by)))


def load_programme(programme_id: int) -> Programme | None:
    """One programme with its manager, preparer and approver loaded."""
    return db.session.scalars(_LOAD_PROGRAMME, {"programme_id": programme_id}).unique().one_or_none()


_STATUS_COUNTS = (select(Audit.status, func.count(Audit.id)).where(Audit.programme_id == _programme_id())
                  .group_by(Audit.status))


def status_counts(programme_id: int) -> dict[AuditStatus, int]:
    """The programme's audit counts by status (statuses without audits left out)."""
    return dict(db.session.execute(_STATUS_COUNTS, {"programme_id": programme_id}).all())


#: ``(day IS NULL) = false`` says nothing ``day < ?`` does not, but it is the index's second
#: column: with it the count reads a range of ``ix_audits_programme_day``.
_AUDITS_BEFORE = select(func.count(Audit.id)).where(
    Audit.programme_id == _programme_id(), audit_day().is_(None) == false(),
    audit_day() < bindparam("day", type_=Date))


def audits_before(programme_id: int, day: dt.date) -> int:
    """How many of the programme's audits sort before ``day`` (to open the page holding today)."""
    return db.session.scalar(_AUDITS_BEFORE, {"programme_id": programme_id, "day": day}) or 0


#: The programme's audits in page order, undated last as ``(day IS NULL), day``: the order of
#: ``ix_audits_programme_day``, which SQLite cannot read for ``NULLS LAST``.
_PAGE_ORDER = (audit_day().is_(None), audit_day(), Audit.starts_at, Audit.id)
#: One page's audit ids, read in index order.
_PAGE_IDS = (select(Audit.id).where(Audit.programme_id == _programme_id()).order_by(*_PAGE_ORDER)
             .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)))


def _programme_audits_statement():
    lead = (select(User.name).join(AuditTeamMember, AuditTeamMember.user_id == User.id)
            .where(AuditTeamMember.audit_id == Audit.id, AuditTeamMember.role == TeamRole.LEAD)
            .limit(1).correlate(Audit).scalar_subquery())
    return (select(Audit.id, Audit.reference, Audit.title, Audit.status, Audit.starts_at, Audit.planned_date,
                   Audit.site_id, Site.name.label("site_name"), Site.timezone.label("site_zone"),
                   Audit.supplier_id, Supplier.name.label("supplier_name"),
                   Supplier.timezone.label("supplier_zone"), lead.label("lead"))
            .outerjoin(Site, Site.id == Audit.site_id).outerjoin(Supplier, Supplier.id == Audit.supplier_id)
            .where(Audit.id.in_(_PAGE_IDS)).order_by(*_PAGE_ORDER))


_PROGRAMME_AUDITS = _programme_audits_statement()


def programme_audits(programme_id: int, *, page: int, page_size: int) -> list:
    """One page of the programme's audits in date order (undated last), in one statement: plain
    rows of ``id, reference, title, status, starts_at, planned_date``, the site's or supplier's
    name and zone (``site_id, site_name, site_zone, supplier_id, supplier_name, supplier_zone``)
    and the lead auditor's name (``lead``, or None).

    The page's ids are chosen first, in a subquery that sorts ids only; joining site, supplier
    and programme before sorting made the database sort every audit's full joined row (2.5
    of the page's 3 ms of SQL at demo scale 50, growing with the programme; issue 16). Rows,
    not objects: the page shows nine columns of each audit, and building an audit, its site
    and its supplier for each of 50 rows was what made a full page cost more than a short one.
    """
    return db.session.execute(_PROGRAMME_AUDITS, {"programme_id": programme_id, "limit": page_size,
                                                  "offset": (page - 1) * page_size}).all()


def first_rules(programme_id: int, shown: int) -> tuple[list[ProgrammeRule], int]:
    """The programme's first ``shown`` rules and how many it has in all (counted only if more)."""
    rules = db.session.scalars(select(ProgrammeRule).where(ProgrammeRule.programme_id == programme_id)
                               .order_by(ProgrammeRule.id).limit(shown + 1)).all()
    count = len(rules) if len(rules) <= shown else db.session.scalar(
        select(func.count(ProgrammeRule.id)).where(ProgrammeRule.programme_id == programme_id))
    return list(rules[:shown]), count


def programme_rules(programme_id: int) -> list[ProgrammeRule]:
    """All the programme's rules with the unit, supplier, certificate and site they name."""
    return db.session.scalars(
        select(ProgrammeRule).where(ProgrammeRule.programme_id == programme_id)
        .options(joinedload(ProgrammeRule.unit), joinedload(ProgrammeRule.supplier),
                 joinedload(ProgrammeRule.certificate), joinedload(ProgrammeRule.site))
        .order_by(ProgrammeRule.id)).unique().all()


# --- calendar ---------------------------------------------------------------------------------


def calendar_audits(filters: dict, first: dt.date, last: dt.date) -> list[Audit]:
    """Audits touching [first, last] (dated ones by their UTC times with a day's margin for
    zones, undated ones by their planned date), with what the calendar shows loaded."""
    lo = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
    stmt = audit_list_query(filters).where(or_(
        and_(Audit.starts_at.is_not(None), Audit.starts_at < hi, Audit.ends_at > lo),
        and_(Audit.starts_at.is_(None), Audit.planned_date >= first - dt.timedelta(days=31),
             Audit.planned_date <= last),
    )).order_by(Audit.starts_at, Audit.planned_date, Audit.id)
    return db.session.scalars(stmt).unique().all()


# --- planner ----------------------------------------------------------------------------------


def latest_planner_run(programme_id: int) -> PlannerRun | None:
    """The programme's most recent planner run, or None before the first."""
    return db.session.scalar(select(PlannerRun).where(PlannerRun.programme_id == programme_id)
                             .order_by(PlannerRun.id.desc()).limit(1))


def proposal_people(run: PlannerRun | None) -> dict[int, User]:
    """The leads, auditors and lead options a run's proposals name, by id (one query)."""
    if run is None:
        return {}
    ids = {i for p in run.proposals for i in [p["lead_id"], *(p.get("auditor_ids") or []),
                                               *(p.get("lead_options") or [])] if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


# --- coverage, cycles, triggers ---------------------------------------------------------------


def sites_by_name() -> list[Site]:
    """Every site, by name (the coverage page's filter)."""
    return list(db.session.scalars(select(Site).order_by(Site.name)))


def own_certificates_with_audits() -> tuple[list[Certificate], list[Audit]]:
    """Our own certificates (not suppliers') by expiry, with standard and body, and their audits."""
    certs = db.session.scalars(select(Certificate).where(Certificate.supplier_id.is_(None))
                               .options(joinedload(Certificate.standard),
                                        joinedload(Certificate.certification_body))
                               .order_by(Certificate.expiry_date)).unique().all()
    if not certs:
        return [], []
    audits = db.session.scalars(
        select(Audit).where(Audit.certificate_id.in_([c.id for c in certs]))).all()
    return list(certs), list(audits)


def trigger_count() -> int:
    """How many triggers are recorded."""
    return db.session.scalar(select(func.count(AuditTrigger.id))) or 0


def triggers_page(*, page: int, page_size: int) -> list[AuditTrigger]:
    """One page of triggers, newest first, with unit (and site), supplier, audit and recorder."""
    return db.session.scalars(
        select(AuditTrigger)
        .options(joinedload(AuditTrigger.unit).joinedload(Unit.site), joinedload(AuditTrigger.supplier),
                 joinedload(AuditTrigger.audit), joinedload(AuditTrigger.recorded_by))
        .order_by(AuditTrigger.occurred_on.desc(), AuditTrigger.id.desc())
        .offset((page - 1) * page_size).limit(page_size)).unique().all()
