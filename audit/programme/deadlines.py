"""Certification deadlines approaching: the sweep warns coordinators before a cycle rule breaks."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    Certificate,
    CertificateStatus,
    Role,
    ThirdPartyType,
    User,
    UserRole,
)
from audit.notifications.services import notify
from audit.programme.cycle import (
    MAJOR_NC_MONTHS,
    certification_cycle,
    check_cycle,
    restoration_status,
    surveillance_deadline,
)

#: Certificate statuses whose cycle still runs: its audits are generated and warned about.
CYCLE_RUNS = (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED)
#: Warn this many days before a surveillance is due or the certificate expires.
WARN_DAYS = (60, 14)


#: The audits after which the certification body decides on the certificate (ISO/IEC 17021-1).
DECIDED_AFTER = (ThirdPartyType.STAGE2, ThirdPartyType.RECERTIFICATION)


def _audit_day(audit: Audit) -> dt.date | None:
    """The day an audit happens: its first local day once dated, else its planned date."""
    span = audit.local_dates()
    return span[0] if span else audit.planned_date


def awaiting_decision(cert: Certificate, audits: list[Audit]) -> Audit | None:
    """The latest held stage 2 or recertification audit of ``cert`` whose decision is not
    recorded: the certificate's decision date is still on or before the audit's day.

    The same rule puts the audit in the current cycle (``current_cycle_audits``): once the new
    decision is recorded (dated after the audit) the audit belongs to the previous cycle, and
    the decision no longer waits. A withdrawn certificate has had its decision."""
    if cert.status is CertificateStatus.WITHDRAWN:
        return None
    held = [a for a in audits if a.certificate_id == cert.id and a.third_party_type in DECIDED_AFTER
            and a.status in AuditStatus.audited() and (_audit_day(a) or dt.date.min) >= cert.decision_date]
    return max(held, key=lambda a: (_audit_day(a), a.id), default=None)


def decision_due(cert: Certificate, audit: Audit) -> dt.date:
    """When the decision after ``audit`` is due: before the certificate expires after a
    recertification (DOMAIN.md §3); after a stage 2, which sets no expiry yet, within
    ``MAJOR_NC_MONTHS`` of its last day -- past that, its majors' corrections may no longer be
    verified and stage 2 is repeated (DOMAIN.md §3), so the decision can wait no longer."""
    if audit.third_party_type is ThirdPartyType.RECERTIFICATION:
        return cert.expiry_date
    span = audit.local_dates()
    last = span[1] if span else audit.planned_date or cert.decision_date
    return last + relativedelta(months=MAJOR_NC_MONTHS)


def certificate_state(cert: Certificate, today: dt.date) -> str:
    """What the cycles page says of a certificate: ``suspended`` or ``withdrawn`` as recorded
    (the certification body decided it, whatever the dates say), ``expired`` when recorded so
    before its expiry date, else by its dates: ``valid``, ``restorable`` or ``stage2_needed``."""
    by_dates = restoration_status(cert.expiry_date, today)
    if cert.status in (CertificateStatus.SUSPENDED, CertificateStatus.WITHDRAWN):
        return cert.status.value
    if cert.status is CertificateStatus.EXPIRED and by_dates == "valid":
        return "expired"
    return by_dates


def current_cycle_audits(cert: Certificate, audits: list[Audit]) -> list[Audit]:
    """The audits of the certificate's current cycle: those dated on or after its decision.

    A renewal moves the decision date but keeps the certificate and its audits; the previous
    cycle's surveillances and recertification (all before the new decision) would otherwise
    stand in for the new cycle's steps and hide its gaps."""
    return [a for a in audits if (day := _audit_day(a)) is not None and day >= cert.decision_date]


