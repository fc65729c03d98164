"""A feed's fingerprint: everything its bytes depend on, read by one indexed query.

A calendar client polls every hour or so and almost always has the current feed already.
Building the feed to compare hashes made each 304 cost a full render that grew with the
feed (issue 16 item 3). The fingerprint instead summarises each input of the feed with
aggregates that change whenever a row that matters changes:

* the audits in the feed (the same WHERE as ``feeds``), grouped by the time zone they are
  shown in: count, sum of ids, sum of id × ``version_id`` (bumped by every ORM update of an
  audit: title, dates, status, revision, report dates) and the latest ``updated_at``; the
  zone is the group key, so editing a site's or supplier's zone changes the rows;
* personal feeds add the agenda sessions of those audits, the user's team rows in them (and
  their roles), the units the user owns or belongs to, the open findings and actions
  with a deadline in the window (with their finding's version; for a supplier contact, the
  open SCARs of their company and their actions, grouped by the audit's zone since a SCAR's
  stage dates are days in it: ``criteria.personal_finding_criteria``), and the management reviews
  the user chairs, is invited to or coordinates (``criteria.review_criteria_bound``; their
  ``version_id``, bumped by every change, and status);
* certificate feeds add every audit of the certificate, in the window or not, the same way:
  the feed's cycle deadlines are computed from their dates (``feeds.certification_deadlines``);
* plain values known without a query: the token's kind, target and owner, the day and its
  window, the owner's name, roles and company, the target's name and (certificates) its
  cycle dates, the links' base URL and UID domain, the organisation name and the
  serialiser's format version.

Each part is one ``SELECT`` of a ``UNION ALL``: one round trip whatever the number of rows,
and each part filters on indexed foreign keys. The ETag is the SHA-256 of all of it, so a
304 is answered before any event is built; ``polls`` adds the token, owner and target to the
same statement so that a worker's later polls of the token need nothing else. A fingerprint that misses an input would serve
a stale calendar; tests/calendar/test_fingerprint.py changes each input in turn.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import (
    String,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql import ColumnElement

from audit.calendar import criteria, feeds, ical
from audit.extensions import db
from audit.models import (
    ActionKind,
    AgendaSession,
    Audit,
    AuditTeamMember,
    CorrectiveAction,
    FeedKind,
    Finding,
    Site,
    Supplier,
    TeamRole,
    Unit,
    UTCDateTime,
)


def _text(value: ColumnElement) -> ColumnElement:
    # Every part of the UNION has the same column types (PostgreSQL insists); text is enough
    # since the values are only hashed.
    return cast(value, String)


#: The columns every part has: six texts, then two timestamps (only ``polls`` fills them).
TEXT_COLUMNS = 6


def part(name: str, key, count, first, second, latest, *, stamps=(None, None)) -> select:
    """One SELECT of the fingerprint's UNION ALL: its name, five values as text (every part
    has the same column types; PostgreSQL insists), then two timestamps, NULL unless given."""
    return select(literal(name).label("part"), _text(key).label("key"), _text(count).label("n"),
                  _text(first).label("a"), _text(second).label("b"), _text(latest).label("latest"),
                  *(_stamp(stamp).label(f"stamp{i}") for i, stamp in enumerate(stamps)))


def _stamp(column) -> ColumnElement:
    # A typed NULL where a part has no timestamp; a column as it is (CAST would give SQLite's
    # stored text NUMERIC affinity).
    return cast(null(), UTCDateTime()) if column is None else type_coerce(column, UTCDateTime())


def _code(column, members) -> ColumnElement:
    """An enum column as a small integer (1, 2, ...), so it can enter a sum."""
    return case(*[(column == m, i) for i, m in enumerate(members, start=1)], else_=0)


def _day_number(column) -> ColumnElement:
    """A date as an integer unique per day (portable: EXTRACT compiles to strftime on SQLite)."""
    return (func.coalesce(cast(extract("year", column), db.Integer), 0) * 400
            + func.coalesce(cast(extract("month", column), db.Integer), 0) * 32
            + func.coalesce(cast(extract("day", column), db.Integer), 0))


def _audit_part(criteria, *, name: str = "audits") -> select:
    """The audits matching ``criteria`` by the zone they are shown in: count, ids, versions and
    latest change (see the module docstring)."""
    zone = func.coalesce(Site.timezone, Supplier.timezone, "UTC")
    return (
        part(name, zone, func.count(Audit.id), func.sum(Audit.id),
             func.sum(Audit.id * Audit.version_id), func.max(Audit.updated_at))
        .select_from(Audit)
        .outerjoin(Site, Site.id == Audit.site_id)
        .outerjoin(Supplier, Supplier.id == Audit.supplier_id)
        .where(*criteria)
        .group_by(zone)
    )


def _personal_parts(variant: tuple[bool, bool], bind) -> list[select]:
    supplier_contact, coordinator = variant
    user_id = bind("user_id")
    audit_ids = select(Audit.id).where(*criteria.personal_criteria(supplier_contact, bind))
    my_units = criteria.my_units_query(user_id)
    sessions = (
        part("sessions", "", func.count(AgendaSession.id), func.sum(AgendaSession.id),
             func.sum(AgendaSession.id * (func.coalesce(AgendaSession.unit_id, 0) * 7919
                                          + func.coalesce(AgendaSession.auditor_id, 0))),
             func.max(AgendaSession.updated_at))
        .where(AgendaSession.audit_id.in_(audit_ids))
    )
    team = (
        part("team", "", func.count(AuditTeamMember.id), func.sum(AuditTeamMember.id),
             func.sum(AuditTeamMember.id * _code(AuditTeamMember.role, TeamRole)), literal(""))
        .where(AuditTeamMember.user_id == user_id, AuditTeamMember.audit_id.in_(audit_ids))
    )
    units = (
        part("units", "", func.count(Unit.id), func.sum(Unit.id), func.sum(Unit.id * Unit.id),
             literal(""))
        .where(Unit.id.in_(my_units))
    )
    # Grouped by the zone of the finding's audit: a SCAR's stage dates are days in that zone.
    finding_zone = func.coalesce(Site.timezone, Supplier.timezone, "UTC")
    findings = (
        part("findings", finding_zone, func.count(Finding.id), func.sum(Finding.id),
             func.sum(Finding.id * Finding.version_id), func.max(Finding.updated_at))
        .select_from(Finding)
        .outerjoin(Audit, Audit.id == Finding.audit_id)
        .outerjoin(Site, Site.id == Audit.site_id)
        .outerjoin(Supplier, Supplier.id == Audit.supplier_id)
        .where(*criteria.personal_finding_criteria(supplier_contact, bind))
        .group_by(finding_zone)
    )
    action_finding = Finding.__table__.alias("action_finding")
    actions = (
        part("actions", "", func.count(CorrectiveAction.id),
             func.sum(CorrectiveAction.id * _day_number(CorrectiveAction.due_on)),
             func.sum(CorrectiveAction.id * _code(CorrectiveAction.kind, ActionKind)
                      + action_finding.c.version_id),
             func.max(func.coalesce(CorrectiveAction.completed_at, action_finding.c.updated_at)))
        .select_from(CorrectiveAction)
        .join(action_finding, action_finding.c.id == CorrectiveAction.finding_id)
        .where(*criteria.personal_action_criteria(supplier_contact, bind))
    )
    from audit.models import ManagementReview, ReviewStatus

    reviews = (
        part("reviews", "", func.count(ManagementReview.id), func.sum(ManagementReview.id),
             func.sum(ManagementReview.id * (ManagementReview.version_id * 7
                                             + _code(ManagementReview.status, ReviewStatus))),
             func.max(ManagementReview.updated_at))
        .where(*criteria.review_criteria_bound(coordinator, bind))
    )
    return [sessions, team, units, findings, actions, reviews]


def object_facts(token, target) -> dict:
    """The inputs read from the token, its owner and the target (``polls`` remembers them)."""
    user = token.user
    facts = {
        "format": ical.FORMAT_VERSION,
        "kind": token.kind.value,
        "target": token.target_id,
        "user": [user.id, user.name, sorted(r.value for r in user.roles), user.supplier_id],
    }
    if target is not None:
        facts["name"] = feeds.target_name(token.kind, target)
    if token.kind is FeedKind.CERTIFICATE and target is not None:
        facts["certificate"] = [target.number, target.status.value, target.decision_date.isoformat(),
                                target.expiry_date.isoformat()]
    return facts


def etag_of(facts: dict, rows: list[tuple], *, day: dt.date, links: feeds.Links, org_name: str) -> str:
    """SHA-256 over the object facts, the plain values known without a query (the day and its
    window, links, organisation name) and the fingerprint rows."""
    facts = {
        **facts,
        "day": day.isoformat(),
        "window": [d.isoformat() for d in ical.feed_window(day)],
        "links": links.identity(),
        "org": org_name,
    }
    payload = json.dumps([facts, rows], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


#: One fingerprint statement per feed kind (and, for personal feeds, per variant: supplier
#: contact, coordinator), built once per process with plain parameters: SQLAlchemy keeps a
#: statement's cache key on the object, so executing it again skips building and hashing the
#: statement, which was most of a 304's cost (issue 16).
_STATEMENTS: dict[tuple, select] = {}


def variant_key(token) -> tuple:
    """Which fingerprint statement a token's feed uses: its kind, and for a personal feed the
    owner's variant (supplier contact, coordinator)."""
    if token.kind is FeedKind.PERSONAL:
        return (token.kind, *criteria.personal_variant(token.user))
    return (token.kind,)


