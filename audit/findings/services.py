"""Finding rules: the corrective-action life cycle of DOMAIN.md §5, enforced here.

``raise_finding`` is shared by the checklist screen and the findings pages. Every other function
is one transition (or one edit) of a finding; each checks the state, the actor's object-level
right, writes a trail entry and flushes. Closed findings are read-only forever: corrections go
through a new, linked finding (``reopen_finding``).

Life cycle (nonconformities)::

    draft → issued (no owner yet) → awaiting response → response submitted
          → (rejected → awaiting response) → action in progress → pending verification
          → closed;  not effective → action in progress (recurrence + 1)

Observations / OFIs: issued → accepted (improvement action) | declined (rationale) → closed.
Good practice closes when issued: there is nothing to act on.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.models import (
    ISHIKAWA_CATEGORIES,
    ActionKind,
    ActionStatus,
    Audit,
    AuditKind,
    AuditStatus,
    Clause,
    CorrectiveAction,
    DeadlinePolicy,
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    FindingStatus,
    Grade,
    PoorQualityCost,
    Role,
    RootCauseMethod,
    ScarStage,
)
from audit.models import (
    CostCategory as CostCategory,
)
from audit.models.audit import audit_units
from audit.trail.services import record, snapshot

#: DOMAIN.md §5 default deadlines in days: (response, closure) per audit kind and grade.
#: ``None`` = no formal deadline (observations and OFIs need only a recorded decision).
DEFAULT_DEADLINES: dict[tuple[str, Grade], tuple[int | None, int | None]] = {}
for _kind in AuditKind:
    DEFAULT_DEADLINES[(_kind.value, Grade.MAJOR)] = (
        14, 90 if _kind is AuditKind.THIRD_PARTY else 60)
    DEFAULT_DEADLINES[(_kind.value, Grade.MINOR)] = (30, 90)
    for _grade in (Grade.OBSERVATION, Grade.OFI, Grade.GOOD_PRACTICE):
        DEFAULT_DEADLINES[(_kind.value, _grade)] = (None, None)

#: SCAR stage deadlines after issue (DOMAIN.md §5, PRACTICE).
SCAR_STAGE_DEADLINES = {
    ScarStage.CONTAINMENT: dt.timedelta(hours=24),
    ScarStage.ROOT_CAUSE: dt.timedelta(days=14),
    ScarStage.ACTION_PLAN: dt.timedelta(days=30),
}

#: A nonconformity on the same unit and clause within this window counts as repeated.
REPEAT_WINDOW_DAYS = 365

#: Phrases that do not explain a cause on their own (PRACTICE).
_BLAMING_PHRASES = (
    "operator error", "human error", "operator mistake", "human mistake", "user error",
    "retrain", "retrained", "retraining", "re-train", "re-training", "training", "train operator",
    "lack of training", "employee error", "staff error", "carelessness", "careless", "mistake",
    "error", "operator", "staff", "employee", "the", "a", "an", "by", "of", "was", "were", "is",
    "due", "to", "and", "or", "not", "no", "did", "follow", "instructions", "procedure",
    "forgot", "forgotten",
)

OPEN_STATUSES = tuple(s for s in FindingStatus if s.is_open)


# ---------------------------------------------------------------------------------------------
# Who may do what (object level, on top of the view's capability)
# ---------------------------------------------------------------------------------------------

def _is_admin(user) -> bool:
    return user is not None and Role.ADMIN in user.roles


def can_respond(finding: Finding, user) -> bool:
    """The auditee side: the finding's owner or the unit's owner; for a SCAR, the supplier."""
    if user is None:
        return False
    if _is_admin(user):
        return True
    if finding.is_scar:
        return (user.can(Permission.RESPOND_SCAR) and user.supplier_id is not None
                and user.supplier_id == finding.supplier_id)
    if not user.can(Permission.RESPOND_FINDING):
        return False
    return _id(finding.owner, finding.owner_id) == user.id or (
        finding.unit is not None and _id(finding.unit.owner, finding.unit.owner_id) == user.id)


def _id(obj, fallback):
    """The id of a related object even before a flush sets the foreign key."""
    return obj.id if obj is not None else fallback


def can_verify(finding: Finding, user) -> bool:
    """Auditors and coordinators verify; never someone who owns an action or the finding."""
    if user is None or not user.can(Permission.VERIFY_FINDING):
        return False
    if _id(finding.owner, finding.owner_id) == user.id:
        return False
    return all(_id(a.owner, a.owner_id) != user.id for a in finding.actions)


def can_issue(finding: Finding, user) -> bool:
    return user is not None and (user.can(Permission.CONDUCT_AUDIT)
                                 or user.can(Permission.MANAGE_PROGRAMME))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise NotAllowed(message)


def ensure_editable(finding: Finding) -> None:
    """Closed findings are records: readable forever, never edited."""
    if finding.status is FindingStatus.CLOSED:
        raise DomainError("This finding is closed: it is a record now and cannot be changed. "
                          "Raise a new finding (reopen) if the problem is back.")


def _expect(finding: Finding, *statuses: FindingStatus, doing: str) -> None:
    ensure_editable(finding)
    if finding.status not in statuses:
        raise DomainError(f"Cannot {doing} a finding that is {finding.status.label.lower()}.")


def _transition(finding: Finding, new: FindingStatus, *, actor, now, summary: str,
                extra: dict | None = None) -> None:
    old = finding.status
    finding.status = new
    finding.updated_at = now
    changes = {"status": [old.value, new.value]}
    for key, value in (extra or {}).items():
        changes[key] = value
    db.session.flush()
    record(finding, "transition", actor=actor, now=now, summary=summary,
           changes=snapshot(changes))


def _text(value: str | None) -> str:
    return (value or "").strip()


# ---------------------------------------------------------------------------------------------
# Raising and issuing
# ---------------------------------------------------------------------------------------------

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
    policy = _policy_row(audit.kind, grade)
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
                             "clauses": [c.id for c in finding.clauses]}))
    return finding


def _policy_row(audit_kind: AuditKind, grade: Grade) -> DeadlinePolicy | None:
    return db.session.scalar(select(DeadlinePolicy).where(
        DeadlinePolicy.audit_kind == audit_kind.value, DeadlinePolicy.grade == grade))


def grade_label(audit_kind: AuditKind, grade: Grade) -> str:
    """The grade's name in this kind of audit (configurable; CBs use their own names)."""
    row = _policy_row(audit_kind, grade)
    return row.label if row is not None and row.label else grade.label