def cycle_status(cert: Certificate, audits: list[Audit]) -> list[dict]:
    """Each audit the cycle needs, the real audit covering it (if any), and its deadline.

    The deadline comes from the one surveillance rule (``surveillance_deadline``) applied to the
    real dates of the earlier surveillances, so the page, ``check_cycle`` and the sweep agree.
    Only the current cycle's audits count (``current_cycle_audits``).
    """
    live = [a for a in current_cycle_audits(cert, audits)
            if a.status is not AuditStatus.CANCELLED and a.third_party_type]
    rows = []
    used: set[int] = set()
    previous: dt.date | None = None
    for item in certification_cycle(cert.decision_date, cert.expiry_date):
        match = next((a for a in sorted(live, key=lambda a: a.planned_date or dt.date.max)
                      if a.id not in used and a.third_party_type is item.type
                      and a.planned_date and abs((a.planned_date - item.planned).days) <= 200), None)
        if match is not None:
            used.add(match.id)
        due = item.due
        if item.type is ThirdPartyType.SURVEILLANCE:
            due = surveillance_deadline(cert.decision_date, item.number, previous)
            previous = (_audit_day(match) if match is not None else None) or item.planned
        rows.append({"item": item, "audit": match, "due": due})
    return rows


def step_deadline(cert: Certificate | None, third_party_type, audit: Audit | None = None,
                  planned_date: dt.date | None = None) -> dt.date | None:
    """The cycle deadline of the step a surveillance or recertification audit of ``cert`` covers,
    for one entered by hand (generated ones carry it already): the uncovered step of its type
    nearest ``planned_date`` (else the first one), by ``cycle_status`` over the certificate's
    other audits. None for any other audit, or when every such step is covered."""
    if cert is None or third_party_type not in (ThirdPartyType.SURVEILLANCE, ThirdPartyType.RECERTIFICATION):
        return None
    others = [a for a in db.session.scalars(select(Audit).where(Audit.certificate_id == cert.id))
              if audit is None or a.id != audit.id]
    open_steps = [r for r in cycle_status(cert, others)
                  if r["audit"] is None and r["item"].type is third_party_type]
    if planned_date is not None:
        open_steps.sort(key=lambda r: abs((r["item"].planned - planned_date).days))
    return open_steps[0]["due"] if open_steps else None


def _after_deadline(audit: Audit | None, due: dt.date) -> dt.date | None:
    """The day of the covering audit when it lies after the step's deadline, else None.

    Read from the audit's own date, not its ``due_by``: audits generated before cycle steps
    carried a deadline, or moved by hand, are caught all the same."""
    day = _audit_day(audit) if audit is not None else None
    return day if day is not None and day > due else None


def _covering_text(audit: Audit | None, late_day: dt.date | None) -> str:
    """What the warning says about the audit covering the step."""
    if audit is None:
        return "; no audit is planned for it."
    state = audit.status.label.lower()
    if late_day is not None:
        return f"; audit {audit.reference} is {state} on {late_day:%d %b %Y}, after the deadline."
    return f"; audit {audit.reference} is {state}."


