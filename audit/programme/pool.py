"""The planner's view of its people, computed once per run (issue 16: linear in the audits).

Qualifications are indexed by person and standard, leads by standard; bookings are a day →
country map per person (the travel rule needs the country, the double-booking rule the day);
loads count the audits each person leads or audits in the programme period; audit-days per
month keep the workload limit (``audit.audits.workload``, the rule the workload page shows).
Choosing between equally loaded people uses a stable rotation (by name, then e-mail), never the database id,
and a coordinator is never preferred: she runs the programme and audits when others cannot.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from audit.audits.dates import country_where, next_working_day, previous_working_day
from audit.audits.workload import Workload, booked_workload, month_of, monthly_limit
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    AuditTeamMember,
    Qualification,
    QualificationLevel,
    Role,
    Site,
    Supplier,
    TeamRole,
    User,
    UserRole,
)
from audit.models.audit import audit_zone, local_dates

LEAD, AUDITOR = QualificationLevel.LEAD.rank, QualificationLevel.AUDITOR.rank


def audit_place(audit) -> str:
    """Where an audit happens, as a key: its site, else its supplier (an audit or a row with
    ``site_id`` and ``supplier_id``)."""
    return f"site:{audit.site_id}" if audit.site_id else f"supplier:{audit.supplier_id}"


@dataclass
class Pool:
    """Candidates with everything the planner asks about them, answered from memory."""

    users: dict[int, Candidate]
    #: user → standard → [(rank, valid_from, valid_until)]
    quals: dict[int, dict[int, list[tuple[int, dt.date, dt.date | None]]]]
    leads_by_standard: dict[int, list[int]]
    coordinators: set[int]
    #: user → local day → country of the audit booked that day
    busy: dict[int, dict[dt.date, str]] = field(default_factory=lambda: defaultdict(dict))
    #: user → local day → the site (or supplier) booked that day, to cluster audits at one site
    where: dict[int, dict[dt.date, str]] = field(default_factory=lambda: defaultdict(dict))
    lead_load: Counter = field(default_factory=Counter)
    load: Counter = field(default_factory=Counter)
    #: audit-days per person and month (the audits being placed count once proposed)
    workload: Workload = field(default_factory=Workload)
    #: the monthly workload limit (audit-days)
    limit: int | None = None
    #: audit being placed → its bookings read from the database [(person, days, country, place,
    #: lead, loaded)], released while the run places it (its own team is not "booked elsewhere",
    #: its old days no longer count) and restored when it cannot be placed
    pending: dict[int, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    #: position of each person in the stable rotation, and how far it has turned
    rotation: dict[int, int] = field(default_factory=dict)
    turn: int = 0

    def rank_on(self, uid: int, standard_id: int, first: dt.date, last: dt.date) -> int:
        """The best qualification rank valid on every day of [first, last], or -1."""
        return max((rank for rank, start, until in self.quals.get(uid, {}).get(standard_id, ())
                    if start <= first and (until is None or last <= until)), default=-1)

    def covers(self, uid: int, standard_ids, first: dt.date, last: dt.date, rank: int = AUDITOR) -> set[int]:
        """The standards ``uid`` is qualified for at ``rank`` or above on those days."""
        return {s for s in standard_ids if self.rank_on(uid, s, first, last) >= rank}

    def leads_for(self, standard_ids) -> list[int]:
        """Everyone holding a lead qualification (valid some time) for one of the standards."""
        found: set[int] = set()
        for s in standard_ids:
            found.update(self.leads_by_standard.get(s, ()))
        return list(found)

    def free(self, uid: int, days: list[dt.date], country: str, *, size: int | None = None) -> str | None:
        """Why ``uid`` cannot take these days, or None: booked, in another country on the
        working day before or after (no travel day), or past the monthly workload limit with
        ``size`` more audit-days (the audit's planned days; None: the limit is not asked)."""
        booked = self.busy.get(uid, {})
        if any(d in booked for d in days):
            return "booked on other audits"
        if size is not None and self.limit is not None \
                and self.workload.over(uid, month_of(days[0]), size, limit=self.limit):
            return f"at their workload limit ({self.limit} audit-days a month)"
        for d in (previous_working_day(days[0]), next_working_day(days[-1])):
            if d in booked and booked[d] != country:
                return "in another country the working day before or after"
        return None

    def order_key(self, uid: int, *, as_lead: bool) -> tuple:
        """Fewest audits first (as lead, for leads), then never the coordinator first, then the
        rotation's turn: deterministic, and the same person does not always win a tie."""
        n = len(self.rotation) or 1
        turn = (self.rotation.get(uid, 0) - self.turn) % n
        first = self.lead_load[uid] if as_lead else self.load[uid]
        return first, self.load[uid], uid in self.coordinators, turn

    def next_to(self, uid: int, days: list[dt.date], place: str) -> bool:
        """Whether ``uid`` is at ``place`` the working day before or after: a trip saved."""
        booked = self.where.get(uid, {})
        return place in (booked.get(previous_working_day(days[0])), booked.get(next_working_day(days[-1])))

    def book(self, uid: int, days: list[dt.date], country: str, *, lead: bool, place: str = "",
             size: int = 0) -> None:
        """Record a proposal so later audits see this person as taken on those days, holding
        ``size`` audit-days in their month (0 for a role the workload limit does not count)."""
        for d in days:
            self.busy[uid][d] = country
            self.where[uid][d] = place
        self.workload.days[uid][month_of(days[0])] += size
        self.load[uid] += 1
        if lead:
            self.lead_load[uid] += 1

    def release(self, audit_id: int) -> None:
        """Take an audit being placed out of the pool: its people's days, loads and audit-days."""
        self._move(audit_id, -1)

    def restore(self, audit_id: int) -> None:
        """Put an audit that could not be placed back as the database has it."""
        self._move(audit_id, +1)

    def _move(self, audit_id: int, sign: int) -> None:
        for uid, days, country, place, lead, loaded in self.pending.get(audit_id, ()):
            for d in days:
                if sign > 0:
                    self.busy[uid][d], self.where[uid][d] = country, place
                else:
                    self.busy[uid].pop(d, None)
                    self.where[uid].pop(d, None)
            self.load[uid] += sign * loaded
            self.lead_load[uid] += sign * (loaded and lead)
        for uid, month, size in self.workload.by_audit.get(audit_id, ()):
            self.workload.days[uid][month] += sign * size


@dataclass(frozen=True)
class Candidate:
    """A person the planner may place: what proposals show of them."""

    id: int
    name: str
    email: str


def load_pool(first: dt.date, last: dt.date, *, placing=()) -> Pool:
    """Active auditors, their qualifications, bookings, loads in [first, last] and audit-days in
    its months (four queries). ``placing`` are the ids of the audits the run places: their
    bookings are kept apart too, for ``release`` and ``restore``.

    Plain rows, not ORM objects: the planner reads a few columns of hundreds of people and
    bookings, and building mapped objects for them was a third of a run at demo scale 50.
    """
    is_coordinator = (select(UserRole.id)
                      .where(UserRole.user_id == User.id, UserRole.role == Role.COORDINATOR).exists())
    auditors = (select(User.id).join(UserRole, UserRole.user_id == User.id)
                .where(User.is_active.is_(True), UserRole.role == Role.AUDITOR))
    people = db.session.execute(
        select(User.id, User.name, User.email, is_coordinator).where(User.id.in_(auditors))).all()
    quals: dict[int, dict[int, list]] = {uid: {} for uid, *_rest in people}
    leads: dict[int, list[int]] = defaultdict(list)
    for uid, standard_id, level, valid_from, valid_until in db.session.execute(
            select(Qualification.user_id, Qualification.standard_id, Qualification.level,
                   Qualification.valid_from, Qualification.valid_until)
            .where(Qualification.user_id.in_(auditors)).order_by(Qualification.user_id, Qualification.id)):
        quals[uid].setdefault(standard_id, []).append((level.rank, valid_from, valid_until))
        if level.rank >= LEAD and uid not in leads[standard_id]:
            leads[standard_id].append(uid)
    users = {uid: Candidate(uid, name, email) for uid, name, email, _c in people}
    ordered = sorted(users.values(), key=lambda u: (u.name.casefold(), u.email))
    pool = Pool(users=users, quals=quals, leads_by_standard=dict(leads),
                coordinators={uid for uid, _n, _e, coordinator in people if coordinator},
                rotation={u.id: i for i, u in enumerate(ordered)}, limit=monthly_limit(),
                workload=booked_workload(first=month_of(first), last=_month_end(last)))
    placing = set(placing)
    lo = dt.datetime.combine(first - dt.timedelta(days=7), dt.time(), dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=7), dt.time(), dt.UTC)
    rows = db.session.execute(
        select(AuditTeamMember.user_id, AuditTeamMember.role, Audit.id, Audit.starts_at, Audit.ends_at,
               Audit.site_id, Audit.supplier_id, Site.timezone.label("site_zone"),
               Supplier.timezone.label("supplier_zone"), Supplier.country.label("supplier_country"))
        .join(Audit, AuditTeamMember.audit_id == Audit.id)
        .outerjoin(Site, Site.id == Audit.site_id).outerjoin(Supplier, Supplier.id == Audit.supplier_id)
        .where(Audit.starts_at.is_not(None), Audit.starts_at < hi, Audit.ends_at > lo,
               Audit.status.not_in(AuditStatus.inactive()), AuditTeamMember.role != TeamRole.GUIDE)).all()
    for row in rows:
        # As Audit.timezone and audit_country read them from the audit's site or supplier.
        zone = audit_zone(row.site_id is not None, row.site_zone,
                          row.supplier_id is not None, row.supplier_zone)
        span = local_dates(row.starts_at, row.ends_at, zone)
        country = country_where(row.site_id is not None, row.supplier_country, zone)
        place = audit_place(row)
        days = [span[0] + dt.timedelta(days=i) for i in range((span[1] - span[0]).days + 1)]
        for day in days:
            pool.busy[row.user_id][day] = country
            pool.where[row.user_id][day] = place
        loaded = first <= span[0] <= last and row.role in (TeamRole.LEAD, TeamRole.AUDITOR)
        if loaded:
            pool.load[row.user_id] += 1
            if row.role is TeamRole.LEAD:
                pool.lead_load[row.user_id] += 1
        if row.id in placing:
            pool.pending[row.id].append((row.user_id, days, country, place, row.role is TeamRole.LEAD,
                                         int(loaded)))
    return pool


def _month_end(day: dt.date) -> dt.date:
    return (month_of(day) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
