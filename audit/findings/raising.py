"""Raising, issuing, owning and reopening findings, and the follow-up audit a major proposes."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings.deadlines import compute_deadlines, grade_label, local_date, policy_row
from audit.findings.notifying import notify_if_stranded, notify_transition
from audit.findings.probation import update_supplier_status
from audit.findings.transitions import text, transition
from audit.findings.workflow import FINDING, can_record, could_own
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Clause,
    Finding,
    FindingStatus,
    Grade,
    ScarStage,
)
from audit.people.services import supplier_contacts
from audit.trail.services import record, snapshot

#: A nonconformity on the same unit and clause within this window counts as repeated
#: (default; ``FINDING_REPEAT_WINDOW_DAYS`` in config overrides it).
REPEAT_WINDOW_DAYS = 365


def repeat_window_days() -> int:
    """The configured repeat window in days."""
    from flask import current_app

    return int(current_app.config.get("FINDING_REPEAT_WINDOW_DAYS") or REPEAT_WINDOW_DAYS)


def next_finding_reference(audit: Audit) -> str:
    """``<audit reference>-F<nn>``, numbered per audit."""
    count = db.session.scalar(select(func.count(Finding.id)).where(Finding.audit_id == audit.id))
    return f"{audit.reference}-F{(count or 0) + 1:02d}"


def raise_finding(
    audit: Audit,
    *,
    grade: Grade,
    statement: str,
    evidence: str | None = None,
    clauses: list[Clause] | None = None,
    unit=None,
    owner=None,
    answer=None,
    actor,
    now: dt.datetime,
) -> Finding:
    """Record a draft finding on ``audit``.

    Refused once the audit's report is issued: records are frozen then, corrections go through
    new, traceable records (DOMAIN.md §4).
    """
    if audit.report_issued_at is not None:
        raise DomainError("The report of this audit is issued: no new findings can be added.")
    return record_finding(audit, grade=grade, statement=statement, evidence=evidence,
                        clauses=clauses, unit=unit, owner=owner, answer=answer, actor=actor,
                        now=now)


def record_finding(audit: Audit, *, grade: Grade, statement: str, evidence: str | None,
                   clauses, unit=None, owner=None, answer=None, actor,
                   now: dt.datetime) -> Finding:
    """Record a draft finding without the report freeze check.

    Only for transcribing findings that were raised before a report was issued: a
    certification body's report, or demo history. Everything else uses ``raise_finding``.
    """
    statement = (statement or "").strip()
    if not statement:
        raise DomainError("State the finding: what requirement is not met, and how.",
                          field="statement")
    policy = policy_row(audit.kind, grade)
    if policy is not None and not policy.is_enabled:
        raise DomainError(f"{grade_label(audit.kind, grade)} is not used in "
                          f"{audit.kind.label.lower()} audits.", field="grade")
    if grade.is_nonconformity and not clauses:
        raise DomainError("A nonconformity must cite the clause it breaches.", field="clause_ids")
    if grade.is_nonconformity and not (evidence or "").strip():
        raise DomainError("A nonconformity needs its objective evidence.", field="evidence")
    if unit is None and len(audit.units) == 1:
        unit = audit.units[0]
    finding = Finding(
        reference=next_finding_reference(audit),
        audit=audit,
        grade=grade,
        status=FindingStatus.DRAFT,
        statement=statement,
        evidence=(evidence or "").strip() or None,
        clauses=list(clauses or []),
        unit=unit,
        site=audit.site,
        supplier=audit.supplier,
        owner=owner or (unit.owner if unit is not None else None),
        answer=answer,
        raised_by_id=getattr(actor, "id", None),
        raised_at=now,
        updated_at=now,
    )
    db.session.add(finding)
    db.session.flush()
    record(finding, "create", actor=actor, now=now,
           summary=f"Raised {grade.label} {finding.reference}",
           changes=snapshot({"grade": grade, "statement": statement,
                             # names, not ids; one string, so the trail never reads a
                             # two-clause list as "old → new"
                             "clauses": "; ".join(f"{c.number} {c.title or ''}".strip()
                                                  for c in finding.clauses)}))
    return finding


def _find_repeat(finding: Finding, now: dt.datetime) -> Finding | None:
    """An earlier nonconformity of *another* audit on the same unit (or supplier) citing one of
    the same clauses within the repeat window: two NCs in one audit are not a repeat."""
    if not finding.grade.is_nonconformity or not finding.clauses:
        return None
    clause_ids = [c.id for c in finding.clauses]
    from audit.models.finding import finding_clauses

    stmt = (
        select(Finding)
        .join(finding_clauses, finding_clauses.c.finding_id == Finding.id)
        .where(Finding.id != finding.id, Finding.audit_id != finding.audit_id,
               Finding.grade.in_([Grade.MAJOR, Grade.MINOR]),
               Finding.status != FindingStatus.DRAFT,
               finding_clauses.c.clause_id.in_(clause_ids),
               Finding.raised_at >= now - dt.timedelta(days=repeat_window_days()))
        .order_by(Finding.raised_at.desc())
        .limit(1)
    )
    if finding.unit_id is not None:
        stmt = stmt.where(Finding.unit_id == finding.unit_id)
    elif finding.supplier_id is not None:
        stmt = stmt.where(Finding.supplier_id == finding.supplier_id)
    else:
        return None
    return db.session.scalar(stmt)


def issue_finding(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """Issue a draft finding to the auditee: deadlines start, the owner is told.

    A nonconformity without an owner stays ``issued`` until one is assigned; with an owner it
    awaits the response. A second-party NC becomes a SCAR for the supplier. A major or a
    repeated NC proposes a follow-up verification audit.
    """
    FINDING.require(finding, actor, "issue")
    becomes_scar = (finding.grade.is_nonconformity and finding.supplier_id is not None
                    and finding.audit.kind is AuditKind.SECOND_PARTY)
    if becomes_scar and not supplier_contacts(finding.supplier_id):
        # Nobody could answer it: refuse rather than let the SCAR wait silently for no one.
        raise DomainError(f"{finding.supplier.name} has no active contact user to answer this "
                          "SCAR: add one (Organisation → Users, role Supplier) and issue again.")
    issued_on = local_date(finding, now)
    finding.issued_at = now
    if becomes_scar:
        finding.scar_stage = ScarStage.ISSUED
    finding.response_due_on, finding.closure_due_on = compute_deadlines(finding, issued_on)
    extra = {"response_due_on": finding.response_due_on, "closure_due_on": finding.closure_due_on}
    if finding.grade is Grade.GOOD_PRACTICE:
        finding.closed_at = now
        finding.closed_by_id = getattr(actor, "id", None)
        transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                    summary=f"Issued good practice {finding.reference} (nothing to act on)",
                    extra=extra)
        return finding
    if finding.grade.is_nonconformity:
        if finding.is_scar:
            extra["scar_stage"] = ScarStage.ISSUED
        repeat = _find_repeat(finding, now)
        if repeat is not None:
            finding.is_repeat = True
            finding.repeat_of_id = repeat.id
            extra["repeat_of"] = repeat.reference
        new = (FindingStatus.AWAITING_RESPONSE if finding.owner_id or finding.is_scar
               else FindingStatus.ISSUED)
    else:
        new = FindingStatus.ISSUED
    transition(finding, new, actor=actor, now=now,
                summary=f"Issued {finding.grade.label} {finding.reference}", extra=extra)
    if finding.grade is Grade.MAJOR or finding.is_repeat:
        propose_follow_up_audit(finding, actor=actor, now=now)
    if finding.supplier_id is not None and finding.grade is Grade.MAJOR:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    notify_transition(finding, "issue", actor=actor, now=now)
    notify_if_stranded(finding, actor=actor, now=now)
    return finding


def assign_owner(finding: Finding, owner, *, actor, now: dt.datetime) -> Finding:
    """Give a finding its auditee-side owner, or reassign it while it is open; an issued NC then
    awaits the response. The new owner must be able to answer: nobody is given a finding they
    could never move (the new owner is told, the trail names both)."""
    FINDING.require(finding, actor, "assign")
    if owner is None:
        raise DomainError("Choose the person who answers this finding.", field="owner_id")
    if owner.supplier_id is not None and owner.supplier_id != finding.supplier_id:
        raise DomainError("A supplier contact can only own their own company's findings.",
                          field="owner_id")
    if not finding.is_scar and not could_own(finding, owner):
        raise DomainError(f"{owner.name} cannot answer findings (no auditee role): choose someone "
                          "who can, or give them the role first.", field="owner_id")
    if owner.id == finding.owner_id:
        raise DomainError(f"{owner.name} already owns this finding.", field="owner_id")
    old = finding.owner
    finding.owner = owner
    db.session.flush()
    record(finding, "update", actor=actor, now=now,
           summary=f"Owner set to {owner.name}" + (f" (was {old.name})" if old else ""),
           changes={"owner": [old.name if old else None, owner.name]})
    if finding.status is FindingStatus.ISSUED and finding.grade.is_nonconformity:
        transition(finding, FindingStatus.AWAITING_RESPONSE, actor=actor, now=now,
                    summary=f"{finding.reference} awaits {owner.name}'s response")
    notify_transition(finding, "assign", actor=actor, now=now)
    if old is not None:
        notify_transition(finding, "unassign", actor=actor, now=now, recipients=[old],
                          note=f"New owner: {owner.name}")
    notify_if_stranded(finding, actor=actor, now=now)
    return finding


def propose_follow_up_audit(finding: Finding, *, actor, now: dt.datetime) -> Audit:
    """Propose a follow-up verification audit (status PLANNED) in the original's programme.

    Audits belong to the programme feature; the proposal is a plain PLANNED row the coordinator
    schedules or cancels there.
    """

    if finding.follow_up_audit_id is not None:
        return finding.follow_up_audit
    why = "repeated nonconformity" if finding.is_repeat else "major nonconformity"
    proposal = _new_follow_up_audit(finding, why, actor=actor, now=now)
    finding.follow_up_audit = proposal
    db.session.flush()
    record(finding, "update", actor=actor, now=now,
           summary=f"Follow-up audit {proposal.reference} proposed",
           changes={"follow_up_audit_id": [None, proposal.id]})
    return proposal


def _new_follow_up_audit(finding: Finding, why: str, *, actor, now: dt.datetime) -> Audit:
    """A PLANNED follow-up verification audit of ``finding``'s subject (trailed, not linked)."""
    from audit.programme.triggers import trigger_audit_days

    original = finding.audit
    # Within the trigger days of the NC being issued (DOMAIN.md §2, config TRIGGER_AUDIT_DAYS).
    # Planned at the deadline itself: the follow-up verifies actions, which need the time, and
    # an earlier planned date would pull the unit's minors' closure ("by the next audit") in.
    due_by = planned = local_date(finding, now) + dt.timedelta(days=trigger_audit_days())
    reference = f"FU-{finding.reference}"[:40]
    taken = db.session.scalar(select(func.count(Audit.id)).where(Audit.reference.like(f"{reference}%")))
    if taken:  # an earlier follow-up of the same finding exists (a repeat after it)
        reference = f"{reference[:36]}-{taken + 1}"
    proposal = Audit(
        reference=reference,
        title=f"Follow-up verification of {finding.reference}"[:200],
        kind=original.kind,
        third_party_type=original.third_party_type,
        status=AuditStatus.PLANNED,
        programme_id=original.programme_id,
        site_id=original.site_id,
        supplier_id=original.supplier_id,
        certificate_id=original.certificate_id,
        certification_body_id=original.certification_body_id,
        audit_client=original.audit_client,
        objectives=f"Verify the correction and corrective action of {finding.reference} "
                   f"({why}) and their effectiveness.",
        scope=original.scope,
        planned_date=planned,
        due_by=due_by,
        created_at=now,
        updated_at=now,
    )
    proposal.units = list(original.units) if finding.unit is None else [finding.unit]
    proposal.standards = list(original.standards)
    proposal.clauses = list(finding.clauses)
    db.session.add(proposal)
    db.session.flush()
    record(proposal, "create", actor=actor, now=now,
           summary=f"Proposed follow-up audit {reference} for {why} {finding.reference}",
           changes=snapshot({"status": proposal.status, "kind": proposal.kind,
                             "planned_date": planned, "finding": finding.reference}))
    return proposal


