"""The audit report (ISO 19011 6.5): the closing record, the lead's signature, the auditee's
acknowledgement, and issuing it, which freezes the audit's records."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from audit.audits.announcements import auditees, supplier_contacts, team
from audit.conduct.access import can_view, is_auditee, require_not_frozen
from audit.conduct.blockers import not_covered_rows
from audit.conduct.checklist_read import build_checklist
from audit.conduct.lifecycle import advance_status
from audit.conduct.report_workflow import REPORT, get_report
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, AuditReport, AuditStatus, Evidence, Finding, User
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.trail.services import apply_changes, record, snapshot

SAMPLING_STATEMENT = (
    "Audits are based on samples of the available information; nonconformities may exist "
    "that were not found."
)

# --- the report ------------------------------------------------------------------------------

REPORT_FIELDS = ("conclusions", "fulfilment", "positive_findings", "areas_not_covered",
                 "diverging_opinions", "follow_up", "distribution")


def default_report_due_on(audit: Audit, days: int) -> dt.date | None:
    """The audit's last day (in its site's zone) plus ``days``."""
    if audit.ends_at is None:
        return None
    local_end = audit.ends_at.astimezone(zoneinfo.ZoneInfo(audit.timezone)).date()
    return local_end + dt.timedelta(days=days)


def ensure_report_due_on(audit: Audit, *, days: int, actor, now: dt.datetime) -> None:
    """Set ``report_due_on`` to its default if nobody set it (feeds the report reminders)."""
    if audit.report_due_on is None:
        due = default_report_due_on(audit, days)
        if due is not None:
            audit.report_due_on = due
            db.session.flush()
            record(audit, "update", actor=actor, now=now, summary=f"Report of {audit.reference} due",
                   changes={"report_due_on": [None, due.isoformat()]})


def save_report(audit: Audit, data: dict, *, actor, now: dt.datetime) -> AuditReport:
    """Write the closing record (conclusions, positive findings, areas not covered ...).

    A change after the lead's sign-off withdraws the sign-off: the lead signs what is issued.
    """
    require_not_frozen(audit)  # frozen records answer 423 on the API, whoever asks
    REPORT.require(audit, actor, "report")
    values = {k: ((data.get(k) or "").strip() or None) for k in REPORT_FIELDS}
    report = get_report(audit)
    if report is None:
        report = AuditReport(audit_id=audit.id, sampling_statement=SAMPLING_STATEMENT,
                             updated_at=now, **values)
        db.session.add(report)
        db.session.flush()
        record(report, "create", actor=actor, now=now,
               summary=f"Started the report of {audit.reference}", changes=snapshot(values))
        return report
    changes = apply_changes(report, values)
    if changes:
        if report.signed_at is not None:
            changes["signed_at"] = [report.signed_at.isoformat(), None]
            report.signed_at = None
            report.signed_by_id = None
        report.updated_at = now
        db.session.flush()
        record(report, "update", actor=actor, now=now,
               summary=f"Edited the report of {audit.reference}", changes=changes)
    return report


def sign_report(audit: Audit, *, actor, now: dt.datetime) -> AuditReport:
    """The lead auditor signs the report as it stands."""
    require_not_frozen(audit)  # frozen records answer 423 on the API, whoever asks
    REPORT.require(audit, actor, "sign_report")
    report = get_report(audit)
    report.signed_by_id = actor.id
    report.signed_at = now
    report.updated_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now, summary=f"Lead signed the report of {audit.reference}",
           changes={"signed_at": [None, now.isoformat()]})
    announce_signed(audit, report, actor=actor, now=now)
    return report


def acknowledge_report(audit: Audit, *, name: str, actor, now: dt.datetime) -> AuditReport:
    """Record the auditee representative's acknowledgement (given at the closing meeting).

    An auditee of the audited units acknowledges for themselves; a team auditor may record the
    name of the representative who acknowledged on the tablet.
    """
    REPORT.require(audit, actor, "acknowledge_report")
    report = get_report(audit)
    if is_auditee(audit, actor):
        name = name or actor.name
        ack_id = actor.id
    else:  # a team auditor records the representative's name
        ack_id = None
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the name of the auditee representative.", field="name")
    report.acknowledged_by_name = name[:160]
    report.acknowledged_by_id = ack_id
    report.acknowledged_at = now
    report.updated_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now,
           summary=f"{name} acknowledged the report of {audit.reference}",
           changes={"acknowledged_by_name": [None, name]})
    return report


def issue_report(audit: Audit, *, actor, now: dt.datetime) -> AuditReport:
    """Issue the report: the audit is frozen (no answers, evidence or findings afterwards), and
    the people it concerns are told (``announce_issued``)."""
    require_not_frozen(audit)  # frozen records answer 423 on the API, whoever asks
    REPORT.require(audit, actor, "issue_report")  # lead only, blockers cleared, not frozen
    report = get_report(audit)
    report.issued_at = now
    report.issued_by_id = actor.id
    report.updated_at = now
    audit.report_issued_at = now
    db.session.flush()
    record(report, "transition", actor=actor, now=now, summary=f"Issued the report of {audit.reference}",
           changes={"issued_at": [None, now.isoformat()]})
    if audit.status is AuditStatus.IN_PROGRESS:
        advance_status(audit, AuditStatus.FIELDWORK_COMPLETE, actor=actor, now=now)
    if not advance_status(audit, AuditStatus.REPORT_ISSUED, actor=actor, now=now):
        # The issued report is what freezes the audit; its status follows whatever came before.
        old = audit.status
        audit.status = AuditStatus.REPORT_ISSUED
        audit.updated_at = now
        db.session.flush()
        record(audit, "transition", actor=actor, now=now, summary=f"{audit.reference}: report issued",
               changes={"status": [old.value, AuditStatus.REPORT_ISSUED.value],
                        "report_issued_at": [None, now.isoformat()]})
    announce_issued(audit, report, actor=actor, now=now)
    return report


# --- telling the unit owners the signed report waits for their acknowledgement ---------------

ACKNOWLEDGE_KIND = "report_to_acknowledge"
#: The report's own notification kinds (kind → preferences label), registered by ``audit.conduct``.
NOTIFICATION_KINDS = {ACKNOWLEDGE_KIND: "An audit report of your area is signed: acknowledge it"}


def acknowledging_owners(audit: Audit, report: AuditReport) -> list[User]:
    """The owners of the audited units whose "Report to acknowledge" the report opens
    (``conduct.waiting``): those the workflow lets acknowledge it now, until someone has."""
    if report.acknowledged_at is not None:
        return []
    owners = {u.owner.id: u.owner for u in audit.units if u.owner is not None and u.owner.is_active}
    return [owners[k] for k in sorted(owners) if REPORT.decide(audit, owners[k], "acknowledge_report")]


def announce_signed(audit: Audit, report: AuditReport, *, actor, now: dt.datetime) -> list[User]:
    """Tell the owners who must acknowledge the report that the lead signed it (it is ready);
    returns who was newly told. Once per audit and person: signing again after an edit, which
    withdrew the signature, tells nobody a second time."""
    due = f"{audit.report_due_on:%d %b %Y}, the report's due date" if audit.report_due_on else \
        "before the lead issues the report"
    body = (f"What happened: {actor.name} signed the report of {audit.reference} {audit.title}.\n"
            "What is expected of you: Read the report and acknowledge it for the audited area.\n"
            f"By: {due}")
    notified = []
    for person in acknowledging_owners(audit, report):
        if person.id != actor.id and notify(
                person, kind=ACKNOWLEDGE_KIND, title=f"Report of {audit.reference} to acknowledge", body=body,
                link=f"/audits/{audit.id}/report", dedupe_key=f"audit:{audit.id}:report-acknowledge:{person.id}",
                now=now):
            notified.append(person)
    return notified


# --- telling the people the issued report concerns ------------------------------------------

ISSUED_KIND = "report_issued"  #: registered with the other report kinds in ``audit.audits``

#: What each audience is expected to do with the issued report, and the page it acts on
#: (``None``: the report page). Supplier contacts cannot open internal pages: theirs is the SCAR list.
ISSUED_AUDIENCES: dict[str, tuple[str, str | None]] = {
    "auditee": ("Read the report. Each finding reaches its owner separately, to be answered by "
                "its deadline.", None),
    "supplier": ("Answer the corrective action requests (SCARs) raised to your company on your "
                 "SCAR page as they are issued.", "/scar/"),
    "team": ("Nothing more on this audit: its records are frozen; findings still in draft are issued "
             "by the lead.", None),
    "coordinator": ("Review the report for the audit programme and follow its findings.", None),
    "distribution": ("Read the report: you are on its distribution list.", None),
}


def distribution_users(audit: Audit, report: AuditReport) -> list[User]:
    """The distribution list's lines that name an active user (by e-mail or full name, any case)
    who may open the report; other lines (roles, outside parties) name nobody to notify."""
    lines = {line.strip().lower() for line in (report.distribution or "").splitlines() if line.strip()}
    if not lines:
        return []
    named = db.session.scalars(select(User).where(
        User.is_active.is_(True),
        or_(func.lower(User.email).in_(lines), func.lower(User.name).in_(lines))).order_by(User.id))
    return [u for u in named if can_view(audit, u)]


def issued_report_audience(audit: Audit, report: AuditReport, *, actor) -> list[tuple[User, str]]:
    """``(person, audience)`` for everyone the issued report concerns, each person once (the
    first audience that names them wins), never the person who issued it."""
    audiences = {"auditee": auditees(audit), "supplier": supplier_contacts(audit), "team": team(audit),
                 "coordinator": coordinators(), "distribution": distribution_users(audit, report)}
    found: dict[int, tuple[User, str]] = {}
    for audience, people in audiences.items():
        for person in people:
            if person.id != getattr(actor, "id", None):
                found.setdefault(person.id, (person, audience))
    return list(found.values())


def announce_issued(audit: Audit, report: AuditReport, *, actor, now: dt.datetime) -> list[User]:
    """Tell everyone ``issued_report_audience`` names that the report is issued; returns who was
    newly told. One notification per audit and person: the report is issued only once."""
    happened = f"{actor.name} issued the report of {audit.reference} {audit.title}."
    notified = []
    for person, audience in issued_report_audience(audit, report, actor=actor):
        expected, link = ISSUED_AUDIENCES[audience]
        if notify(person, kind=ISSUED_KIND, title=f"Report of {audit.reference} issued",
                  body=f"What happened: {happened}\nWhat is expected of you: {expected}",
                  link=link or f"/audits/{audit.id}/report",
                  dedupe_key=f"audit:{audit.id}:report-issued:{person.id}", now=now):
            notified.append(person)
    return notified


# --- report contents -------------------------------------------------------------------------


@dataclass
class ClauseCoverage:
    """How far one clause was examined in this audit."""

    clause: object
    questions: int = 0
    answered: int = 0
    verdicts: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)


def report_contents(audit: Audit, *, confidentiality: str | None = None) -> dict:
    """Everything the report shows (ISO 19011 6.5.1), loaded in a fixed number of queries.

    ``confidentiality`` is the organisation's statement printed on every report (configuration
    REPORT_CONFIDENTIALITY; the caller passes it so that this stays free of the app object).
    """
    checklist = build_checklist(audit)
    findings = list(db.session.scalars(
        select(Finding).where(Finding.audit_id == audit.id).order_by(Finding.reference)
        .options(selectinload(Finding.clauses), selectinload(Finding.unit))
    ))
    files: dict[int, list[Evidence]] = {}
    for ev in db.session.scalars(select(Evidence).where(Evidence.audit_id == audit.id,
                                                        Evidence.finding_id.is_not(None))):
        files.setdefault(ev.finding_id, []).append(ev)
    coverage: dict[int, ClauseCoverage] = {}
    for row in checklist.rows:
        if not row.visible:
            continue
        for clause in row.question.clauses:
            cov = coverage.setdefault(clause.id, ClauseCoverage(clause))
            cov.questions += 1
            if row.answered:
                cov.answered += 1
                label = row.answer.verdict.label if row.answer.verdict else "answered"
                cov.verdicts[label] = cov.verdicts.get(label, 0) + 1
    for f in findings:
        for clause in f.clauses:
            coverage.setdefault(clause.id, ClauseCoverage(clause)).findings.append(f)
    for clause in audit.clauses:
        coverage.setdefault(clause.id, ClauseCoverage(clause))
    report = get_report(audit)
    ordered = sorted(coverage.values(), key=lambda c: (c.clause.standard_id, c.clause.position))
    return {
        "audit": audit,
        "report": report,
        "checklist": checklist,
        "findings": findings,
        "finding_files": files,
        "coverage": ordered,
        "not_covered": not_covered_rows(checklist),
        "criteria_lines": criteria_lines(audit),
        "distribution_lines": [line.strip() for line in ((report.distribution if report else None)
                                                         or "").splitlines() if line.strip()],
        "confidentiality": confidentiality,
        "sampling_statement": SAMPLING_STATEMENT,
    }


def criteria_lines(audit: Audit) -> list[str]:
    """The audit criteria as a list: each line of the free text, then each standard's edition."""
    lines = [line.strip(" \t-•;") for line in (audit.criteria or "").splitlines()]
    lines = [line for line in lines if line]
    for std in audit.standards:
        label = f"{std.code}:{std.edition}" if std.edition else std.code
        if label not in lines:
            lines.append(label)
    return lines
