"""The management review input pack, item by item of ISO 9001 9.3.2 (a, b, c1–c7, d, e, f).

Built on the reports pack (``audit.reports.services.build_pack``, frozen at the period end) for
audits, findings, costs and suppliers, and adds what only this feature knows: previous review
actions, context changes, customer feedback, objectives, indicators, resources, risks and
opportunities. Everything is as of the period end: a row entered after it is left out and a
status is the one it had then. Every table states "nothing recorded for this period" when empty.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.exports import guard_row
from audit.extensions import db
from audit.management import history
from audit.management.objectives import meets, status_as_of
from audit.models import (
    ApprovalStatus,
    Complaint,
    ContextChange,
    Finding,
    FindingStatus,
    Grade,
    ManagementReview,
    OutputKind,
    ProcessIndicator,
    Qualification,
    QualityObjective,
    ReviewAction,
    Risk,
    RiskAction,
    RiskKind,
    SatisfactionResult,
    Severity,
    Supplier,
)
from audit.reports.services import Pack, build_pack, period_bounds

NOTHING = "Nothing recorded for this period."


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Section:
    code: str  #: "a", "b", "c1" ... "f"
    title: str
    tables: list[Table]

    @property
    def is_empty(self) -> bool:
        return not any(t.rows for t in self.tables)


@dataclass
class ReviewPack:
    start: dt.date
    end: dt.date
    base: Pack
    sections: list[Section]

    def section(self, code: str) -> Section:
        return next(s for s in self.sections if s.code == code)


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value).normalize():f}"


def build_review_pack(start: dt.date, end: dt.date, *, review: ManagementReview | None = None,
                      today: dt.date | None = None) -> ReviewPack:
    """The 9.3.2 input pack for [start, end], as it stood at the end of ``end``.

    Read before the period has ended (``today`` < ``end``), an action counts as overdue only
    when its due date has passed by ``today``: the pack never reports a future as a fact.
    """
    lo, hi = period_bounds(start, end)
    day = min(end, today) if today is not None else end
    base = build_pack(start, end, today=end, as_of_end=True)
    then = _findings_then(lo, hi)
    sections = [
        _previous_actions(start, end, lo, hi, review, day),
        _context(start, end, hi),
        _customers(start, end, hi),
        _objectives(start, end, hi, day),
        _process_performance(start, end, hi, then),
        Section("c4", "Nonconformities and corrective actions", [
            Table("Findings issued in the period, by grade", ["Grade", "Findings"],
                  [[g, n] for g, n in base.grades if n]),
            Table("Corrective action effectiveness at the period end", ["Measure", "Count"],
                  then["effectiveness"]),
            Table("Overdue at the period end", ["Finding", "Grade", "Due", "Owner"],
                  [[f.reference, f.grade.label, f.closure_due_on, f.owner.name if f.owner else ""]
                   for f in base.overdue]),
        ]),
        _monitoring(start, end, hi, base),
        Section("c6", "Audit results", [
            Table("Audits planned and done", ["Kind", "Planned", "Done", "Cancelled"],
                  [list(r) for r in base.audits if any(r[1:])]),
            Table("Nonconformities by clause", ["Clause", "Title", "Major", "Minor"],
                  [list(r) for r in base.clauses]),
        ]),
        _suppliers(start, end, lo, hi),
        _resources(start, end, lo, hi, base, day),
        _risks(start, end, lo, hi, day),
        _improvement(start, end, lo, hi),
    ]
    return ReviewPack(start=start, end=end, base=base, sections=sections)


def _previous_actions(start, end, lo, hi, review, day) -> Section:
    """(a) Actions of earlier reviews still relevant in the period: not done before it began."""
    stmt = (select(ReviewAction).join(ReviewAction.review)
            .where(ManagementReview.period_end < end, ReviewAction.created_at < hi)
            .options(joinedload(ReviewAction.owner), joinedload(ReviewAction.review))
            .order_by(ManagementReview.period_end, ReviewAction.id))
    if review is not None and review.id is not None:
        stmt = stmt.where(ManagementReview.id != review.id)
    rows = []
    for action in db.session.scalars(stmt):
        if action.completed_at is not None and action.completed_at < lo:
            continue
        status = action.status_as_of(hi, day)
        rows.append([action.review.title, action.kind.label, action.decision,
                     action.owner.name, action.due_on, status,
                     action.completion_note if status == "done" else ""])
    return Section("a", "Status of actions from previous management reviews", [
        Table("Review actions", ["Review", "Kind", "Decision", "Owner", "Due", "Status at period end",
                                 "What was done"], rows)])


def _context(start, end, hi) -> Section:
    """(b) Changes in external and internal issues and interested parties' requirements."""
    changes = db.session.scalars(select(ContextChange).where(
        ContextChange.changed_on >= start, ContextChange.changed_on <= end, ContextChange.created_at < hi)
        .options(joinedload(ContextChange.recorded_by)).order_by(ContextChange.changed_on, ContextChange.id))
    return Section("b", "Changes in external and internal issues", [
        Table("Context changes", ["Date", "Category", "Change", "Recorded by"],
              [[c.changed_on, c.category.label, c.title + (f" — {c.description}" if c.description else ""),
                c.recorded_by.name if c.recorded_by else ""] for c in changes])])