def reopen_finding(finding: Finding, reason: str, *, actor, now: dt.datetime) -> Finding:
    """The problem is back after closure: raise a new, linked finding (the closed one stays).

    The new finding is a draft repeating the original; issuing it follows the repeat rules. An
    audit whose report is issued never changes: the new finding then belongs to the finding's
    follow-up audit, or the unit's next audit, or a follow-up audit proposed for it now.
    """
    if finding.status is not FindingStatus.CLOSED:
        raise DomainError("Only a closed finding is reopened; this one is still open.")
    FINDING.require(finding, actor, "reopen")
    reason = text(reason)
    if not reason:
        raise DomainError("Say what shows the problem is back.", field="reason")
    audit = _audit_for_repeat(finding, actor=actor, now=now)
    new = Finding(
        reference=next_finding_reference(audit),
        audit=audit, grade=finding.grade, status=FindingStatus.DRAFT,
        statement=finding.statement, evidence=f"{reason}\n\n(Earlier: {finding.evidence or '—'})",
        clauses=list(finding.clauses), unit=finding.unit, site=finding.site,
        supplier=finding.supplier, owner=finding.owner, raised_by_id=getattr(actor, "id", None),
        raised_at=now, updated_at=now, repeat_of=finding, is_repeat=True,
        external_reference=finding.external_reference,
    )
    db.session.add(new)
    db.session.flush()
    record(new, "create", actor=actor, now=now,
           summary=f"Reopened {finding.reference} as {new.reference}",
           changes=snapshot({"repeat_of": finding.reference, "reason": reason}))
    record(finding, "reopen", actor=actor, now=now,
           summary=f"Recurred: followed up by {new.reference}",
           changes=snapshot({"new_finding": new.reference, "reason": reason}))
    return new