def deadline_days(audit_kind: AuditKind, grade: Grade) -> tuple[int | None, int | None]:
    """(response, closure) days for a grade in an audit kind: the policy table, else defaults."""
    row = _policy_row(audit_kind, grade)
    if row is not None:
        return row.response_days, row.closure_days
    return DEFAULT_DEADLINES[(audit_kind.value, grade)]


def local_date(finding_or_audit, now: dt.datetime) -> dt.date:
    """Today's date where the audit happened (deadlines are calendar days at the auditee)."""
    audit = finding_or_audit.audit if isinstance(finding_or_audit, Finding) else finding_or_audit
    zone = audit.timezone if audit is not None else "UTC"
    return now.astimezone(zoneinfo.ZoneInfo(zone)).date()


def _next_audit_of_unit(finding: Finding, after: dt.date) -> dt.date | None:
    """The planned date of the unit's next audit (a minor closes "by the next audit")."""
    if finding.unit_id is None:
        return None
    return db.session.scalar(
        select(func.min(Audit.planned_date))
        .join(audit_units, audit_units.c.audit_id == Audit.id)
        .where(audit_units.c.unit_id == finding.unit_id, Audit.id != finding.audit_id,
               Audit.planned_date > after,
               Audit.status.notin_([AuditStatus.CANCELLED, AuditStatus.POSTPONED]))
    )


