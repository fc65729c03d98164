"""What protects the report: the blockers that keep it from being issued, and the reasons an
auditor records to clear the checklist-related ones.

One rule, ``report_blockers``, answers both the report page (the list and whether the issue
button is offered) and ``issue_report`` (which refuses while the list is not empty).

Two checklist rules come from ISO 19011 6.4.8-6.5: a nonconformity verdict must reach the report
as a finding or carry the reason none was raised; a question shown but left unanswered must be
marked not applicable (a verdict) or "not covered" with a reason, and is then reported under
"areas not covered". The reasons live on the answer row (``no_finding_reason``,
``not_covered_reason``) so that they travel with the question and appear in its trail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from audit.conduct.access import require_answerer
from audit.conduct.checklist_read import Checklist, QuestionRow
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Audit, AuditReport, ChecklistAnswer, ChecklistQuestion, Verdict
from audit.trail.services import record

#: Verdicts that are nonconformities: each needs a finding or a reason why none was raised.
NC_VERDICTS = frozenset({Verdict.MINOR_NC, Verdict.MAJOR_NC})

#: The reasons an auditor may record on a question, and the answer column each one fills.
REASON_FIELDS = {"no_finding": "no_finding_reason", "not_covered": "not_covered_reason"}

REASON_MAX = 2000


@dataclass(frozen=True)
class Blocker:
    """One thing that prevents issuing the report; ``question_id`` links it to the checklist."""

    message: str
    question_id: int | None = None
    #: "no_finding" or "not_covered" when a recorded reason clears this blocker, else None.
    reason_kind: str | None = None


def needs_finding(row: QuestionRow) -> bool:
    """An NC verdict shown on the checklist with neither a finding nor a recorded reason."""
    answer = row.answer
    return (row.visible and answer is not None and answer.verdict in NC_VERDICTS
            and not row.findings and not answer.no_finding_reason)


def is_not_covered(row: QuestionRow) -> bool:
    """Shown, unanswered, and marked "not covered" with a reason (reported, not blocking)."""
    return (row.visible and not row.answered and row.answer is not None
            and bool(row.answer.not_covered_reason))


def needs_answer(row: QuestionRow) -> bool:
    """Shown and unanswered without a "not covered" reason."""
    return row.visible and not row.answered and not is_not_covered(row)


def not_covered_rows(checklist: Checklist) -> list[QuestionRow]:
    """Questions reported under "areas not covered", in checklist order."""
    return [r for r in checklist.rows if is_not_covered(r)]


def report_blockers(audit: Audit, report: AuditReport | None, checklist: Checklist) -> list[Blocker]:
    """What still prevents issuing the report (empty when it can be issued)."""
    problems = []
    if report is None or not report.conclusions:
        problems.append(Blocker("Write the audit conclusions."))
    if report is None or not report.fulfilment:
        problems.append(Blocker("State the degree of fulfilment of the audit criteria."))
    for row in checklist.rows:
        q = row.question
        if needs_answer(row):
            problems.append(Blocker(
                f"Question {q.key} is unanswered: answer it, mark it N/A, or record why it was "
                "not covered.", q.id, "not_covered"))
        elif needs_finding(row):
            problems.append(Blocker(
                f"Question {q.key} has a {row.answer.verdict.label} verdict without a finding: "
                "raise one, or record why none was raised.", q.id, "no_finding"))
        elif row.missing_evidence:
            problems.append(Blocker(f"Question {q.key}: {row.missing_evidence}.", q.id))
    for reference in checklist.drafts:
        # Issued with the report, a draft would reach nobody: no owner told, no deadline, and
        # the report would list a finding its readers may not open.
        problems.append(Blocker(f"Finding {reference} is still a draft: issue it (or delete it) first."))
    if report is None or report.signed_at is None:
        problems.append(Blocker("The lead auditor has not signed the report."))
    return problems


def record_question_reason(audit: Audit, question: ChecklistQuestion, *, kind: str, reason: str,
                           actor, now: dt.datetime) -> ChecklistAnswer:
    """Record (or clear, with an empty reason) why an NC has no finding or why a question was
    not covered. Does not change the answer's version: the reason is not part of what tablets
    merge, so an offline edit of the verdict or note does not conflict with it."""
    require_answerer(audit, actor)
    if kind not in REASON_FIELDS:
        raise DomainError("Choose which reason to record.", field="kind")
    reason = (reason or "").strip() or None
    if reason and len(reason) > REASON_MAX:
        raise DomainError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    column = REASON_FIELDS[kind]
    answer = db.session.scalar(select(ChecklistAnswer).where(
        ChecklistAnswer.audit_id == audit.id, ChecklistAnswer.question_id == question.id))
    if kind == "no_finding" and (answer is None or answer.verdict not in NC_VERDICTS):
        raise DomainError("Only a nonconformity verdict needs a reason for not raising a finding.",
                          field="kind")
    if kind == "not_covered" and answer is not None and (answer.verdict or answer.value):
        raise DomainError("This question is answered: it was covered.", field="kind")
    if answer is None:
        if reason is None:
            raise DomainError("Give the reason.", field="reason")
        # An answer row without verdict or value holds the reason; it does not count as answered.
        answer = ChecklistAnswer(audit_id=audit.id, question_id=question.id, version=0,
                                 answered_by_id=actor.id, answered_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(answer)
        except IntegrityError:
            raise DomainError("Someone answered this question meanwhile: reload and try again.") from None
    old = getattr(answer, column)
    if old == reason:
        return answer
    setattr(answer, column, reason)
    db.session.flush()
    label = "no finding raised" if kind == "no_finding" else "not covered"
    record(answer, "update", actor=actor, now=now,
           summary=f"Reason recorded for {question.key} ({label}) in {audit.reference}",
           changes={column: [old, reason]})
    return answer