def _open_for_findings(audit: Audit | None) -> bool:
    return audit is not None and audit.report_issued_at is None and audit.status not in (
        AuditStatus.CANCELLED, AuditStatus.POSTPONED, AuditStatus.CLOSED)


def _audit_for_repeat(finding: Finding, *, actor, now: dt.datetime) -> Audit:
    """Where a repeat of ``finding`` is recorded: its own audit while the report is not issued;
    else its follow-up audit, else the unit's (or supplier's) next open audit, else a follow-up
    audit proposed now."""
    if _open_for_findings(finding.audit):
        return finding.audit
    if _open_for_findings(finding.follow_up_audit):
        return finding.follow_up_audit
    from audit.models.audit import audit_units

    stmt = select(Audit).where(Audit.report_issued_at.is_(None), Audit.id != finding.audit_id,
                               Audit.status.notin_([AuditStatus.CANCELLED, AuditStatus.POSTPONED,
                                                    AuditStatus.CLOSED]))
    if finding.unit_id is not None:
        stmt = stmt.join(audit_units, audit_units.c.audit_id == Audit.id).where(
            audit_units.c.unit_id == finding.unit_id)
    elif finding.supplier_id is not None:
        stmt = stmt.where(Audit.supplier_id == finding.supplier_id)
    else:
        stmt = None
    nxt = db.session.scalar(stmt.order_by(Audit.planned_date, Audit.id).limit(1)) if stmt is not None else None
    if nxt is not None:
        return nxt
    # A closed finding is a record: the new audit is proposed without touching it.
    return _new_follow_up_audit(finding, "recurred nonconformity", actor=actor, now=now)


