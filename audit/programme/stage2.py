"""The stage-2 major nonconformity rule (ISO/IEC 17021-1, DOMAIN.md §3): correction and
corrective action of a major NC raised at stage 2 must be verified within 6 months of the last
day of stage 2, otherwise stage 2 is repeated.

One function states each finding's position (``stage2_state``); the finding page, the audit page,
the cycles page and the sweep all show or act on that same answer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.extensions import db
from audit.models import Audit, Finding, FindingStatus, Grade, Role, ThirdPartyType, User, UserRole
from audit.notifications.services import notify
from audit.programme.cycle import major_nc_deadline

#: Warn this many days before the deadline (PRACTICE), then once when it has passed.
STAGE2_WARN_DAYS = (30, 7)


def _last_day(audit: Audit) -> dt.date | None:
    span = audit.local_dates()
    return span[1] if span else None


def _verified_on(finding: Finding) -> dt.date | None:
    if finding.verified_at is None:
        return None
    return finding.verified_at.astimezone(zoneinfo.ZoneInfo(finding.audit.timezone)).date()


def stage2_state(finding: Finding, today: dt.date) -> dict | None:
    """For a major NC raised at a stage-2 audit: its deadline and state, else None.

    ``state`` is ``verified`` (in time), ``open`` (deadline ahead), ``due_soon`` (30 days or
    less), or ``repeat_stage2`` (not verified in time: stage 2 is repeated); ``message`` says it.
    """
    audit = finding.audit
    if finding.grade is not Grade.MAJOR or audit.third_party_type is not ThirdPartyType.STAGE2:
        return None
    last = _last_day(audit)
    if last is None:
        return None
    deadline = major_nc_deadline(last)
    verified = _verified_on(finding)
    if verified is not None and verified <= deadline:
        state, message = "verified", f"Verified on {verified:%d %b %Y}, within 6 months of stage 2."
    elif (verified or today) > deadline:
        state = "repeat_stage2"
        message = (f"Not verified by {deadline:%d %b %Y} (6 months after stage 2 ended on {last:%d %b %Y}): "
                   "stage 2 must be repeated.")
    else:
        left = (deadline - today).days
        state = "due_soon" if left <= max(STAGE2_WARN_DAYS) else "open"
        message = (f"Verify correction and corrective action by {deadline:%d %b %Y} ({left} days left), "
                   "else stage 2 is repeated.")
    return {"deadline": deadline, "stage2_ended": last, "verified_on": verified, "state": state,
            "message": message, "finding": finding}


def stage2_findings(*, audit_ids=None) -> list[Finding]:
    """Issued major NCs of stage-2 audits (all, or of ``audit_ids``), audits loaded (one query)."""
    stmt = (select(Finding).join(Audit, Finding.audit_id == Audit.id)
            .where(Finding.grade == Grade.MAJOR, Audit.third_party_type == ThirdPartyType.STAGE2,
                   Finding.status != FindingStatus.DRAFT)
            .options(joinedload(Finding.audit).joinedload(Audit.site),
                     joinedload(Finding.audit).joinedload(Audit.supplier))
            .order_by(Finding.id))
    if audit_ids is not None:
        stmt = stmt.where(Finding.audit_id.in_(list(audit_ids)))
    return list(db.session.scalars(stmt).unique())


def send_stage2_warnings(*, now: dt.datetime) -> int:
    """Sweep: warn coordinators 30 and 7 days before a stage-2 major NC's deadline, and once
    when it has passed ("repeat stage 2"). Dedupe keys make a second run send nothing."""

    today = now.date()
    rows = [s for f in stage2_findings() if (s := stage2_state(f, today)) and s["state"] != "verified"]
    if not rows:
        return 0
    coordinators = list(db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR, User.is_active.is_(True))))
    made = 0
    for row in rows:
        finding, left = row["finding"], (row["deadline"] - today).days
        if left < 0:
            step, title = "repeat", f"{finding.reference}: stage 2 must be repeated"
        else:
            step = next((d for d in sorted(STAGE2_WARN_DAYS) if left <= d), None)
            if step is None:
                continue
            title = f"{finding.reference}: verify the major NC by {row['deadline']:%d %b %Y}"
        for person in coordinators:
            if notify(person, kind="stage2_major_nc", title=title, body=row["message"],
                      link=f"/findings/{finding.id}",
                      dedupe_key=f"stage2:{finding.id}:{row['deadline']}:{step}:{person.id}", now=now):
                made += 1
    return made
