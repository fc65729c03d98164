"""Certification deadlines approaching: the sweep warns coordinators before a cycle rule breaks."""

from __future__ import annotations

import datetime as dt

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
from audit.programme.cycle import certification_cycle, check_cycle, surveillance_deadline

#: Warn this many days before a surveillance is due or the certificate expires.
WARN_DAYS = (60, 14)


def _audit_day(audit: Audit) -> dt.date | None:
    """The day an audit happens: its first local day once dated, else its planned date."""
    span = audit.local_dates()
    return span[0] if span else audit.planned_date


def cycle_status(cert: Certificate, audits: list[Audit]) -> list[dict]:
    """Each audit the cycle needs, the real audit covering it (if any), and its deadline.

    The deadline comes from the one surveillance rule (``surveillance_deadline``) applied to the
    real dates of the earlier surveillances, so the page, ``check_cycle`` and the sweep agree.
    """
    live = [a for a in audits if a.status is not AuditStatus.CANCELLED and a.third_party_type]
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
    planned) after its deadline: that breaks the cycle rule however far off the deadline is."""
    today = now.date()
    certs = db.session.scalars(select(Certificate).where(Certificate.supplier_id.is_(None),
                                                         Certificate.status == CertificateStatus.ACTIVE)
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
                          dedupe_key=f"cert:{cert.id}:{item.type.value}{item.number}:{due}:{stage}:{person.id}",
                          now=now):
                    made += 1
    return made




def cycle_warnings(cert: Certificate, audits: list[Audit], *, today: dt.date, horizon_months: int = 15) -> list[str]:
    """Rules of the cycle broken by the real audits' dates. Needs beyond the rolling horizon are
    not generated yet: they count at their computed dates, so only real dates raise warnings."""
    from dateutil.relativedelta import relativedelta


    horizon = today + relativedelta(months=horizon_months)
    planned = [(a.third_party_type, (a.local_dates() or (a.planned_date,))[0]) for a in audits
               if a.third_party_type and a.status is not AuditStatus.CANCELLED and (a.starts_at or a.planned_date)]
    for row in cycle_status(cert, audits):
        if row["audit"] is None and row["item"].planned > horizon:
            planned.append((row["item"].type, row["item"].planned))
    return check_cycle(cert.decision_date, cert.expiry_date, planned)
