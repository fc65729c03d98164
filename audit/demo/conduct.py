"""Demo step: checklist answers, agendas and reports for the programme's audits.

Runs after ``audit.demo.programme`` and uses what it leaves in ``ctx.extra``:
``audit_in_progress`` gets an agenda and its first answers (the tablet journey starts half-way),
``past_audits`` get complete answers and an issued report, and one earlier audit of the same
unit as today's gives the checklist its carry-forward column. Every part is skipped when already
there, so running the step twice adds nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from audit.audits.services import to_local
from audit.conduct import agenda, answers
from audit.conduct.report import SAMPLING_STATEMENT
from audit.demo.programme import _make_audit, weekday
from audit.extensions import db
from audit.models import (
    AnswerType,
    AuditReport,
    AuditStatus,
    ChecklistAnswer,
    ChecklistQuestion,
    ChecklistSection,
    SessionKind,
    TeamRole,
    Verdict,
)

NOTES = {
    Verdict.MINOR_NC: "Sampled 5 records: 1 without the required sign-off.",
    Verdict.OFI: "Works, but the check is done from memory; a short checklist would help.",
    Verdict.OBSERVATION: "Procedure revision on the notice board is outdated (not in use).",
}


#: The note of a conforming answer whose question asks for evidence.
EVIDENCE_NOTE = "Records sampled: 3 of the last month, complete and signed."


def _note(question: ChecklistQuestion, verdict: Verdict | None) -> str | None:
    if verdict in NOTES:
        return NOTES[verdict]
    return EVIDENCE_NOTE if question.evidence_required or question.photo_required else None


def _questions(version_id: int) -> list[ChecklistQuestion]:
    return list(db.session.scalars(
        select(ChecklistQuestion).join(ChecklistSection)
        .where(ChecklistSection.version_id == version_id)
        .order_by(ChecklistSection.position, ChecklistQuestion.position)))


def _answered(audit) -> int:
    return db.session.scalar(select(func.count(ChecklistAnswer.id))
                             .where(ChecklistAnswer.audit_id == audit.id)) or 0


def _demo_value(question: ChecklistQuestion, index: int, day: dt.date) -> tuple[Verdict | None, str | None]:
    """A plausible answer: mostly conforming, now and then an OFI or a minor NC."""
    kind = question.answer_type
    if kind is AnswerType.VERDICT:
        if index % 11 == 6:
            return Verdict.MINOR_NC, None
        if index % 7 == 3:
            return Verdict.OFI, None
        if index % 13 == 9:
            return Verdict.OBSERVATION, None
        return Verdict.CONFORMING, None
    if kind is AnswerType.YES_NO:
        return None, "yes"
    if kind is AnswerType.NUMBER:
        return None, f"{question.min_value if question.min_value is not None else 1:g}"
    if kind is AnswerType.DATE:
        return None, day.isoformat()
    if kind is AnswerType.CHOICE:
        return None, (question.choices or ["n/a"])[0]
    return None, "Seen and in order."


def _complete_past(audit) -> int:
    """Answer every unconditional question of a finished audit, as its lead did on the day."""
    if audit.checklist_version_id is None or _answered(audit):
        return 0
    lead = audit.lead
    when = audit.starts_at or audit.created_at
    count = 0
    for i, q in enumerate(_questions(audit.checklist_version_id)):
        if q.condition_key:
            continue
        verdict, value = _demo_value(q, i + audit.id, when.date())
        db.session.add(ChecklistAnswer(
            audit_id=audit.id, question_id=q.id, verdict=verdict, value=value,
            note=_note(q, verdict), answered_by_id=lead.id if lead else None,
            answered_at=when + dt.timedelta(minutes=5 * i), version=1))
        count += 1
    if audit.report_issued_at is not None and db.session.scalar(
            select(AuditReport.id).where(AuditReport.audit_id == audit.id)) is None:

        db.session.add(AuditReport(
            audit_id=audit.id, sampling_statement=SAMPLING_STATEMENT,
            conclusions="The audited process is effectively implemented and maintained; the "
                        "findings raised need corrective action within the usual deadlines.",
            fulfilment="The audit criteria are fulfilled except where findings are raised.",
            positive_findings="Well-kept records; engaged process owner.",
            areas_not_covered="None.",
            signed_by_id=lead.id if lead else None, signed_at=audit.report_issued_at,
            issued_by_id=lead.id if lead else None, issued_at=audit.report_issued_at,
            updated_at=audit.report_issued_at))
    db.session.flush()
    return count


def _previous_of_today(ctx, current):
    """An audit of today's unit half a year ago, so carry-forward has something to show."""

    programme = ctx.extra.get("programme")
    if programme is None or not current.units or current.checklist_version is None:
        return None
    lead = current.lead
    return _make_audit(
        ctx, f"{(current.generation_key or 'demo:today').removeprefix('demo:')}-previous",
        programme=programme, title=f"{current.title} (previous)", kind=current.kind,
        day=weekday(ctx.today - dt.timedelta(days=182), forward=False), site=current.site,
        units=list(current.units), standards=tuple(s.code for s in current.standards) or ("ISO 9001",),
        team=[(lead, TeamRole.LEAD)] if lead else [], status=AuditStatus.REPORT_ISSUED,
        checklist=current.checklist_version)


