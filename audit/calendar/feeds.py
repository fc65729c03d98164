"""Which events each feed holds: the queries and visibility rules, feeding the pure serialiser.

``build_feed(kind, target, user, day=..., links=...)`` returns an ``ical.Feed``;
``render_feed_bytes`` the bytes. Every feed kind runs a fixed number of queries whatever the
number of rows (related rows are loaded with ``selectinload``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, permissions_for
from audit.calendar import criteria, ical
from audit.calendar.criteria import coordinator_audit_criteria, my_units_query, personal_audit_criteria
from audit.extensions import db
from audit.models import (
    AgendaSession,
    Audit,
    Certificate,
    CorrectiveAction,
    FeedKind,
    Finding,
    FindingStatus,
    Programme,
    SessionKind,
    Site,
    Supplier,
    TeamRole,
    User,
)

#: Coordinator feeds (programme, site, supplier, certificate) need one of these capabilities.
COORDINATOR_FEED_PERMISSIONS = frozenset({Permission.MANAGE_PROGRAMME, Permission.VIEW_REPORTS})

#: Candidate endpoints for the links put in events; the first one the app has wins. Other
#: features name their pages; the calendar only links to what exists.
LINK_ENDPOINTS = {
    "audit": ("audits.detail", "audits.audit_detail", "audits.show", "audits.view"),
    "finding": ("findings.detail", "findings.finding_detail", "findings.show", "findings.view"),
    "scar": ("scar.detail",),
    "programme": ("programmes.detail", "programme.detail", "programmes.programme_detail",
                  "programme.programme_detail"),
    "site": ("organisation.site_detail",),
    "supplier": ("organisation.supplier_detail",),
    "certificate": ("organisation.certificate_detail",),
    "review": ("reviews.review_detail",),
}

#: Finding statuses whose deadlines still matter (the rule lives with the criteria).
OPEN_FINDING = criteria.OPEN_FINDING
AWAITING_RESPONSE = (FindingStatus.ISSUED, FindingStatus.AWAITING_RESPONSE)


_PLACEHOLDER_ID = 918273645


class Links:
    """Absolute links to pages, built without a request (feeds, e-mail attachments)."""

    def __init__(self, app: Flask):
        self.base = app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.domain = app.config.get("CALENDAR_UID_DOMAIN") or (
            urlsplit(self.base).hostname or "audit.invalid"
        )
        adapter = app.url_map.bind("localhost")
        #: kind -> URL with a placeholder id: building through werkzeug once per kind, not per event.
        self._templates: dict[str, str | None] = {}
        for kind, candidates in LINK_ENDPOINTS.items():
            self._templates[kind] = None
            for endpoint in candidates:
                rules = list(app.url_map.iter_rules(endpoint)) if endpoint in app.view_functions else []
                if rules and len(rules[0].arguments) == 1:
                    arg = next(iter(rules[0].arguments))
                    path = adapter.build(endpoint, {arg: _PLACEHOLDER_ID})
                    self._templates[kind] = self.base + path.replace(str(_PLACEHOLDER_ID), "{id}")
                    break

    def identity(self) -> list:
        """What every link and UID depends on (part of a feed's fingerprint)."""
        return [self.base, self.domain, sorted((k, v or "") for k, v in self._templates.items())]

    def url(self, kind: str, obj_id: int) -> str | None:
        """Absolute URL of the page of ``kind`` (audit, finding, ...) or None if there is none."""
        template = self._templates.get(kind)
        return None if template is None else template.replace("{id}", str(int(obj_id)))


def may_subscribe(user: User, kind: FeedKind) -> bool:
    """Personal feeds are for everyone with an account; the others for coordinators.

    MANAGE_PROGRAMME or VIEW_REPORTS (coordinators, admins, auditors, viewers): people who may
    already read every audit's dates in the programme pages and reports.
    """
    if not user.is_active:
        return False
    held = permissions_for(user.roles)
    if kind is FeedKind.PERSONAL:
        return Permission.OWN_ACCOUNT in held
    return bool(held & COORDINATOR_FEED_PERMISSIONS)


TARGET_MODELS = {
    FeedKind.PROGRAMME: Programme,
    FeedKind.SITE: Site,
    FeedKind.SUPPLIER: Supplier,
    FeedKind.CERTIFICATE: Certificate,
}


def target_name(kind: FeedKind, obj) -> str:
    if kind is FeedKind.PROGRAMME:
        return f"Programme {obj.name}"
    if kind is FeedKind.SITE:
        return f"Site {obj.name}"
    if kind is FeedKind.SUPPLIER:
        return f"Supplier {obj.name}"
    if kind is FeedKind.CERTIFICATE:
        holder = obj.supplier.name if obj.supplier is not None else "our organisation"
        number = obj.number or f"#{obj.id}"
        return f"Certificate {obj.standard.code} {number} ({holder})"
    return "My audits and deadlines"


def load_target(kind: FeedKind, target_id: int | None):
    """The object a feed is about, or None when it no longer exists (the feed then 404s)."""
    model = TARGET_MODELS.get(kind)
    if model is None or target_id is None:
        return None
    return db.session.get(model, target_id)


# --------------------------------------------------------------------------------------------
# Queries


def _audit_query(*criteria, with_sessions: bool = False):
    # Many-to-one zones join in the same query (selectin's IN list costs more than the join).
    options = [joinedload(Audit.site), joinedload(Audit.supplier)]
    if with_sessions:
        options += [
            selectinload(Audit.team),
            selectinload(Audit.sessions),
            selectinload(Audit.units),
        ]
    return select(Audit).where(*criteria).options(*options).order_by(Audit.id)


def _audit_events(audits: Iterable[Audit], links: Links, day: dt.date) -> list[ical.Event]:
    events = []
    for audit in audits:
        if not ical.visible_on(audit, day):
            continue
        event = ical.audit_event(audit, domain=links.domain, url=links.url("audit", audit.id))
        if event is not None:
            events.append(event)
    return events


def personal_events(user: User, *, day: dt.date, links: Links) -> list[ical.Event]:
    """Audits and agenda sessions I lead, join or am audited in; deadlines of findings and
    actions I own. Only references, titles and links leave the application."""
    start, end = ical.feed_window(day)
    audits = db.session.scalars(
        _audit_query(*personal_audit_criteria(user, day), with_sessions=True)
    ).all()
    unit_ids = set(db.session.scalars(my_units_query(user.id)))

    events = []
    for audit in audits:
        if not ical.visible_on(audit, day):
            continue
        url = links.url("audit", audit.id)
        event = ical.audit_event(audit, domain=links.domain, url=url)
        if event is not None:
            events.append(event)
        roles = {m.role for m in audit.team if m.user_id == user.id}
        for session in audit.sessions:
            if _attends(session, user, roles, unit_ids):
                events.append(ical.session_event(session, audit, domain=links.domain, url=url))

    events += _finding_events(user, day, links)
    events += _action_events(user, day, links)
    events += _review_events(user, day, links)
    return [e for e in events if ical.in_window(e, start, end)]


def _attends(session: AgendaSession, user: User, roles: set[TeamRole], unit_ids: set[int]) -> bool:
    """The lead attends everything; others their own slots and the opening/closing meetings."""
    if TeamRole.LEAD in roles:
        return True
    if session.kind in (SessionKind.OPENING, SessionKind.CLOSING):
        return True
    if roles and session.auditor_id == user.id:
        return True
    return session.unit_id is not None and session.unit_id in unit_ids


def _personal_bind(user: User, day: dt.date):
    """(supplier contact?, bind) for the finding and action criteria of ``user``'s feed."""
    return criteria.personal_variant(user)[0], criteria.bound(criteria.personal_values(user, day))


def _finding_events(user: User, day: dt.date, links: Links) -> list[ical.Event]:
    supplier_contact, bind = _personal_bind(user, day)
    findings = db.session.scalars(
        select(Finding)
        .where(*criteria.personal_finding_criteria(supplier_contact, bind))
        # A SCAR's stage dates are days in its audit's zone (``Finding.scar_due_dates``).
        .options(joinedload(Finding.audit).joinedload(Audit.site),
                 joinedload(Finding.audit).joinedload(Audit.supplier))
        .order_by(Finding.id)
    ).all()
    events = []
    for finding in findings:
        if finding.is_scar:
            events += _scar_events(finding, links)
            continue
        url = links.url("finding", finding.id)
        if finding.response_due_on and finding.status in AWAITING_RESPONSE:
            events.append(ical.due_event(
                f"finding-{finding.id}-response", finding.response_due_on,
                f"Response due: finding {finding.reference}", stamp=finding.updated_at,
                domain=links.domain, url=url))
        if finding.closure_due_on:
            events.append(ical.due_event(
                f"finding-{finding.id}-closure", finding.closure_due_on,
                f"Closure due: finding {finding.reference}", stamp=finding.updated_at,
                domain=links.domain, url=url))
    return events


def open_scar_deadlines(finding: Finding) -> list[tuple[str, dt.date]]:
    """(name, date) of a SCAR's stage deadlines still ahead of the supplier: the current one
    (``Finding.current_deadline``) and the later ones, with the dates the SCAR page shows
    (``Finding.scar_due_dates``). Stages already done leave, as a finding's response does."""
    dates = finding.scar_due_dates()
    current, _ = finding.current_deadline()
    # Without stage dates the response date is the action plan's.
    current = "action_plan" if current == "response" else current
    names = list(dates)
    if current not in names:
        return []
    return [(name, dates[name]) for name in names[names.index(current):]]


def _scar_events(finding: Finding, links: Links) -> list[ical.Event]:
    from audit.findings.deadlines import DEADLINE_LABELS

    url = links.url("scar", finding.id)
    return [
        ical.due_event(f"finding-{finding.id}-{name.replace('_', '-')}", day,
                       f"{DEADLINE_LABELS[name]} due: SCAR {finding.reference}",
                       stamp=finding.updated_at, domain=links.domain, url=url)
        for name, day in open_scar_deadlines(finding)
    ]


def _action_events(user: User, day: dt.date, links: Links) -> list[ical.Event]:
    supplier_contact, bind = _personal_bind(user, day)
    actions = db.session.scalars(
        select(CorrectiveAction)
        .where(*criteria.personal_action_criteria(supplier_contact, bind))
        .options(selectinload(CorrectiveAction.finding))
        .order_by(CorrectiveAction.id)
    ).all()
    return [
        ical.due_event(
            f"action-{action.id}", action.due_on,
            f"{action.kind.value.capitalize()} action due: "
            f"{'SCAR' if action.finding.is_scar else 'finding'} {action.finding.reference}",
            stamp=action.completed_at or action.finding.updated_at, domain=links.domain,
            url=links.url("scar" if action.finding.is_scar else "finding", action.finding_id))
        for action in actions
    ]


def _review_events(user: User, day: dt.date, links: Links) -> list[ical.Event]:
    from audit.management.review_calendar import review_events

    return review_events(user, day, domain=links.domain, url=lambda r: links.url("review", r.id))


def coordinator_events(kind: FeedKind, obj, *, day: dt.date, links: Links) -> list[ical.Event]:
    """Every visible audit of a programme, site, supplier or certificate, with report due
    dates; certificates add their cycle deadlines."""
    start, end = ical.feed_window(day)
    audits = db.session.scalars(
        _audit_query(*coordinator_audit_criteria(kind, obj.id, day))
    ).all()
    events = _audit_events(audits, links, day)
    for audit in audits:
        if audit.report_due_on and ical.visible_on(audit, day) and not ical.is_cancelled(audit) \
                and audit.report_issued_at is None:
            events.append(ical.due_event(
                f"audit-{audit.id}-report", audit.report_due_on,
                f"Report due: {audit.reference}", stamp=ical.audit_stamp(audit),
                domain=links.domain, url=links.url("audit", audit.id)))
    if kind is FeedKind.CERTIFICATE:
        events += certificate_events(obj, links=links)
    return [e for e in events if ical.in_window(e, start, end)]


def certification_deadlines(certificate) -> list[tuple[str, dt.date, str]]:
    """(key, date, label) of a certificate's cycle deadlines (DOMAIN.md §3).

    The latest dates the cycle allows for each surveillance and the recertification audit, as
    the cycles page and the certification sweep compute them (``cycle_status``: from the real
    dates of the earlier surveillances), plus expiry. Keys are stable so each deadline keeps its
    UID while its date holds; the fingerprint's ``cycle`` part follows the audits read here.
    """
    # Imported here: the programme's modules reach the audits' services, which import this module.
    from audit.programme.deadlines import cycle_status

    # With their site and supplier: each audit's day is read in its zone (``Audit.timezone``).
    audits = db.session.scalars(select(Audit).where(Audit.certificate_id == certificate.id)
                                .options(selectinload(Audit.site), selectinload(Audit.supplier))).all()
    items = [
        (f"{row['item'].type.value}{row['item'].number}", row["due"], f"{row['item'].label} due (latest)")
        for row in cycle_status(certificate, list(audits))
    ]
    items.append(("expiry", certificate.expiry_date, "Certificate expires"))
    return items


def certificate_events(certificate, *, links: Links) -> list[ical.Event]:
    """All-day deadlines of one certificate's cycle."""
    if certificate.status.value in ("withdrawn",):
        return []
    number = certificate.number or f"#{certificate.id}"
    url = links.url("certificate", certificate.id)
    stamp = dt.datetime.combine(certificate.decision_date, dt.time(), dt.UTC)
    return [
        ical.due_event(f"certificate-{certificate.id}-{key}", day, f"{label}: {number}",
                       stamp=stamp, domain=links.domain, url=url, category="Certification")
        for key, day, label in certification_deadlines(certificate)
    ]


# --------------------------------------------------------------------------------------------
# Whole feeds


def build_feed(kind: FeedKind, target, user: User, *, day: dt.date, links: Links,
               org_name: str = "Audits") -> ical.Feed:
    """The feed of ``kind`` for ``user`` (``target`` is the programme/site/... or None)."""
    start, end = ical.feed_window(day)
    if kind is FeedKind.PERSONAL:
        events = personal_events(user, day=day, links=links)
        name = f"{org_name}: {user.name}"
    else:
        events = coordinator_events(kind, target, day=day, links=links)
        name = f"{org_name}: {target_name(kind, target)}"
    return ical.Feed(name=name, window_start=start, window_end=end, events=tuple(events),
                     description=f"Audits and deadlines from {org_name}")


def render_coordinator_feed(kind: FeedKind, target, user: User, *, day: dt.date,
                            app: Flask) -> bytes:
    """Bytes of a coordinator feed, for benchmarks and tools (needs an app context)."""
    return ical.render_feed(build_feed(kind, target, user, day=day, links=Links(app),
                                       org_name=app.config.get("ORGANISATION_NAME", "Audits")))


def audit_ics(audit: Audit, sessions=None, *, app: Flask | None = None) -> bytes:
    """The .ics of one audit and its agenda sessions, for downloads and plan e-mails.

    ``sessions`` defaults to all of ``audit.sessions``. Needs an application (``app`` or the
    current one) for the UID domain and the link to the audit page; the bytes are the same
    serialiser's as the feeds', with the same UIDs, so an imported audit and a subscribed one
    are recognised as the same event by calendar apps.
    """
    links = Links(app or current_app)
    return ical.audit_ics(audit, sessions, domain=links.domain, url=links.url("audit", audit.id))