def record_manual_finding(audit: Audit, *, grade: Grade, statement: str, evidence: str | None,
                          clause_numbers: str, external_reference: str | None, actor,
                          now: dt.datetime) -> Finding:
    """Record one finding typed in by hand.

    Our own audits follow ``raise_finding`` (refused once the report is issued); a third-party
    audit's findings are transcribed from the CB's report, so the freeze does not apply.
    """
    if not can_record(audit, actor):
        raise NotAllowed("Only the audit's auditing team or a coordinator records its findings.")
    numbers = [n.strip() for n in re.split(r"[;,\s]+", clause_numbers or "") if n.strip()]
    clause_map = {c.number: c for std in audit.standards for c in std.clauses}
    unknown = [n for n in numbers if n not in clause_map]
    if unknown:
        raise DomainError(f"Clause(s) {', '.join(unknown)} are not in the audit's standards.",
                          field="clauses")
    clauses = [clause_map[n] for n in numbers]
    if audit.kind is AuditKind.THIRD_PARTY:
        finding = record_finding(audit, grade=grade, statement=statement, evidence=evidence,
                                 clauses=clauses, actor=actor, now=now)
        finding.external_reference = text(external_reference) or None
    else:
        finding = raise_finding(audit, grade=grade, statement=statement, evidence=evidence,
                                clauses=clauses, actor=actor, now=now)
    return finding