def _cycle_part() -> select:
    """Every audit of the feed's certificate, window or not: the cycle deadlines in the feed are
    computed from the real dates of earlier surveillances (``feeds.certification_deadlines``),
    which may lie before the window. Summed as the window's audits are (``_audit_part``)."""
    return _audit_part([Audit.certificate_id == bindparam("target_id")], name="cycle")


def parts(key: tuple) -> list[select]:
    """The fingerprint's parts for a ``variant_key``, with plain bound parameters."""
    if key[0] is FeedKind.PERSONAL:
        return [_audit_part(criteria.personal_criteria(key[1], bindparam)),
                *_personal_parts(key[1:], bindparam)]
    cycle = [_cycle_part()] if key[0] is FeedKind.CERTIFICATE else []
    return [_audit_part(criteria.coordinator_criteria(key[0], bindparam)), *cycle]


def values(token, target, *, day: dt.date) -> dict:
    """The values of the fingerprint's bound parameters on ``day``."""
    if token.kind is FeedKind.PERSONAL:
        return criteria.personal_values(token.user, day)
    return {**criteria.window_values(day), "target_id": target.id}


def _statement(token):
    key = variant_key(token)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = union_all(*parts(key))
    return statement


def rows_of(result_rows) -> list[tuple]:
    """Fingerprint rows as hashed: the text columns as strings, sorted."""
    return sorted(tuple("" if v is None else str(v) for v in row[:TEXT_COLUMNS]) for row in result_rows)


def feed_rows(token, target, *, day: dt.date) -> list[tuple]:
    """The aggregates of every queried input of the feed, in one statement (sorted rows)."""
    return rows_of(db.session.execute(_statement(token), values(token, target, day=day)))


def feed_etag(token, target, *, day: dt.date, links: feeds.Links, org_name: str) -> str:
    """The feed's ETag: SHA-256 over its fingerprint (see the module docstring)."""
    return etag_of(object_facts(token, target), feed_rows(token, target, day=day), day=day,
                   links=links, org_name=org_name)