def _agenda(ctx, audit) -> None:
    """Opening meeting, two process sessions and the closing meeting, today in the site's zone."""

    if audit.sessions or audit.starts_at is None or audit.lead is None:
        return
    day = to_local(audit.starts_at, audit.timezone).date()
    auditors = [m.user for m in audit.team if m.role.is_auditing]
    unit = audit.units[0] if audit.units else None

    def at(hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute))

    slots = [
        (SessionKind.OPENING, "Opening meeting", at(8, 30), at(9), audit.lead, "Meeting room 1"),
        (SessionKind.SESSION, "Machining: work preparation and programmes", at(9), at(11),
         auditors[-1], "Hall 1"),
        (SessionKind.SESSION, "Machining: inspection, measuring equipment, records", at(11), at(13),
         audit.lead, "Hall 1, QC corner"),
        (SessionKind.CLOSING, "Closing meeting", at(16), at(16, 30), audit.lead, "Meeting room 1"),
    ]
    for kind, title, start, end, auditor, location in slots:
        agenda.save_session(audit, None, {
            "kind": kind.value, "title": title, "starts_local": start, "ends_local": end,
            "unit_id": unit.id if unit and kind is SessionKind.SESSION else None,
            "auditor_id": auditor.id, "location": location,
            "auditee_contacts": unit.owner.name if unit and unit.owner else None,
        }, actor=audit.lead, now=ctx.now)


def _answer_today(ctx, audit) -> int:
    """The first questions of today's audit, answered through the service (with trail rows)."""

    if audit.checklist_version_id is None or _answered(audit) or audit.lead is None:
        return 0
    # Photo questions are left for the tablet: the demo has no photos to show.
    questions = [q for q in _questions(audit.checklist_version_id)
                 if not q.condition_key and not q.photo_required]
    count = 0
    for i, q in enumerate(questions[: max(3, len(questions) // 3)]):
        verdict, value = _demo_value(q, i, ctx.today)
        answers.save_answer(audit, q, verdict=verdict.value if verdict else None, value=value,
                             note=_note(q, verdict), base_version=0, actor=audit.lead,
                             now=ctx.now - dt.timedelta(minutes=60 - i))
        count += 1
    return count


def seed(ctx) -> None:
    """Answers, agenda and reports; nothing when the programme step left no audits."""
    current = ctx.extra.get("audit_in_progress")
    past = list(ctx.extra.get("past_audits") or [])
    if current is None and not past:
        return
    answers = 0
    if current is not None:
        previous = _previous_of_today(ctx, current)
        if previous is not None and previous not in past:
            past.append(previous)
    for audit in past:
        answers += _complete_past(audit)
    if current is not None:
        _agenda(ctx, current)
        answers += _answer_today(ctx, current)
    db.session.flush()
    ctx.summary["checklist answers"] = answers