def _customers(start, end, hi) -> Section:
    """(c1) Customer satisfaction and feedback: survey results and complaints."""
    surveys = db.session.scalars(select(SatisfactionResult).where(
        SatisfactionResult.period_end >= start, SatisfactionResult.period_end <= end,
        SatisfactionResult.created_at < hi).order_by(SatisfactionResult.period_end))
    complaints = list(db.session.scalars(select(Complaint).where(
        Complaint.received_on >= start, Complaint.received_on <= end, Complaint.created_at < hi)
        .order_by(Complaint.received_on, Complaint.id)))
    by_severity = Counter(c.severity for c in complaints)
    open_then = [c for c in complaints if c.closed_on is None or c.closed_on > end]
    return Section("c1", "Customer satisfaction and feedback", [
        Table("Satisfaction results", ["Survey", "Period", "Score", "Of", "Method", "Answers"],
              [[s.title, f"{s.period_start} – {s.period_end}", _fmt(s.score), _fmt(s.scale_max),
                s.method, s.sample_size] for s in surveys]),
        Table("Complaints received", ["Severity", "Received", "Still open at period end"],
              [[sev.label, by_severity[sev], sum(1 for c in open_then if c.severity is sev)]
               for sev in Severity] if complaints else []),
        Table("Complaints", ["Reference", "Customer", "Product", "Received", "Severity", "Closed"],
              [[c.reference, c.customer, c.product or "", c.received_on, c.severity.label,
                c.closed_on if c.closed_on and c.closed_on <= end else ""] for c in complaints]),
    ])


def _objectives(start, end, hi, day) -> Section:
    """(c2) Extent to which quality objectives have been met, as of the period end: judged on
    ``day`` (the period end, or the reading day before it), like the objectives page, so an
    objective not yet due is never "missed"."""
    objectives = db.session.scalars(select(QualityObjective).where(
        QualityObjective.starts_on <= end, QualityObjective.due_on >= start, QualityObjective.created_at < hi)
        .options(selectinload(QualityObjective.measurements), joinedload(QualityObjective.owner),
                 joinedload(QualityObjective.unit)).order_by(QualityObjective.title))
    rows = []
    for o in objectives:
        status, latest = status_as_of(o, day, hi)
        rows.append([o.title, o.unit.name if o.unit else "Organisation", o.owner.name if o.owner else "",
                     f"{'≥' if o.direction.value == 'higher' else '≤'} {_fmt(o.target)} {o.target_unit}",
                     f"{_fmt(latest.value)} {o.target_unit}" if latest else "", latest.measured_on if latest else "",
                     o.due_on, status])
    return Section("c2", "Extent to which quality objectives have been met", [
        Table("Quality objectives", ["Objective", "Scope", "Owner", "Target", "Latest value", "Measured",
                                     "Due", "Status"], rows)])


def _indicator_rows(end, hi, start=None) -> list[list]:
    indicators = db.session.scalars(select(ProcessIndicator).where(ProcessIndicator.created_at < hi)
                                    .options(selectinload(ProcessIndicator.results),
                                             joinedload(ProcessIndicator.unit))
                                    .order_by(ProcessIndicator.name))
    rows = []
    for ind in indicators:
        known = [r for r in ind.results if r.period_end <= end and r.created_at < hi
                 and (start is None or r.period_end >= start)]
        if not known:
            continue
        last = known[-1]
        rows.append([ind.unit.name, ind.name, f"{_fmt(ind.target)} {ind.target_unit}",
                     f"{_fmt(last.value)} {ind.target_unit}", last.period_end,
                     "met" if meets(Decimal(last.value), Decimal(ind.target), ind.direction) else "not met",
                     len(known)])
    return rows


def _findings_then(lo, hi) -> dict:
    """Findings issued in the period with the status each had at the period end (from the
    trail), and the corrective action effectiveness counts as they stood then."""
    findings = list(db.session.scalars(select(Finding).where(Finding.issued_at >= lo, Finding.issued_at < hi)))
    current = {f.id: f.status.value for f in findings}
    # A finding closed after the period end was not closed then, whatever the trail says.
    status = history.values_as_of("Finding", current, "status", hi)
    for f in findings:
        if status[f.id] == FindingStatus.CLOSED.value and (f.closed_at is None or f.closed_at >= hi):
            status[f.id] = FindingStatus.ISSUED.value
    counts = Counter(status.values())
    ncs = [f for f in findings if f.grade.is_nonconformity]
    closed = [f for f in ncs if f.closed_at is not None and f.closed_at < hi]
    effectiveness = [["nonconformities issued", len(ncs)], ["closed by the period end", len(closed)],
                     ["closed with effectiveness verified", sum(1 for f in closed if f.effectiveness_verified)],
                     ["still open at the period end", len(ncs) - len(closed)]] if ncs else []
    return {"statuses": [[s.label, counts[s.value]] for s in FindingStatus if counts.get(s.value)],
            "effectiveness": effectiveness}


