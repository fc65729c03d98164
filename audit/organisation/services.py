"""Rules for the organisation's reference data. Services flush, never commit."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.audits.announcements import announce
from audit.audits.services import to_local, to_utc
from audit.core.errors import DomainError
from audit.core.forms import is_valid_timezone
from audit.core.services import get_or_fail, require_unique, same_text, save_with_trail
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    Audit,
    AuditStatus,
    Certificate,
    CertificateStatus,
    CertificationBody,
    RiskClass,
    Site,
    SiteHoliday,
    Standard,
    Supplier,
    Unit,
    UnitKind,
    User,
)
from audit.organisation.certificate_status import tell_status_change
from audit.trail.services import apply_changes, record


def _require_timezone(name: str, field: str = "timezone") -> None:
    if not is_valid_timezone(name):
        raise DomainError(f"“{name}” is not an IANA time zone (e.g. Europe/Berlin).", field=field)


# Sites ---------------------------------------------------------------------------------------

def _site_values(data: dict, current: Site | None) -> dict:
    name, code = data["name"].strip(), data["code"].strip().upper()
    require_unique(Site, Site.name, name, current, field="name", what="site")
    require_unique(Site, Site.code, code, current, field="code", what="site")
    _require_timezone(data["timezone"])
    return {
        "name": name,
        "code": code,
        "address": (data.get("address") or "").strip() or None,
        "timezone": data["timezone"],
        "is_active": bool(data.get("is_active", True)),
    }


def create_site(data: dict, *, actor, now: dt.datetime) -> Site:
    """Create a site; the time zone must be an IANA name."""
    values = _site_values(data, None)
    return save_with_trail(Site(), values, actor=actor, now=now, label=f"site {values['name']}")


def update_site(site: Site, data: dict, *, actor, now: dt.datetime) -> Site:
    """Update a site's details. A new time zone keeps the site's upcoming audits at the local
    times they were entered at (``keep_local_times``)."""
    old_zone = site.timezone
    save_with_trail(site, _site_values(data, site), actor=actor, now=now, label=f"site {site.name}")
    if site.timezone != old_zone:
        keep_local_times(upcoming_audits(Audit.site_id == site.id, now=now), old_zone,
                         actor=actor, now=now)
    return site


def upcoming_audits(*where, now: dt.datetime) -> list[Audit]:
    """Open audits matching ``where`` that have not started yet at ``now`` (team, units and
    sessions loaded: the announcement and the re-anchoring read them)."""
    return list(db.session.scalars(
        select(Audit)
        .where(*where, Audit.starts_at > now,
               Audit.status.notin_((*AuditStatus.inactive(), AuditStatus.CLOSED)))
        .options(selectinload(Audit.sessions), selectinload(Audit.team), selectinload(Audit.units))
        .order_by(Audit.starts_at, Audit.id)))


def _same_wall_time(instant: dt.datetime, old_zone: str, new_zone: str) -> dt.datetime:
    """The UTC instant that reads in ``new_zone`` as ``instant`` read in ``old_zone``."""
    return to_utc(to_local(instant, old_zone), new_zone)


def keep_local_times(audits: list[Audit], old_zone: str, *, actor, now: dt.datetime) -> list[Audit]:
    """After the zone of their site (or supplier) changed from ``old_zone``, move ``audits`` and
    their agenda sessions so that each keeps the wall-clock time it was entered at: 08:30 stays
    08:30 at the site, now in the new zone.

    A coordinator enters audit times as the site's local time, and the people there already
    hold them (invitations, plans), so a corrected zone must not shift them; the stored UTC
    instants move instead. Local dates are kept, so the planned and report due dates hold.
    Each moved audit is handled as a reschedule: revision (the feeds' SEQUENCE) + 1, a trail
    entry, and the "rescheduled" announcement to its team and auditees. Callers pass only open
    audits that have not started (history does not move).
    """
    moved = []
    for audit in audits:
        new_zone = audit.timezone
        changes = apply_changes(audit, {"starts_at": _same_wall_time(audit.starts_at, old_zone, new_zone),
                                        "ends_at": _same_wall_time(audit.ends_at, old_zone, new_zone)})
        if not changes:
            continue  # the two zones agree at these times
        for session in audit.sessions:
            session.starts_at = _same_wall_time(session.starts_at, old_zone, new_zone)
            session.ends_at = _same_wall_time(session.ends_at, old_zone, new_zone)
            session.updated_at = now
        audit.revision += 1
        audit.updated_at = now
        db.session.flush()
        changes["timezone"] = [old_zone, new_zone]
        record(audit, "reschedule", actor=actor, now=now, changes=changes,
               summary=f"Times of {audit.reference} kept at the site's local time after its time zone "
                       f"changed from {old_zone} to {new_zone}")
        announce(audit, "rescheduled", now=now)
        moved.append(audit)
    return moved


# Units ---------------------------------------------------------------------------------------

def _unit_values(data: dict, current: Unit | None) -> dict:
    site = get_or_fail(Site, data.get("site_id"), field="site_id", what="site")
    owner = get_or_fail(User, data.get("owner_id"), field="owner_id", what="owner", optional=True)
    name = data["name"].strip()
    clash = select(Unit.id).where(same_text(Unit.name, name), Unit.site_id == site.id)
    if current is not None:
        clash = clash.where(Unit.id != current.id)
    if db.session.scalar(clash) is not None:
        raise DomainError(f"{site.name} already has a unit called “{name}”.", field="name")
    for key, low, high in (("importance", 1, 3), ("change_level", 0, 2), ("maturity_risk", 0, 1)):
        value = data.get(key)
        if value is None or not low <= int(value) <= high:
            raise DomainError(f"Enter a whole number from {low} to {high}.", field=key)
    standard_ids = [int(i) for i in data.get("standard_ids") or []]
    member_ids = [int(i) for i in data.get("member_ids") or []]
    standards = list(db.session.scalars(select(Standard).where(Standard.id.in_(standard_ids))))
    members = list(db.session.scalars(select(User).where(User.id.in_(member_ids))))
    if len(standards) != len(set(standard_ids)):
        raise DomainError("One of the chosen standards does not exist.", field="standard_ids")
    if len(members) != len(set(member_ids)):
        raise DomainError("One of the chosen members does not exist.", field="member_ids")
    return {
        "name": name,
        "kind": UnitKind(data.get("kind") or "process"),
        "site": site,
        "owner": owner,
        "description": (data.get("description") or "").strip() or None,
        "importance": int(data["importance"]),
        "change_level": int(data["change_level"]),
        "maturity_risk": int(data["maturity_risk"]),
        "standards": standards,
        "members": members,
        "is_active": bool(data.get("is_active", True)),
    }


def create_unit(data: dict, *, actor, now: dt.datetime) -> Unit:
    """Create an auditable unit (process or department) at a site."""
    values = _unit_values(data, None)
    return save_with_trail(Unit(), values, actor=actor, now=now, label=f"unit {values['name']}")


def update_unit(unit: Unit, data: dict, *, actor, now: dt.datetime) -> Unit:
    """Update a unit, its owner, members, standards and risk factors."""
    return save_with_trail(unit, _unit_values(data, unit), actor=actor, now=now, label=f"unit {unit.name}")


# Suppliers -----------------------------------------------------------------------------------

def _supplier_values(data: dict, current: Supplier | None) -> dict:
    name = data["name"].strip()
    require_unique(Supplier, Supplier.name, name, current, field="name", what="supplier")
    _require_timezone(data.get("timezone") or "UTC")
    return {
        "name": name,
        "contact_name": (data.get("contact_name") or "").strip() or None,
        "contact_email": (data.get("contact_email") or "").strip().lower() or None,
        "phone": (data.get("phone") or "").strip() or None,
        "country": (data.get("country") or "").strip() or None,
        "supplies": (data.get("supplies") or "").strip() or None,
        "timezone": data.get("timezone") or "UTC",
        "risk_class": RiskClass(data.get("risk_class") or "medium"),
        "approval_status": ApprovalStatus(data.get("approval_status") or "candidate"),
        "notes": (data.get("notes") or "").strip() or None,
    }


def create_supplier(data: dict, *, actor, now: dt.datetime) -> Supplier:
    """Register a supplier with its risk class and approval status."""
    values = _supplier_values(data, None)
    return save_with_trail(Supplier(), values, actor=actor, now=now, label=f"supplier {values['name']}")


def update_supplier(supplier: Supplier, data: dict, *, actor, now: dt.datetime) -> Supplier:
    """Update a supplier (approval status changes are recorded in the trail like any field, and
    told to the supplier's contacts and the other coordinators: ``probation.announce_decision``).
    A new time zone keeps the local times of the upcoming audits held in it (those without a
    site), as for a site (``keep_local_times``)."""
    old_zone, old_status = supplier.timezone, supplier.approval_status
    save_with_trail(supplier, _supplier_values(data, supplier), actor=actor, now=now,
                    label=f"supplier {supplier.name}")
    if supplier.approval_status is not old_status:
        # Imported here: the findings feature builds on organisation's models and services.
        from audit.findings.probation import announce_decision

        announce_decision(supplier, old_status, actor=actor, now=now)
    if supplier.timezone != old_zone:
        keep_local_times(upcoming_audits(Audit.supplier_id == supplier.id, Audit.site_id.is_(None), now=now),
                         old_zone, actor=actor, now=now)
    return supplier


# Certification bodies ------------------------------------------------------------------------

def _cb_values(data: dict, current: CertificationBody | None) -> dict:
    name = data["name"].strip()
    require_unique(CertificationBody, CertificationBody.name, name, current, field="name",
                    what="certification body")
    return {
        "name": name,
        "accreditation": (data.get("accreditation") or "").strip() or None,
        "contact_email": (data.get("contact_email") or "").strip().lower() or None,
        "website": (data.get("website") or "").strip() or None,
    }


def create_certification_body(data: dict, *, actor, now: dt.datetime) -> CertificationBody:
    """Register a certification body."""
    values = _cb_values(data, None)
    return save_with_trail(CertificationBody(), values, actor=actor, now=now,
                 label=f"certification body {values['name']}")


def update_certification_body(cb: CertificationBody, data: dict, *, actor, now) -> CertificationBody:
    """Update a certification body."""
    return save_with_trail(cb, _cb_values(data, cb), actor=actor, now=now,
                 label=f"certification body {cb.name}")


# Certificates --------------------------------------------------------------------------------

def default_expiry(decision: dt.date, *, years: int = 3, minus_one_day: bool = True) -> dt.date:
    """Certificate expiry by CB convention: the day before the 3-year anniversary of the decision.

    A decision on 29 February has its anniversary on 1 March in common years (relativedelta would
    clamp to 28 February and so cut the last day of validity off).
    """
    anniversary = decision + relativedelta(years=years)
    if decision.month == 2 and decision.day == 29 and anniversary.day == 28:
        anniversary += dt.timedelta(days=1)
    return anniversary - dt.timedelta(days=1) if minus_one_day else anniversary


def _certificate_values(data: dict) -> dict:
    standard = get_or_fail(Standard, data.get("standard_id"), field="standard_id", what="standard")
    cb = get_or_fail(CertificationBody, data.get("certification_body_id"), field="certification_body_id",
              what="certification body", optional=True)
    supplier = get_or_fail(Supplier, data.get("supplier_id"), field="supplier_id", what="supplier",
                    optional=True)
    decision = data.get("decision_date")
    if not isinstance(decision, dt.date):
        raise DomainError("Enter the certification decision date.", field="decision_date")
    expiry = data.get("expiry_date") or default_expiry(decision)
    if expiry <= decision:
        raise DomainError("Expiry must come after the certification decision.", field="expiry_date")
    scope = (data.get("scope") or "").strip()
    if not scope:
        raise DomainError("Describe the certified scope.", field="scope")
    return {
        "standard": standard,
        "certification_body": cb,
        "supplier": supplier,
        "number": (data.get("number") or "").strip() or None,
        "scope": scope,
        "decision_date": decision,
        "expiry_date": expiry,
        "status": CertificateStatus(data.get("status") or "active"),
        "is_accredited": bool(data.get("is_accredited", True)),
        "cycle_number": int(data.get("cycle_number") or 1),
    }


def create_certificate(data: dict, *, actor, now: dt.datetime) -> Certificate:
    """Record a certificate; expiry defaults to decision + 3 years − 1 day."""
    values = _certificate_values(data)
    return save_with_trail(Certificate(), values, actor=actor, now=now,
                 label=f"certificate {values['number'] or values['standard'].label}")


#: A decision date moved this far, with the expiry kept, is a renewal, not a corrected typo.
RENEWAL_MONTHS = 6


def _require_new_expiry(cert: Certificate, values: dict) -> None:
    """Refuse a renewal that kept the previous cycle's expiry.

    The edit form shows the current expiry, so a manager recording a new certification decision
    easily saves the old expiry with it: the new cycle would then end within months of its
    decision and every deadline would be wrong. The expiry is not recomputed in their place:
    after a recertification in time it follows the old expiry (continuity, DOMAIN.md §3), not
    decision + 3 years, so only the certificate in hand says which. A decision date corrected
    by days or weeks keeps its expiry."""
    decision, expiry = values["decision_date"], values["expiry_date"]
    if decision == cert.decision_date or expiry != cert.expiry_date:
        return
    if expiry >= default_expiry(decision) - relativedelta(months=RENEWAL_MONTHS):
        return
    raise DomainError(
        f"The certification decision changed but the expiry is still the previous one "
        f"({expiry:%d %b %Y}). Enter the expiry printed on the new certificate, or leave the field "
        f"empty for decision + 3 years − 1 day ({default_expiry(decision):%d %b %Y}).",
        field="expiry_date")


def update_certificate(cert: Certificate, data: dict, *, actor, now) -> Certificate:
    """Update a certificate's dates, status or scope.

    A new decision date needs its new expiry (``_require_new_expiry``); a change of status is
    told to the coordinators (``certificate_status``)."""
    values = _certificate_values(data)
    _require_new_expiry(cert, values)
    previous = cert.status
    saved = save_with_trail(cert, values, actor=actor, now=now,
                            label=f"certificate {cert.number or cert.id}")
    tell_status_change(saved, previous, actor=actor, now=now)
    return saved


# Site holidays -------------------------------------------------------------------------------

def _holiday_values(data: dict, current: SiteHoliday | None) -> dict:
    site = get_or_fail(Site, data.get("site_id"), field="site_id", what="site")
    day = data.get("day")
    if not isinstance(day, dt.date):
        raise DomainError("Enter the day.", field="day")
    clash = select(SiteHoliday.id).where(SiteHoliday.site_id == site.id, SiteHoliday.day == day)
    if current is not None:
        clash = clash.where(SiteHoliday.id != current.id)
    if db.session.scalar(clash) is not None:
        raise DomainError(f"{site.name} already has a holiday on {day:%d %b %Y}.", field="day")
    return {"site": site, "day": day, "name": data["name"].strip()}


def create_site_holiday(data: dict, *, actor, now: dt.datetime) -> SiteHoliday:
    """Add a day the site is closed; the planner never schedules audits on it."""
    values = _holiday_values(data, None)
    return save_with_trail(SiteHoliday(), values, actor=actor, now=now,
                           label=f"holiday {values['name']} at {values['site'].name}")


def update_site_holiday(holiday: SiteHoliday, data: dict, *, actor, now) -> SiteHoliday:
    """Correct a site holiday."""
    return save_with_trail(holiday, _holiday_values(data, holiday), actor=actor, now=now,
                           label=f"holiday {holiday.name}")
