"""Auditor qualifications coming to their end (ISO 19011 clause 7, ISO 9001 7.2): the auditor
and the coordinators are told once ``RENEWAL_NOTICE`` before the last valid day and once on the
day after it, and the coordinators (who record qualifications) have "Qualification to renew" in
"Waiting for me" from the first notice until a renewal is recorded or ``LAPSED_SHOWN`` after the
end. Without this the first anyone heard of a lapse was an audit team that no longer qualified.

A renewal is another qualification of the same person and standard, at the same level or
above, valid beyond the ending one's last day. Days are the auditor's own (their time zone).
One query for the list and one for the sweep, whatever the number of qualifications.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import case, or_, select
from sqlalchemy.orm import aliased, joinedload

from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import Qualification, QualificationLevel, Role, User
from audit.models.types import SITE_DAY_MARGIN
from audit.notifications.services import notify
from audit.people.services import coordinators, with_staff

#: How long before its last valid day a qualification's renewal is asked for.
RENEWAL_NOTICE = dt.timedelta(days=60)
#: How long after its end a lapsed qualification stays on the coordinators' list.
LAPSED_SHOWN = dt.timedelta(days=30)

KINDS = {
    "qualification_ending": "An auditor qualification ends soon or has ended (the auditor and the coordinators)",
}


def _rank(level_column):
    """SQL: a qualification level's rank (trainee 0, auditor 1, lead 2)."""
    return case(*[(level_column == level, level.rank) for level in QualificationLevel])


def _not_renewed():
    """SQL: no other qualification of the same person and standard, at the same level or above,
    valid beyond this one's last day."""
    other = aliased(Qualification)
    renewal = select(other.id).where(
        other.user_id == Qualification.user_id, other.standard_id == Qualification.standard_id,
        other.id != Qualification.id, _rank(other.level) >= _rank(Qualification.level),
        or_(other.valid_until.is_(None), other.valid_until > Qualification.valid_until))
    return ~renewal.exists()


def _ending(first: dt.date, last: dt.date) -> list[Qualification]:
    """Qualifications of active people whose last valid day lies in [first, last] (a day's margin
    either side, for time zones), not renewed; with their person and standard."""
    return list(db.session.scalars(
        select(Qualification).join(User, Qualification.user_id == User.id)
        .where(User.is_active.is_(True), Qualification.valid_until.is_not(None),
               Qualification.valid_until.between(first - SITE_DAY_MARGIN, last + SITE_DAY_MARGIN),
               _not_renewed())
        .options(joinedload(Qualification.user), joinedload(Qualification.standard))
        .order_by(Qualification.valid_until, Qualification.id)))


def auditor_today(qualification: Qualification, now: dt.datetime) -> dt.date:
    """Today's date in the qualified person's own time zone."""
    return now.astimezone(zoneinfo.ZoneInfo(qualification.user.timezone or "UTC")).date()


def _name(q: Qualification) -> str:
    return f"{q.level.label} {q.standard.label}"


def to_renew(now: dt.datetime) -> list[tuple[Qualification, bool]]:
    """``(qualification, lapsed)`` for every qualification whose renewal is asked for at ``now``:
    its last valid day within ``RENEWAL_NOTICE`` ahead, or passed less than ``LAPSED_SHOWN`` ago."""
    utc_today = now.astimezone(dt.UTC).date()
    rows = []
    for q in _ending(utc_today - LAPSED_SHOWN, utc_today + RENEWAL_NOTICE):
        today = auditor_today(q, now)
        if today - LAPSED_SHOWN < q.valid_until <= today + RENEWAL_NOTICE:
            rows.append((q, q.valid_until < today))
    return rows


def send_renewal_notices(*, now: dt.datetime) -> int:
    """Tell the auditor and the coordinators, once each, that a qualification ends within
    ``RENEWAL_NOTICE``, and once that it has ended unrenewed. Returns notifications made."""
    made = 0
    rows = to_renew(now)
    staff = coordinators() if rows else []
    for q, lapsed in rows:
        stage = "ended" if lapsed else "ending"
        what = (f"{q.user.name}'s {_name(q)} qualification "
                + (f"ended on {q.valid_until:%d %b %Y}" if lapsed else f"ends on {q.valid_until:%d %b %Y}"))
        consequence = ("They can no longer be given audits of this standard at this level."
                       if lapsed else "Audits after that day cannot count on it.")
        for person in with_staff(q.user, staff):
            expected = ("Renew it (course, observed audit, evaluation) and send the evidence to your "
                        "coordinator." if person.id == q.user_id else
                        "Arrange the renewal with the auditor and record the new qualification.")
            body = f"What happened: {what}. {consequence}\nWhat is expected of you: {expected}"
            if notify(person, kind="qualification_ending", now=now,
                      title=f"Qualification {stage}: {q.user.name}, {_name(q)}", body=body,
                      link=f"/people/qualifications/{q.id}",
                      dedupe_key=f"qualification:{q.id}:{stage}:{q.valid_until}:{person.id}"):
                made += 1
    return made


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Qualifications to renew, for the coordinators, due on their last valid day."""
    if Role.COORDINATOR not in user.roles:
        return []
    return [ToDo("people", "renew_qualification", "Qualification to renew", q.user.name,
                 f"{_name(q)}: " + (f"ended {q.valid_until:%d %b %Y}" if lapsed
                                    else f"valid until {q.valid_until:%d %b %Y}"),
                 f"/people/qualifications/{q.id}", q.valid_until, "Valid until",
                 lapsed, ("", q.level.label))
            for q, lapsed in to_renew(now)]