def _suppliers(start, end, lo, hi) -> Section:
    """(c7) External providers as they stood at the period end: approval status from the trail,
    SCARs open (issued, not closed) then and past their closure date on the last day."""
    suppliers = list(db.session.scalars(select(Supplier).order_by(Supplier.name)))
    approval = history.values_as_of("Supplier", {s.id: s.approval_status.value for s in suppliers},
                                    "approval_status", hi)
    unborn = history.created_after("Supplier", approval, hi)
    mine: dict[int, list[Finding]] = {}
    for f in db.session.scalars(select(Finding).where(Finding.supplier_id.is_not(None),
                                                      Finding.issued_at < hi)):
        mine.setdefault(f.supplier_id, []).append(f)
    rows = []
    for s in suppliers:
        found = mine.get(s.id, [])
        ncs = sum(1 for f in found if f.grade.is_nonconformity and f.issued_at >= lo)
        open_then = [f for f in found if f.is_scar and (f.closed_at is None or f.closed_at >= hi)]
        overdue = sum(1 for f in open_then if f.closure_due_on is not None and f.closure_due_on < end)
        if s.id in unborn or not (ncs or open_then):
            continue
        rows.append([s.name, s.risk_class.value, ApprovalStatus(approval[s.id]).label, ncs, len(open_then),
                     overdue])
    return Section("c7", "Performance of external providers", [
        Table("Suppliers", ["Supplier", "Risk", "Approval at period end", "NCs in period", "Open SCARs",
                            "Overdue SCARs"], rows)])


def _process_performance(start, end, hi, then) -> Section:
    """(c3) Process performance and conformity of products and services."""
    conformity = then["statuses"]
    return Section("c3", "Process performance and conformity of products and services", [
        Table("Process indicators (latest result in the period)",
              ["Unit", "Indicator", "Target", "Actual", "Period end", "Result", "Results in period"],
              _indicator_rows(end, hi, start)),
        Table("Findings of the period by status at the period end", ["Status", "Findings"], conformity),
    ])


def _monitoring(start, end, hi, base) -> Section:
    """(c5) Monitoring and measurement results: how much was measured, and the cost of poor quality."""
    objectives = db.session.scalars(select(QualityObjective).options(
        selectinload(QualityObjective.measurements)).where(QualityObjective.created_at < hi)
        .order_by(QualityObjective.title))
    rows = []
    for o in objectives:
        values = [m for m in o.measurements if start <= m.measured_on <= end and m.created_at < hi]
        if values:
            numbers = [Decimal(m.value) for m in values]
            rows.append([o.title, len(values), _fmt(min(numbers)), _fmt(max(numbers)),
                         f"{_fmt(values[-1].value)} {o.target_unit}"])
    return Section("c5", "Monitoring and measurement results", [
        Table("Objective measurements in the period", ["Objective", "Measurements", "Lowest", "Highest",
                                                        "Last"], rows),
        Table("Cost of poor quality", ["Month", "Currency", "Amount"],
              [[m, cur, f"{a:.2f}"] for m, cur, a in base.costs_by_month]),
    ])


def _resources(start, end, lo, hi, base, day) -> Section:
    """(d) Adequacy of resources: resource needs decided earlier and not met before the period
    began (as item (a) counts actions), auditors, audits not done."""
    needs = db.session.scalars(select(ReviewAction).join(ReviewAction.review).where(
        ReviewAction.kind == OutputKind.RESOURCES, ReviewAction.created_at < hi,
        or_(ReviewAction.completed_at.is_(None), ReviewAction.completed_at >= lo))
        .options(joinedload(ReviewAction.owner)).order_by(ReviewAction.due_on))
    quals = db.session.scalars(select(Qualification).where(
        Qualification.valid_from <= end).options(joinedload(Qualification.user)))
    auditors = {q.user_id for q in quals if q.valid_until is None or q.valid_until >= end}
    planned = sum(r[1] for r in base.audits)
    done = sum(r[2] for r in base.audits)
    cancelled = sum(r[3] for r in base.audits)
    staffing = [["Auditors with a valid qualification at period end", len(auditors)],
                ["Audits planned in the period", planned], ["Audits done", done],
                ["Audits cancelled", cancelled]] if (auditors or planned or cancelled) else []
    return Section("d", "Adequacy of resources", [
        Table("Resource needs from management reviews", ["Need", "Owner", "Due", "Status at period end"],
              [[a.decision, a.owner.name, a.due_on, a.status_as_of(hi, day)] for a in needs]),
        Table("Audit resources", ["Measure", "Value"], staffing),
    ])