def send_certification_warnings(*, now: dt.datetime) -> int:
    """Warn coordinators when a surveillance or recertification deadline, or expiry, is near
    and no audit covering it has been held, and as soon as the covering audit is dated (or
    planned) after its deadline: that breaks the cycle rule however far off the deadline is.
    Once the recertification is held, expiry is warned of until the new decision is recorded
    (``_warn_decision``)."""
    today = now.date()
    # A suspended certificate's deadlines still run: missing one is what turns a suspension into
    # a withdrawal (DOMAIN.md §3), so it is warned about like an active one.
    certs = db.session.scalars(select(Certificate).where(Certificate.supplier_id.is_(None),
                                                         Certificate.status.in_(CYCLE_RUNS))
                               .options(joinedload(Certificate.standard))).all()
    if not certs:
        return 0
    audits = db.session.scalars(select(Audit).where(Audit.certificate_id.in_([c.id for c in certs]))).all()
    coordinators = list(db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR, User.is_active.is_(True))))
    made = 0
    for cert in certs:
        mine = [a for a in audits if a.certificate_id == cert.id]
        for row in cycle_status(cert, mine):
            item, audit = row["item"], row["audit"]
            if audit is not None and audit.status in AuditStatus.audited():
                continue
            due = row["due"]
            late_day = _after_deadline(audit, due)
            days_left = (due - today).days
            threshold = next((d for d in sorted(WARN_DAYS) if days_left <= d), None)
            if threshold is None and late_day is None:
                continue
            # A late date is warned about at once, again for each date it is moved to, and
            # again at each countdown stage; an audit on time gets the countdown alone.
            stage = threshold if late_day is None else f"after:{late_day}:{threshold or ''}"
            state = "is overdue" if days_left < 0 else f"is due by {due:%d %b %Y}"
            title = (f"{cert.standard.code} {item.label}: audit {audit.reference} is after the deadline"
                     if late_day is not None else f"{cert.standard.code} {item.label} {state}")
            for person in coordinators:
                if notify(person, kind="certification_deadline", title=title,
                          body=f"Certificate {cert.number}: {item.label.lower()} {state}"
                               + _covering_text(audit, late_day),
                          link=f"/audits/{audit.id}" if audit else "/programme/cycles",
                          dedupe_key=f"cert:{cert.id}:{item.type.value}{item.number}:{due}:{stage}:"
                                     f"{person.id}",
                          now=now):
                    made += 1
        made += _warn_decision(cert, mine, coordinators, today=today, now=now)
    return made


def _warn_decision(cert: Certificate, audits: list[Audit], coordinators: list[User], *,
                   today: dt.date, now: dt.datetime) -> int:
    """Warn the coordinators before expiry while the held recertification's decision is not
    recorded: every step of the cycle is done, so no step warns, yet the certificate lapses on
    its expiry unless the new decision is made (and recorded, which starts the next cycle)."""
    audit = awaiting_decision(cert, audits)
    if audit is None or audit.third_party_type is not ThirdPartyType.RECERTIFICATION:
        return 0
    days_left = (cert.expiry_date - today).days
    threshold = next((d for d in sorted(WARN_DAYS) if days_left <= d), None)
    if threshold is None:
        return 0
    state = "has expired" if days_left < 0 else f"expires on {cert.expiry_date:%d %b %Y}"
    made = 0
    for person in coordinators:
        if notify(person, kind="certification_deadline",
                  title=f"{cert.standard.code} certificate {state}: no new certification decision recorded",
                  body=f"Certificate {cert.number}: recertification audit {audit.reference} is "
                       f"{audit.status.label.lower()}, but the certificate still shows the decision of "
                       f"{cert.decision_date:%d %b %Y}. Record the certification body's new decision and "
                       "expiry on the certificate, or follow up with the body if it has not decided.",
                  link=f"/organisation/certificates/{cert.id}",
                  dedupe_key=f"cert:{cert.id}:decision:{cert.expiry_date}:{threshold}:{person.id}", now=now):
            made += 1
    return made


def cycle_warnings(cert: Certificate, audits: list[Audit], *, today: dt.date,
                   horizon_months: int = 15) -> list[str]:
    """Rules of the current cycle broken by its real audits' dates, and its steps not planned yet.

    A step with no audit is not a planned audit and its computed date is never quoted as one.
    It stands in for ``check_cycle`` at that date clipped to its deadline (so it breaks no rule
    itself, keeps the numbering of later surveillances and covers its calendar year), and is
    reported as "not planned yet" when it falls within the rolling horizon: beyond it, the
    programme has not generated it yet, which is normal."""
    horizon = today + relativedelta(months=horizon_months)
    mine = current_cycle_audits(cert, audits)
    planned = [(a.third_party_type, _audit_day(a)) for a in mine
               if a.third_party_type and a.status is not AuditStatus.CANCELLED]
    missing = []
    for row in cycle_status(cert, mine):
        item = row["item"]
        if row["audit"] is None:
            planned.append((item.type, min(item.planned, row["due"])))
            if item.planned <= horizon:
                missing.append(f"{item.label} is not planned yet: due by {row['due']:%d %b %Y}.")
    return check_cycle(cert.decision_date, cert.expiry_date, planned) + missing