def compute_deadlines(finding: Finding, issued_on: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Response and closure due dates for ``finding`` issued on ``issued_on``.

    Majors and minors follow the policy for their audit kind; a minor must also close by the
    unit's next audit when that comes sooner.
    """
    response, closure = deadline_days(finding.audit.kind, finding.grade)
    response_due = issued_on + dt.timedelta(days=response) if response is not None else None
    closure_due = issued_on + dt.timedelta(days=closure) if closure is not None else None
    if finding.grade is Grade.MINOR and closure_due is not None:
        next_audit = _next_audit_of_unit(finding, issued_on)
        if next_audit is not None and next_audit < closure_due:
            closure_due = next_audit
    return response_due, closure_due


def scar_stage_due(finding: Finding) -> dict[ScarStage, dt.datetime]:
    """When each supplier stage of a SCAR is due, counted from its issue."""
    if finding.issued_at is None:
        return {}
    return {stage: finding.issued_at + delta for stage, delta in SCAR_STAGE_DEADLINES.items()}


def _find_repeat(finding: Finding, now: dt.datetime) -> Finding | None:
    """An earlier nonconformity on the same unit (or supplier) citing one of the same clauses."""
    if not finding.grade.is_nonconformity or not finding.clauses:
        return None
    clause_ids = [c.id for c in finding.clauses]
    from audit.models.finding import finding_clauses

    stmt = (
        select(Finding)
        .join(finding_clauses, finding_clauses.c.finding_id == Finding.id)
        .where(Finding.id != finding.id,
               Finding.grade.in_([Grade.MAJOR, Grade.MINOR]),
               Finding.status != FindingStatus.DRAFT,
               finding_clauses.c.clause_id.in_(clause_ids),
               Finding.raised_at >= now - dt.timedelta(days=REPEAT_WINDOW_DAYS))
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
    _expect(finding, FindingStatus.DRAFT, doing="issue")
    _require(can_issue(finding, actor), "Only auditors and coordinators issue findings.")
    issued_on = local_date(finding, now)
    finding.issued_at = now
    finding.response_due_on, finding.closure_due_on = compute_deadlines(finding, issued_on)
    extra = {"response_due_on": finding.response_due_on, "closure_due_on": finding.closure_due_on}
    if finding.grade is Grade.GOOD_PRACTICE:
        finding.closed_at = now
        finding.closed_by_id = getattr(actor, "id", None)
        _transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                    summary=f"Issued good practice {finding.reference} (nothing to act on)",
                    extra=extra)
        return finding
    if finding.grade.is_nonconformity:
        if finding.supplier_id is not None and finding.audit.kind is AuditKind.SECOND_PARTY:
            finding.scar_stage = ScarStage.ISSUED
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
    _transition(finding, new, actor=actor, now=now,
                summary=f"Issued {finding.grade.label} {finding.reference}", extra=extra)
    if finding.grade is Grade.MAJOR or finding.is_repeat:
        propose_follow_up_audit(finding, actor=actor, now=now)
    if finding.supplier_id is not None and finding.grade is Grade.MAJOR:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    _notify_issued(finding, now)
    return finding


def _notify_issued(finding: Finding, now: dt.datetime) -> None:
    from audit.notifications.services import notify

    recipients = [finding.owner] if finding.owner is not None else []
    if finding.is_scar:
        recipients = _supplier_contacts(finding.supplier_id)
    due = finding.response_due_on or finding.closure_due_on
    for user in recipients:
        notify(user, kind="finding_issued",
               title=f"{finding.grade.label} {finding.reference} issued to you",
               body=finding.statement + (f"\nResponse due {due:%d %b %Y}." if due else ""),
               link=f"/{'scar' if finding.is_scar else 'findings'}/{finding.id}",
               dedupe_key=f"finding:{finding.id}:issued:{user.id}", now=now)


def _supplier_contacts(supplier_id: int | None) -> list:
    from audit.models import User

    if supplier_id is None:
        return []
    return list(db.session.scalars(select(User).where(User.supplier_id == supplier_id,
                                                      User.is_active.is_(True))))


def assign_owner(finding: Finding, owner, *, actor, now: dt.datetime) -> Finding:
    """Give an issued NC its auditee-side owner; it then awaits the response."""
    ensure_editable(finding)
    _require(can_issue(finding, actor), "Only auditors and coordinators assign owners.")
    if owner is None:
        raise DomainError("Choose the person who answers this finding.", field="owner_id")
    if owner.supplier_id is not None and owner.supplier_id != finding.supplier_id:
        raise DomainError("A supplier contact can only own their own company's findings.",
                          field="owner_id")
    old = finding.owner_id
    finding.owner = owner
    db.session.flush()
    record(finding, "update", actor=actor, now=now, summary=f"Owner set to {owner.name}",
           changes={"owner_id": [old, owner.id]})
    if finding.status is FindingStatus.ISSUED and finding.grade.is_nonconformity:
        _transition(finding, FindingStatus.AWAITING_RESPONSE, actor=actor, now=now,
                    summary=f"{finding.reference} awaits {owner.name}'s response")
    _notify_issued(finding, now)
    return finding


def propose_follow_up_audit(finding: Finding, *, actor, now: dt.datetime) -> Audit:
    """Propose a follow-up verification audit (status PLANNED) in the original's programme.

    Audits belong to the programme feature; the proposal is a plain PLANNED row the coordinator
    schedules or cancels there.
    """
    from audit.programme.triggers import trigger_audit_days

    if finding.follow_up_audit_id is not None:
        return finding.follow_up_audit
    original = finding.audit
    # Within the trigger days of the NC being issued (DOMAIN.md §2, config TRIGGER_AUDIT_DAYS).
    # Planned at the deadline itself: the follow-up verifies actions, which need the time, and
    # an earlier planned date would pull the unit's minors' closure ("by the next audit") in.
    due_by = planned = local_date(finding, now) + dt.timedelta(days=trigger_audit_days())
    reference = f"FU-{finding.reference}"[:40]
    why = "repeated nonconformity" if finding.is_repeat else "major nonconformity"
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
    finding.follow_up_audit = proposal
    db.session.flush()
    record(finding, "update", actor=actor, now=now,
           summary=f"Follow-up audit {reference} proposed",
           changes={"follow_up_audit_id": [None, proposal.id]})
    return proposal


# ---------------------------------------------------------------------------------------------
# Response: containment, extent, root cause, actions
# ---------------------------------------------------------------------------------------------

def check_root_cause(root_cause: str | None) -> str:
    """Return the cleaned root cause, or refuse blame-only statements.

    "Operator error" or "retrain" alone explain nothing: what let the error happen, or why the
    knowledge was missing, is the cause (PRACTICE).
    """
    text = _text(root_cause)
    if not text:
        raise DomainError("State the root cause the analysis arrived at.", field="root_cause")
    words = re.findall(r"[a-z]+", text.lower())
    meaningful = [w for w in words if w not in _BLAMING_PHRASES]
    if len(meaningful) < 2:
        raise DomainError(
            "“Operator error” or “retrain” alone is not a root cause: say what in the method, "
            "machine, material, measurement or environment let it happen.", field="root_cause")
    return text


def _clean_whys(whys) -> list[str]:
    return [w.strip() for w in (whys or []) if w and w.strip()]


def _clean_ishikawa(ishikawa) -> dict[str, str]:
    result = {}
    for key, value in (ishikawa or {}).items():
        if key not in ISHIKAWA_CATEGORIES:
            raise DomainError(f"Unknown Ishikawa category “{key}”.", field="ishikawa")
        if value and value.strip():
            result[key] = value.strip()
    return result


def _build_action(finding: Finding, spec: dict, *, round_: int) -> CorrectiveAction:
    description = _text(spec.get("description"))
    if not description:
        raise DomainError("Describe each action.", field="actions")
    kind = spec.get("kind") or ActionKind.CORRECTIVE
    if isinstance(kind, str):
        kind = ActionKind(kind)
    due_on = spec.get("due_on")
    if due_on is None:
        raise DomainError("Give each action a due date.", field="actions")
    if finding.closure_due_on and due_on > finding.closure_due_on:
        raise DomainError(f"Actions must be due by the closure deadline "
                          f"({finding.closure_due_on:%d %b %Y}); request an extension first.",
                          field="actions")
    owner = spec.get("owner") or finding.owner
    return CorrectiveAction(kind=kind, description=description,
                            owner=owner, due_on=due_on, status=ActionStatus.OPEN, round=round_)


def submit_response(
    finding: Finding,
    *,
    containment: str | None,
    extent_check: str | None,
    root_cause_method: RootCauseMethod | None,
    root_cause: str | None,
    actions: list[dict],
    whys: list[str] | None = None,
    ishikawa: dict[str, str] | None = None,
    actor,
    now: dt.datetime,
) -> Finding:
    """The owner answers an NC: correction/containment, extent check, root cause and actions.

    All of it is required (ISO 9001 10.2.1): a response without a corrective action, or with a
    blame-only root cause, is refused with nothing stored.
    """
    _expect(finding, FindingStatus.AWAITING_RESPONSE, doing="respond to")
    _require(can_respond(finding, actor), "Only the finding's owner or the unit's owner answers it.")
    if not finding.grade.is_nonconformity:
        raise DomainError("Observations and OFIs are accepted or declined, not answered.")
    containment = _text(containment)
    if not containment:
        raise DomainError("Record the correction / containment taken.", field="containment")
    extent_check = _text(extent_check)
    if not extent_check:
        raise DomainError("Say whether the nonconformity exists or could occur elsewhere.",
                          field="extent_check")
    if root_cause_method is None:
        raise DomainError("Choose the root-cause method used.", field="root_cause_method")
    whys = _clean_whys(whys)
    ishikawa = _clean_ishikawa(ishikawa)
    if root_cause_method is RootCauseMethod.FIVE_WHYS and len(whys) < 2:
        raise DomainError("Ask “why?” at least twice (up to five times).", field="whys")
    if root_cause_method is RootCauseMethod.ISHIKAWA and not ishikawa:
        raise DomainError("Record at least one Ishikawa (6M) contribution.", field="ishikawa")
    root_cause = check_root_cause(root_cause)
    new_actions = [_build_action(finding, spec, round_=finding.recurrence_count)
                   for spec in actions]
    if not any(a.kind is ActionKind.CORRECTIVE for a in new_actions):
        raise DomainError("Plan at least one corrective action that removes the cause.",
                          field="actions")
    finding.containment = containment
    finding.extent_check = extent_check
    finding.root_cause_method = root_cause_method
    finding.whys = whys or None
    finding.ishikawa = ishikawa or None
    finding.root_cause = root_cause
    finding.response_submitted_at = now
    finding.actions.extend(new_actions)
    db.session.flush()
    _transition(finding, FindingStatus.RESPONSE_SUBMITTED, actor=actor, now=now,
                summary=f"Response to {finding.reference} submitted",
                extra={"root_cause": root_cause, "containment": containment,
                       "extent_check": extent_check,
                       "actions": [f"{a.kind.value}: {a.description} (due {a.due_on})"
                                   for a in new_actions]})
    if finding.is_scar:
        finding.scar_stage = ScarStage.ACTION_PLAN
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def accept_response(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """The auditor accepts the response: actions go ahead."""
    _expect(finding, FindingStatus.RESPONSE_SUBMITTED, doing="accept the response of")
    _require(can_verify(finding, actor),
             "Only an auditor or coordinator who owns none of its actions reviews the response.")
    _transition(finding, FindingStatus.ACTION_IN_PROGRESS, actor=actor, now=now,
                summary=f"Response to {finding.reference} accepted")
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def reject_response(finding: Finding, reason: str, *, actor, now: dt.datetime) -> Finding:
    """The auditor rejects the response with a reason: the owner answers again."""
    _expect(finding, FindingStatus.RESPONSE_SUBMITTED, doing="reject the response of")
    _require(can_verify(finding, actor),
             "Only an auditor or coordinator who owns none of its actions reviews the response.")
    reason = _text(reason)
    if not reason:
        raise DomainError("Say why the response is rejected.", field="reason")
    # The planned actions go with the rejected response; a new response plans them again.
    for action in list(finding.actions):
        if action.status is ActionStatus.OPEN and action.round == finding.recurrence_count:
            action.status = ActionStatus.CANCELLED
    finding.rejection_reason = reason
    finding.rejection_count += 1
    if finding.is_scar:
        finding.scar_stage = (ScarStage.CONTAINMENT if finding.scar_containment_at
                              else ScarStage.ACKNOWLEDGED)
    _transition(finding, FindingStatus.AWAITING_RESPONSE, actor=actor, now=now,
                summary=f"Response to {finding.reference} rejected",
                extra={"reason": reason, "rejection_count": finding.rejection_count})
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def add_action(finding: Finding, *, kind: ActionKind, description: str, due_on: dt.date | None,
               owner=None, actor, now: dt.datetime) -> CorrectiveAction:
    """Plan a further action while actions are in progress (e.g. after "not effective")."""
    _expect(finding, FindingStatus.ACTION_IN_PROGRESS, FindingStatus.ACCEPTED,
            doing="add an action to")
    _require(can_respond(finding, actor), "Only the finding's owner plans its actions.")
    action = _build_action(finding, {"kind": kind, "description": description,
                                     "due_on": due_on, "owner": owner},
                           round_=finding.recurrence_count)
    finding.actions.append(action)
    db.session.flush()
    record(action, "create", actor=actor, now=now,
           summary=f"Action planned on {finding.reference}",
           changes=snapshot({"kind": kind, "description": action.description,
                             "due_on": due_on, "owner_id": action.owner_id}))
    return action


def complete_action(action: CorrectiveAction, evidence: str, *, actor,
                    now: dt.datetime) -> CorrectiveAction:
    """Mark an action implemented with its evidence.

    When the last open action of an NC is done, the finding waits for verification.
    """
    finding = action.finding
    _expect(finding, FindingStatus.ACTION_IN_PROGRESS, FindingStatus.ACCEPTED,
            doing="complete an action of")
    _require(can_respond(finding, actor) or (actor is not None and actor.id == action.owner_id),
             "Only the action's owner or the finding's owner completes it.")
    if action.status is not ActionStatus.OPEN:
        raise DomainError("This action is not open.")
    evidence = _text(evidence)
    if not evidence:
        raise DomainError("Describe the implementation evidence (what shows it is done).",
                          field="evidence")
    action.status = ActionStatus.DONE
    action.completed_at = now
    action.implementation_evidence = evidence
    db.session.flush()
    record(action, "transition", actor=actor, now=now,
           summary=f"Action on {finding.reference} implemented",
           changes={"status": ["open", "done"], "implementation_evidence": evidence})
    still_open = [a for a in finding.actions if a.status is ActionStatus.OPEN]
    if not still_open and finding.status is FindingStatus.ACTION_IN_PROGRESS:
        if finding.is_scar:
            finding.scar_stage = ScarStage.IMPLEMENTED
        _transition(finding, FindingStatus.PENDING_VERIFICATION, actor=actor, now=now,
                    summary=f"{finding.reference}: all actions implemented, awaiting verification")
    return action


# ---------------------------------------------------------------------------------------------
# Verification and closure
# ---------------------------------------------------------------------------------------------

def verify_effectiveness(finding: Finding, *, effective: bool, note: str, actor,
                         now: dt.datetime) -> Finding:
    """Review whether the actions worked (ISO 9001 10.2.1 d).

    Effective → closed, with implementation and effectiveness verified. Not effective → back to
    action in progress, recurrence count + 1; the owner plans further actions.
    """
    _expect(finding, FindingStatus.PENDING_VERIFICATION, doing="verify")
    _require(can_verify(finding, actor),
             "The verifier must be an auditor or coordinator who owns none of its actions.")
    note = _text(note)
    if not note:
        raise DomainError("Record what the verification looked at.", field="note")
    finding.verified_by_id = actor.id
    finding.verified_at = now
    finding.verification_note = note
    if effective:
        finding.implementation_verified = True
        finding.effectiveness_verified = True
        finding.closed_at = now
        finding.closed_by_id = actor.id
        if finding.is_scar:
            finding.scar_stage = ScarStage.CLOSED
        _transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                    summary=f"{finding.reference} verified effective and closed",
                    extra={"effective": True, "note": note})
    else:
        finding.recurrence_count += 1
        finding.implementation_verified = False
        finding.effectiveness_verified = False
        if finding.is_scar:
            finding.scar_stage = ScarStage.ACTION_PLAN
        _transition(finding, FindingStatus.ACTION_IN_PROGRESS, actor=actor, now=now,
                    summary=f"{finding.reference} not effective: back to action",
                    extra={"effective": False, "note": note,
                           "recurrence_count": finding.recurrence_count})
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def close_finding(finding: Finding, *, note: str, actor, now: dt.datetime) -> Finding:
    """Close a finding without an effectiveness review where the rules allow it.

    - a minor NC pending verification: the verifier confirms implementation;
    - an accepted OFI/observation once its improvement actions are done;
    - a declined OFI/observation.
    A major never closes this way: it needs ``verify_effectiveness``.
    """
    ensure_editable(finding)
    if finding.grade is Grade.MAJOR:
        raise DomainError("A major nonconformity cannot close without verified implementation "
                          "and an effectiveness review.")
    _require(can_verify(finding, actor),
             "The verifier must be an auditor or coordinator who owns none of its actions.")
    note = _text(note)
    if finding.status is FindingStatus.PENDING_VERIFICATION:
        if not note:
            raise DomainError("Record how the implementation was verified.", field="note")
        finding.implementation_verified = True
        finding.verified_by_id = actor.id
        finding.verified_at = now
        finding.verification_note = note
    elif finding.status is FindingStatus.ACCEPTED:
        if any(a.status is ActionStatus.OPEN for a in finding.actions):
            raise DomainError("The improvement actions are not all done yet.")
    elif finding.status is not FindingStatus.DECLINED:
        raise DomainError(f"Cannot close a finding that is {finding.status.label.lower()}.")
    finding.closed_at = now
    finding.closed_by_id = actor.id
    if finding.is_scar:
        finding.scar_stage = ScarStage.CLOSED
    _transition(finding, FindingStatus.CLOSED, actor=actor, now=now,
                summary=f"{finding.reference} closed", extra={"note": note})
    if finding.is_scar:
        update_supplier_status(finding.supplier, actor=actor, now=now)
    return finding


def decide_finding(finding: Finding, *, accept: bool, rationale: str, actor, now: dt.datetime,
                   action_description: str | None = None,
                   action_due_on: dt.date | None = None) -> Finding:
    """The owner accepts an OFI/observation (it becomes an improvement action) or declines it.

    Either way the rationale is recorded: it is the decision the standard asks for.
    """
    _expect(finding, FindingStatus.ISSUED, doing="decide on")
    if finding.grade not in (Grade.OFI, Grade.OBSERVATION):
        raise DomainError("Only observations and OFIs are accepted or declined.")
    _require(can_respond(finding, actor), "Only the finding's owner or the unit's owner decides.")
    rationale = _text(rationale)
    if not rationale:
        raise DomainError("Give the rationale for the decision.", field="rationale")
    finding.decision_rationale = rationale
    if accept:
        if not _text(action_description) or action_due_on is None:
            raise DomainError("Describe the improvement action and when it will be done.",
                              field="action_description")
        finding.actions.append(CorrectiveAction(
            kind=ActionKind.IMPROVEMENT, description=_text(action_description),
            owner=actor, due_on=action_due_on, status=ActionStatus.OPEN))
        finding.closure_due_on = action_due_on
        _transition(finding, FindingStatus.ACCEPTED, actor=actor, now=now,
                    summary=f"{finding.reference} accepted as an improvement",
                    extra={"rationale": rationale, "action": _text(action_description)})
    else:
        _transition(finding, FindingStatus.DECLINED, actor=actor, now=now,
                    summary=f"{finding.reference} declined", extra={"rationale": rationale})
    return finding


def reopen_finding(finding: Finding, reason: str, *, actor, now: dt.datetime) -> Finding:
    """The problem is back after closure: raise a new, linked finding (the closed one stays).

    The new finding is a draft repeating the original; issuing it follows the repeat rules.
    """
    if finding.status is not FindingStatus.CLOSED:
        raise DomainError("Only a closed finding is reopened; this one is still open.")
    _require(can_issue(finding, actor), "Only auditors and coordinators reopen findings.")
    reason = _text(reason)
    if not reason:
        raise DomainError("Say what shows the problem is back.", field="reason")
    new = Finding(
        reference=next_finding_reference(finding.audit),
        audit=finding.audit, grade=finding.grade, status=FindingStatus.DRAFT,
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


# ---------------------------------------------------------------------------------------------
# Deadlines: extensions
# ---------------------------------------------------------------------------------------------

def request_extension(finding: Finding, *, deadline: str, new_due_on: dt.date | None,
                      reason: str, actor, now: dt.datetime) -> ExtensionRequest:
    """The owner asks to move the response or closure deadline, with a reason."""
    ensure_editable(finding)
    _require(can_respond(finding, actor), "Only the finding's owner requests an extension.")
    if deadline not in ("response", "closure"):
        raise DomainError("Choose the response or the closure deadline.", field="deadline")
    current = finding.response_due_on if deadline == "response" else finding.closure_due_on
    if current is None:
        raise DomainError(f"This finding has no {deadline} deadline to extend.", field="deadline")
    if new_due_on is None or new_due_on <= current:
        raise DomainError(f"The new date must be after the current {deadline} deadline "
                          f"({current:%d %b %Y}).", field="new_due_on")
    if any(e.status is ExtensionStatus.PENDING for e in finding.extensions):
        raise DomainError("An extension request is already waiting for a decision.")
    reason = _text(reason)
    if not reason:
        raise DomainError("Say why more time is needed.", field="reason")
    ext = ExtensionRequest(finding=finding, deadline=deadline, current_due_on=current,
                           requested_due_on=new_due_on, reason=reason,
                           requested_by_id=actor.id, requested_at=now)
    db.session.add(ext)
    db.session.flush()
    record(ext, "create", actor=actor, now=now,
           summary=f"Extension of {finding.reference} {deadline} deadline requested",
           changes=snapshot({"from": current, "to": new_due_on, "reason": reason}))
    return ext


def decide_extension(ext: ExtensionRequest, *, approve: bool, note: str | None, actor,
                     now: dt.datetime) -> ExtensionRequest:
    """A coordinator approves (the deadline moves) or rejects an extension request."""
    finding = ext.finding
    ensure_editable(finding)
    _require(actor is not None and actor.can(Permission.MANAGE_PROGRAMME),
             "Only a coordinator decides on extensions.")
    _require(actor.id != ext.requested_by_id, "Nobody approves their own extension.")
    if ext.status is not ExtensionStatus.PENDING:
        raise DomainError("This request was decided already.")
    if not approve and not _text(note):
        raise DomainError("Say why the extension is refused.", field="note")
    ext.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
    ext.decided_by_id = actor.id
    ext.decided_at = now
    ext.decision_note = _text(note) or None
    db.session.flush()
    record(ext, "transition", actor=actor, now=now,
           summary=f"Extension of {finding.reference} {ext.status.value}",
           changes={"status": ["pending", ext.status.value], "note": ext.decision_note})
    if approve:
        field = "response_due_on" if ext.deadline == "response" else "closure_due_on"
        old = getattr(finding, field)
        setattr(finding, field, ext.requested_due_on)
        if ext.deadline == "response" and finding.closure_due_on and \
                finding.closure_due_on < ext.requested_due_on:
            finding.closure_due_on = ext.requested_due_on
        finding.updated_at = now
        db.session.flush()
        record(finding, "update", actor=actor, now=now,
               summary=f"{ext.deadline.capitalize()} deadline extended",
               changes=snapshot({field: [old, ext.requested_due_on]}))
        if finding.is_scar:
            update_supplier_status(finding.supplier, actor=actor, now=now)
    return ext


# ---------------------------------------------------------------------------------------------
# Cost of poor quality
# ---------------------------------------------------------------------------------------------

def add_cost(finding: Finding, *, category: CostCategory, amount, currency: str,
             incurred_on: dt.date | None, note: str | None = None, actor,
             now: dt.datetime) -> PoorQualityCost:
    """Record what a nonconformity cost (scrap, rework, concession, return, extra inspection)."""
    ensure_editable(finding)
    if not finding.grade.is_nonconformity:
        raise DomainError("Costs of poor quality are recorded on nonconformities only.")
    _require(actor is not None and (can_respond(finding, actor) or can_issue(finding, actor)
                                    or actor.can(Permission.VERIFY_FINDING)),
             "You may not record costs on this finding.")
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError("Enter the amount as a number.", field="amount") from None
    if value <= 0:
        raise DomainError("The amount must be more than zero.", field="amount")
    currency = _text(currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DomainError("Use a three-letter currency code such as EUR.", field="currency")
    if incurred_on is None:
        raise DomainError("When was the cost incurred?", field="incurred_on")
    cost = PoorQualityCost(finding=finding, category=category, amount=value, currency=currency,
                           incurred_on=incurred_on, note=_text(note) or None,
                           created_by_id=actor.id, created_at=now)
    db.session.add(cost)
    db.session.flush()
    record(cost, "create", actor=actor, now=now,
           summary=f"Cost of poor quality on {finding.reference}",
           changes=snapshot({"category": category, "amount": value, "currency": currency,
                             "incurred_on": incurred_on}))
    return cost


# ---------------------------------------------------------------------------------------------
# Deadline policy (reference data)
# ---------------------------------------------------------------------------------------------

def policy_rows() -> list[dict]:
    """Every (kind, grade) with its days, name, use, and whether it was edited."""
    stored = {(p.audit_kind, p.grade): p for p in db.session.scalars(select(DeadlinePolicy))}
    rows = []
    for kind in AuditKind:
        for grade in Grade:
            row = stored.get((kind.value, grade))
            days = (row.response_days, row.closure_days) if row else \
                DEFAULT_DEADLINES[(kind.value, grade)]
            rows.append({"kind": kind, "grade": grade, "response_days": days[0],
                         "closure_days": days[1], "custom": row is not None,
                         "label": (row.label if row and row.label else grade.label),
                         "enabled": row.is_enabled if row else True})
    return rows


def set_deadline_policy(kind: AuditKind, grade: Grade, *, response_days: int | None,
                        closure_days: int | None, actor, now: dt.datetime,
                        label: str | None = None, is_enabled: bool = True) -> DeadlinePolicy:
    """Change the deadlines, name or use of a grade in an audit kind (affects later findings)."""
    _require(actor is not None and actor.can(Permission.MANAGE_PROGRAMME),
             "Only coordinators edit deadline policy.")
    for name, value in (("response_days", response_days), ("closure_days", closure_days)):
        if value is not None and not 1 <= value <= 730:
            raise DomainError("Deadlines are between 1 and 730 days.", field=name)
    if response_days and closure_days and response_days > closure_days:
        raise DomainError("The response cannot be due after closure.", field="response_days")
    if kind is AuditKind.THIRD_PARTY and grade is Grade.MAJOR and (closure_days or 0) > 90:
        raise DomainError("Third-party majors close within 90 days at most.",
                          field="closure_days")
    row = db.session.scalar(select(DeadlinePolicy).where(
        DeadlinePolicy.audit_kind == kind.value, DeadlinePolicy.grade == grade))
    label = _text(label) or None
    if label is not None and len(label) > 60:
        raise DomainError("Keep the name under 60 characters.", field="label")
    if row is None:
        row = DeadlinePolicy(audit_kind=kind.value, grade=grade)
        old = (*DEFAULT_DEADLINES[(kind.value, grade)], None, True)
        db.session.add(row)
    else:
        old = (row.response_days, row.closure_days, row.label, row.is_enabled)
    row.response_days, row.closure_days = response_days, closure_days
    row.label, row.is_enabled = label, bool(is_enabled)
    db.session.flush()
    record(row, "update", actor=actor, now=now,
           summary=f"Policy for {grade.label} in {kind.label} audits",
           changes={"response_days": [old[0], response_days],
                    "closure_days": [old[1], closure_days],
                    "label": [old[2], label], "is_enabled": [old[3], bool(is_enabled)]})
    return row


# ---------------------------------------------------------------------------------------------
# Supplier corrective action requests (SCAR)
# ---------------------------------------------------------------------------------------------

def _expect_scar(finding: Finding, actor, *stages: ScarStage, doing: str) -> None:
    ensure_editable(finding)
    if not finding.is_scar:
        raise DomainError("This finding is not a supplier corrective action request.")
    _require(can_respond(finding, actor), "Only the supplier's own contacts answer this SCAR.")
    if finding.scar_stage not in stages:
        raise DomainError(f"Cannot {doing} at stage “{finding.scar_stage.label}”.")


def acknowledge_scar(finding: Finding, *, actor, now: dt.datetime) -> Finding:
    """The supplier confirms receipt of the SCAR."""
    _expect_scar(finding, actor, ScarStage.ISSUED, doing="acknowledge")
    finding.scar_stage = ScarStage.ACKNOWLEDGED
    finding.scar_acknowledged_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference} acknowledged by the supplier",
           changes={"scar_stage": ["issued", "acknowledged"]})
    return finding


def submit_scar_containment(finding: Finding, containment: str, *, actor,
                            now: dt.datetime) -> Finding:
    """Stage D3: immediate containment (due within 24 hours of issue)."""
    _expect_scar(finding, actor, ScarStage.ACKNOWLEDGED, ScarStage.CONTAINMENT,
                 doing="record containment")
    containment = _text(containment)
    if not containment:
        raise DomainError("Describe the containment: what was stopped, sorted, quarantined.",
                          field="containment")
    old = finding.scar_stage
    finding.containment = containment
    finding.scar_stage = ScarStage.CONTAINMENT
    finding.scar_containment_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference}: containment recorded",
           changes={"scar_stage": [old.value, "containment"], "containment": containment})
    return finding


def submit_scar_root_cause(finding: Finding, *, root_cause_method: RootCauseMethod | None,
                           root_cause: str, extent_check: str, whys=None, ishikawa=None,
                           actor, now: dt.datetime) -> Finding:
    """Stage D4: root cause and extent (due within 14 days of issue)."""
    _expect_scar(finding, actor, ScarStage.CONTAINMENT, ScarStage.ROOT_CAUSE,
                 doing="record the root cause")
    if root_cause_method is None:
        raise DomainError("Choose the root-cause method used.", field="root_cause_method")
    extent_check = _text(extent_check)
    if not extent_check:
        raise DomainError("Say whether other lots, parts or sites are affected.",
                          field="extent_check")
    root_cause = check_root_cause(root_cause)
    old = finding.scar_stage
    finding.root_cause_method = root_cause_method
    finding.root_cause = root_cause
    finding.extent_check = extent_check
    finding.whys = _clean_whys(whys) or None
    finding.ishikawa = _clean_ishikawa(ishikawa) or None
    finding.scar_stage = ScarStage.ROOT_CAUSE
    finding.scar_root_cause_at = now
    finding.updated_at = now
    db.session.flush()
    record(finding, "transition", actor=actor, now=now,
           summary=f"SCAR {finding.reference}: root cause recorded",
           changes={"scar_stage": [old.value, "root_cause"], "root_cause": root_cause})
    return finding


def submit_scar_plan(finding: Finding, actions: list[dict], *, actor,
                     now: dt.datetime) -> Finding:
    """Stage D5/D6: the action plan (due within 30 days); completes the supplier's response."""
    _expect_scar(finding, actor, ScarStage.ROOT_CAUSE, doing="submit the action plan")
    return submit_response(
        finding, containment=finding.containment, extent_check=finding.extent_check,
        root_cause_method=finding.root_cause_method, root_cause=finding.root_cause,
        whys=finding.whys, ishikawa=finding.ishikawa, actions=actions, actor=actor, now=now)


# ---------------------------------------------------------------------------------------------
# Supplier probation
# ---------------------------------------------------------------------------------------------

def supplier_problems(supplier, today: dt.date) -> list[str]:
    """Why ``supplier`` belongs on probation: overdue or rejected SCARs, open majors."""
    from audit.models import ApprovalStatus  # noqa: F401  (keeps the import local to the rule)

    findings = db.session.scalars(select(Finding).where(
        Finding.supplier_id == supplier.id, Finding.status.in_(OPEN_STATUSES),
        Finding.grade.in_([Grade.MAJOR, Grade.MINOR]))).all()
    problems = []
    for f in findings:
        if f.grade is Grade.MAJOR:
            problems.append(f"open major {f.reference}")
        elif f.is_scar and f.is_overdue(today):
            problems.append(f"overdue SCAR {f.reference}")
        elif f.is_scar and f.rejection_count and f.status is FindingStatus.AWAITING_RESPONSE:
            problems.append(f"rejected SCAR {f.reference}")
    return problems


def update_supplier_status(supplier, *, actor, now: dt.datetime) -> bool:
    """Put a supplier on probation, or back to approved once it has recovered.

    Only approved (or conditionally approved) suppliers go on probation, and only suppliers on
    probation come back to approved: other states belong to supplier evaluation.
    Returns True when the status changed.
    """
    from audit.models import ApprovalStatus

    if supplier is None:
        return False
    problems = supplier_problems(supplier, now.date())
    old = supplier.approval_status
    if problems and old in (ApprovalStatus.APPROVED, ApprovalStatus.CONDITIONALLY_APPROVED):
        new = ApprovalStatus.ON_PROBATION
        summary = f"{supplier.name} on probation: " + ", ".join(problems)
    elif not problems and old is ApprovalStatus.ON_PROBATION:
        new = ApprovalStatus.APPROVED
        summary = f"{supplier.name} recovered: no overdue or rejected SCARs, no open majors"
    else:
        return False
    supplier.approval_status = new
    db.session.flush()
    record(supplier, "transition", actor=actor, now=now, summary=summary,
           changes={"approval_status": [old.value, new.value]})
    return True


# ---------------------------------------------------------------------------------------------
# Third-party (CB) findings from CSV
# ---------------------------------------------------------------------------------------------

_GRADE_NAMES = {
    "major": Grade.MAJOR, "major nc": Grade.MAJOR, "major nonconformity": Grade.MAJOR,
    "minor": Grade.MINOR, "minor nc": Grade.MINOR, "minor nonconformity": Grade.MINOR,
    "observation": Grade.OBSERVATION, "area of concern": Grade.OBSERVATION,
    "ofi": Grade.OFI, "opportunity for improvement": Grade.OFI,
    "good practice": Grade.GOOD_PRACTICE, "positive": Grade.GOOD_PRACTICE,
}

CSV_COLUMNS = ("reference", "grade", "clauses", "statement", "evidence")


def record_manual_finding(audit: Audit, *, grade: Grade, statement: str, evidence: str | None,
                          clause_numbers: str, external_reference: str | None, actor,
                          now: dt.datetime) -> Finding:
    """Record one finding typed in by hand.

    Our own audits follow ``raise_finding`` (refused once the report is issued); a third-party
    audit's findings are transcribed from the CB's report, so the freeze does not apply.
    """
    _require(can_issue(None, actor), "Only auditors and coordinators record findings.")
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
        finding.external_reference = _text(external_reference) or None
    else:
        finding = raise_finding(audit, grade=grade, statement=statement, evidence=evidence,
                                clauses=clauses, actor=actor, now=now)
    return finding


def import_cb_findings(audit: Audit, csv_text: str, *, actor, now: dt.datetime) -> list[Finding]:
    """Enter the certification body's findings from its report (CSV) and issue them.

    Columns: reference, grade, clauses (numbers separated by ';'), statement, evidence.
    Every row is checked before anything is stored; one bad row refuses the whole file.
    The CB's report is the source here, so the freeze on our own reports does not apply.
    """
    import csv
    import io

    _require(can_issue(None, actor), "Only auditors and coordinators enter CB findings.")
    if audit.kind is not AuditKind.THIRD_PARTY:
        raise DomainError("CB findings belong to third-party audits.", field="file")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("grade", "statement") if c not in headers]
    if missing:
        raise DomainError(f"The file lacks the column(s): {', '.join(missing)}. Expected: "
                          f"{', '.join(CSV_COLUMNS)}.", field="file")
    clause_map: dict[str, Clause] = {}
    for std in audit.standards:
        for clause in std.clauses:
            clause_map.setdefault(clause.number, clause)
    parsed = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        grade = _GRADE_NAMES.get(row.get("grade", "").lower())
        if grade is None:
            raise DomainError(f"Line {line}: unknown grade “{row.get('grade')}”.", field="file")
        numbers = [n.strip() for n in re.split(r"[;,]", row.get("clauses", "")) if n.strip()]
        unknown = [n for n in numbers if n not in clause_map]
        if unknown:
            raise DomainError(f"Line {line}: clause(s) {', '.join(unknown)} not in the audit's "
                              f"standards.", field="file")
        if not row.get("statement"):
            raise DomainError(f"Line {line}: the statement is empty.", field="file")
        if grade.is_nonconformity and (not numbers or not row.get("evidence")):
            raise DomainError(f"Line {line}: a nonconformity needs clauses and evidence.",
                              field="file")
        parsed.append((row, grade, [clause_map[n] for n in numbers]))
    if not parsed:
        raise DomainError("The file holds no findings.", field="file")
    created = []
    for row, grade, clauses in parsed:
        finding = record_finding(audit, grade=grade, statement=row["statement"],
                               evidence=row.get("evidence"), clauses=clauses, unit=None,
                               owner=None, answer=None, actor=actor, now=now)
        finding.external_reference = row.get("reference") or None
        created.append(finding)
    for finding in created:
        issue_finding(finding, actor=actor, now=now)
    return created