def _risks(start, end, lo, hi, day) -> Section:
    """(e) Effectiveness of actions taken on risks and opportunities: the tracked actions that
    were open during the period, with their status and effectiveness review as at its end, and
    the risk-level reviews due or done in the period."""
    actions = db.session.scalars(select(RiskAction).join(RiskAction.risk).where(
        RiskAction.created_at < hi, or_(RiskAction.completed_at.is_(None), RiskAction.completed_at >= lo))
        .options(joinedload(RiskAction.owner), joinedload(RiskAction.risk))
        .order_by((Risk.likelihood * Risk.impact).desc(), Risk.title, RiskAction.id))
    action_rows = []
    for a in actions:
        reviewed = a.reviewed_on is not None and a.reviewed_on <= end and a.status_as_of(hi, day) == "done"
        action_rows.append([a.risk.title, a.description, a.owner.name, a.due_on, a.status_as_of(hi, day),
                            a.effectiveness.label if reviewed else "Not reviewed by the period end"])
    risks = db.session.scalars(select(Risk).where(Risk.created_at < hi).options(joinedload(Risk.owner))
                               .order_by((Risk.likelihood * Risk.impact).desc(), Risk.title))
    rows = []
    for r in risks:
        due_in = r.review_due_on is not None and start <= r.review_due_on <= end
        reviewed_in = r.reviewed_on is not None and start <= r.reviewed_on <= end
        if not (due_in or reviewed_in):
            continue
        outcome = r.effectiveness.label if reviewed_in else "Not reviewed by the period end"
        rows.append([r.title, r.kind.label, r.score, r.owner.name if r.owner else "", r.actions or "",
                     r.review_due_on or "", outcome])
    return Section("e", "Effectiveness of actions taken on risks and opportunities", [
        Table("Actions on risks and opportunities", ["Risk or opportunity", "Action", "Owner", "Due",
                                                     "Status at period end", "Effectiveness"], action_rows),
        Table("Risk and opportunity reviews", ["Title", "Kind", "Score", "Owner", "Approach", "Review due",
                                               "Effectiveness"], rows)])


def _improvement(start, end, lo, hi) -> Section:
    """(f) Opportunities for improvement: OFIs raised in audits and opportunities identified."""
    ofis = db.session.scalars(select(Finding).where(
        Finding.grade == Grade.OFI, Finding.issued_at >= lo, Finding.issued_at < hi)
        .options(joinedload(Finding.unit)).order_by(Finding.issued_at))
    opportunities = db.session.scalars(select(Risk).where(
        Risk.kind == RiskKind.OPPORTUNITY, Risk.identified_on >= start, Risk.identified_on <= end,
        Risk.created_at < hi).order_by(Risk.identified_on))
    return Section("f", "Opportunities for improvement", [
        Table("Opportunities for improvement from audits", ["Finding", "Unit", "Statement"],
              [[f.reference, f.unit.name if f.unit else "", f.statement] for f in ofis]),
        Table("Opportunities identified", ["Opportunity", "Identified", "Score", "Actions"],
              [[o.title, o.identified_on, o.score, o.actions or ""] for o in opportunities]),
    ])


def review_pack_xlsx(pack: ReviewPack, *, title: str) -> bytes:
    """The pack as a workbook: a summary sheet, then one sheet per 9.3.2 item with readable headings."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold, big = Font(bold=True), Font(bold=True, size=14)
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(guard_row([title]))
    ws["A1"].font = big
    ws.append(["Period", f"{pack.start} – {pack.end}"])
    ws.append([])
    ws.append(["Item", "Input", "Entries"])
    for cell in ws[4]:
        cell.font = bold
    for s in pack.sections:
        ws.append([s.code, s.title, sum(len(t.rows) for t in s.tables) or NOTHING])
    ws.column_dimensions["B"].width = 60
    for s in pack.sections:
        sheet = wb.create_sheet(f"{s.code} {s.title}"[:31])
        sheet.append([f"9.3.2 {s.code}) {s.title}"])
        sheet["A1"].font = big
        for table in s.tables:
            sheet.append([])
            sheet.append([table.caption])
            sheet.cell(sheet.max_row, 1).font = bold
            sheet.append(table.headers)
            for cell in sheet[sheet.max_row]:
                cell.font = bold
            if not table.rows:
                sheet.append([NOTHING])
            for row in table.rows:
                sheet.append(guard_row(row))
        for column in "ABCDEFGH":
            sheet.column_dimensions[column].width = 22
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
