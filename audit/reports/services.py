"""The management review input pack (ISO 9001 9.3.2) for a period, and its exports.

``build_pack`` computes every figure once; the page, the PDF, the CSV and the XLSX all render
the same ``Pack`` so their numbers cannot drift apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from audit.core.errors import DomainError
from audit.core.exports import guard_row
from audit.extensions import db
from audit.findings.queries import is_overdue_at, overdue_clause
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Certificate,
    Finding,
    FindingStatus,
    Grade,
    PoorQualityCost,
    Supplier,
)
from audit.models.types import latest_site_date


@dataclass
class Pack:
    """Every figure of the management review input, for one period."""

    start: dt.date
    end: dt.date  #: inclusive
    audits: list[tuple[str, int, int, int]] = field(default_factory=list)  #: kind, planned, done, cancelled
    grades: list[tuple[str, int]] = field(default_factory=list)
    clauses: list[tuple[str, str, int, int]] = field(default_factory=list)  #: number, title, major, minor
    statuses: list[tuple[str, int]] = field(default_factory=list)
    effectiveness: dict[str, int] = field(default_factory=dict)
    overdue: list[Finding] = field(default_factory=list)
    costs_by_category: list[tuple[str, str, Decimal]] = field(default_factory=list)  #: cat, cur, sum
    costs_by_month: list[tuple[str, str, Decimal]] = field(default_factory=list)  #: month, cur, sum
    cost_totals: list[tuple[str, Decimal]] = field(default_factory=list)
    suppliers: list[dict] = field(default_factory=list)
    certificates: list[dict] = field(default_factory=list)
    findings_total: int = 0


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants [start 00:00, end+1 00:00)."""
    if end < start:
        raise DomainError("The period ends before it starts.", field="end")
    if (end - start).days > 3 * 366:
        raise DomainError("Choose a period of at most three years.", field="start")
    lo = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return lo, hi


def _audit_day(audit: Audit) -> dt.date | None:
    if audit.planned_date is not None:
        return audit.planned_date
    return audit.starts_at.date() if audit.starts_at else None


def _with_audit_zone():
    """Load a finding's audit with what gives its zone (``local_date``): joined, not lazily."""
    return joinedload(Finding.audit).options(joinedload(Audit.site), joinedload(Audit.supplier))


def build_pack(start: dt.date, end: dt.date, *, today: dt.date, as_of_end: bool = False,
               now: dt.datetime | None = None) -> Pack:
    """Compute the pack for [start, end] (dates inclusive); overdue items as of ``today``.

    Overdue findings and SCARs are judged at the instant ``now`` on the date where each audit
    happened, as the sweep judges them (``queries.is_overdue_at``); without ``now``, at noon UTC
    of ``today`` (a pack as of a day rather than an instant).

    ``as_of_end`` freezes the pack at the period end, for a management review of a past period:
    audits count as done only if their report was issued by then, and "overdue" lists findings
    issued by then, past their closure date on the last day and not closed before it ends.
    """
    lo, hi = period_bounds(start, end)
    pack = Pack(start=start, end=end)

    # Audits done vs planned, by kind: audits whose planned (else start) date is in the period.
    audits = db.session.scalars(select(Audit)).all()
    per_kind = {k: [0, 0, 0] for k in AuditKind}
    for a in audits:
        day = _audit_day(a)
        if day is None or not start <= day <= end:
            continue
        if a.status is AuditStatus.CANCELLED:
            per_kind[a.kind][2] += 1
            continue
        per_kind[a.kind][0] += 1
        if as_of_end:
            if a.report_issued_at is not None and a.report_issued_at < hi:
                per_kind[a.kind][1] += 1
        elif a.status in AuditStatus.reported() or a.report_issued_at is not None:
            per_kind[a.kind][1] += 1
    pack.audits = [(k.label, *v) for k, v in per_kind.items()]

    # Findings issued in the period (drafts are not findings yet).
    findings = db.session.scalars(
        select(Finding).where(Finding.issued_at >= lo, Finding.issued_at < hi)
        .options(selectinload(Finding.clauses))).all()
    pack.findings_total = len(findings)
    grades = Counter(f.grade for f in findings)
    pack.grades = [(g.label, grades.get(g, 0)) for g in Grade]
    heat: dict[str, list] = {}
    for f in findings:
        if not f.grade.is_nonconformity:
            continue
        for c in f.clauses:
            row = heat.setdefault(c.number, [c.title or "", 0, 0])
            row[1 if f.grade is Grade.MAJOR else 2] += 1
    pack.clauses = sorted(((n, t, ma, mi) for n, (t, ma, mi) in heat.items()),
                          key=lambda r: [int(p) if p.isdigit() else 0 for p in r[0].split(".")])
    statuses = Counter(f.status for f in findings)
    pack.statuses = [(s.label, statuses.get(s, 0)) for s in FindingStatus
                     if s is not FindingStatus.DRAFT]
    ncs = [f for f in findings if f.grade.is_nonconformity]
    pack.effectiveness = {
        "ncs": len(ncs),
        "closed": sum(1 for f in ncs if f.status is FindingStatus.CLOSED),
        "effective": sum(1 for f in ncs if f.effectiveness_verified),
        "not_effective_reviews": sum(f.recurrence_count for f in ncs),
        "rejected_responses": sum(f.rejection_count for f in ncs),
        "open": sum(1 for f in ncs if f.status.is_open),
    }

    # Overdue as of today (or as of the period end), whenever issued.
    overdue_then = and_(Finding.status != FindingStatus.DRAFT, Finding.issued_at < hi,
                        Finding.closure_due_on < end,
                        or_(Finding.closed_at.is_(None), Finding.closed_at >= hi))
    instant = now if now is not None else dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    overdue = db.session.scalars(
        select(Finding).where(overdue_then if as_of_end else overdue_clause(latest_site_date(instant)))
        .options(joinedload(Finding.owner), joinedload(Finding.unit), joinedload(Finding.supplier),
                 _with_audit_zone())
        .order_by(Finding.closure_due_on, Finding.id)).unique().all()
    pack.overdue = overdue if as_of_end else sorted(
        (f for f in overdue if is_overdue_at(f, instant)), key=lambda f: (f.current_due_on(), f.id))

    # Cost of poor quality incurred in the period.
    costs = db.session.scalars(select(PoorQualityCost).where(
        PoorQualityCost.incurred_on >= start, PoorQualityCost.incurred_on <= end)).all()
    by_cat: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    by_month: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for c in costs:
        # In the base currency at the rate stored on the cost (rows from before conversion
        # existed keep their own currency).
        currency = c.base_currency or c.currency
        amount = Decimal(c.base_amount if c.base_amount is not None else c.amount)
        by_cat[(c.category.label, currency)] += amount
        by_month[(f"{c.incurred_on:%Y-%m}", currency)] += amount
        totals[currency] += amount
    pack.costs_by_category = [(k[0], k[1], v) for k, v in sorted(by_cat.items())]
    pack.costs_by_month = [(k[0], k[1], v) for k, v in sorted(by_month.items())]
    pack.cost_totals = sorted(totals.items())

    # Supplier performance.
    supplier_findings: dict[int, list[Finding]] = defaultdict(list)
    for f in db.session.scalars(select(Finding).where(Finding.supplier_id.is_not(None),
                                                      Finding.status != FindingStatus.DRAFT)
                                .options(_with_audit_zone())).unique():
        supplier_findings[f.supplier_id].append(f)
    for s in db.session.scalars(select(Supplier).order_by(Supplier.name)):
        mine = supplier_findings.get(s.id, [])
        in_period = [f for f in mine if f.issued_at and lo <= f.issued_at < hi]
        pack.suppliers.append({
            "name": s.name, "risk": s.risk_class.value, "status": s.approval_status.label,
            "ncs": sum(1 for f in in_period if f.grade.is_nonconformity),
            "open_scars": sum(1 for f in mine if f.is_scar and f.status.is_open),
            "overdue_scars": sum(1 for f in mine if f.is_scar and is_overdue_at(f, instant)),
        })

    # Certification status of our own certificates.
    for c in db.session.scalars(select(Certificate).where(Certificate.supplier_id.is_(None))
                                .options(joinedload(Certificate.standard),
                                         joinedload(Certificate.certification_body))
                                .order_by(Certificate.expiry_date)):
        pack.certificates.append({
            "standard": c.standard.code if c.standard else "", "number": c.number or "",
            "body": c.certification_body.name if c.certification_body else "",
            "decision": c.decision_date, "expiry": c.expiry_date, "status": c.status.value,
            "days_left": (c.expiry_date - today).days,
        })
    return pack


def pack_rows(pack: Pack) -> list[tuple[str, ...]]:
    """The pack as flat (section, item, value...) rows: the CSV, and a check for the others."""
    rows: list[tuple] = [("period", "start", pack.start.isoformat()),
                         ("period", "end", pack.end.isoformat())]
    for kind, planned, done, cancelled in pack.audits:
        rows.append(("audits", kind, planned, done, cancelled))
    for label, n in pack.grades:
        rows.append(("findings by grade", label, n))
    for number, title, ma, mi in pack.clauses:
        rows.append(("nonconformities by clause", f"{number} {title}".strip(), ma, mi))
    for label, n in pack.statuses:
        rows.append(("findings by status", label, n))
    for key, n in pack.effectiveness.items():
        rows.append(("corrective action", key, n))
    for f in pack.overdue:
        rows.append(("overdue", f.reference, f.grade.label, f.status.label,
                     (f.current_due_on() or "").__str__(), f.owner.name if f.owner else ""))
    for cat, cur, amount in pack.costs_by_category:
        rows.append(("cost by category", cat, cur, f"{amount:.2f}"))
    for month, cur, amount in pack.costs_by_month:
        rows.append(("cost by month", month, cur, f"{amount:.2f}"))
    for cur, amount in pack.cost_totals:
        rows.append(("cost total", cur, f"{amount:.2f}"))
    for s in pack.suppliers:
        rows.append(("supplier", s["name"], s["risk"], s["status"], s["ncs"], s["open_scars"],
                     s["overdue_scars"]))
    for c in pack.certificates:
        rows.append(("certificate", c["standard"], c["number"], c["body"],
                     c["expiry"].isoformat(), c["status"]))
    return rows


def pack_csv(pack: Pack) -> str:
    """The pack as CSV text (one row per figure)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("section", "item", "value", "value 2", "value 3", "value 4", "value 5"))
    for row in pack_rows(pack):
        writer.writerow(guard_row(row))
    return out.getvalue()


def pack_xlsx(pack: Pack) -> bytes:
    """The pack as an XLSX workbook: one sheet per section."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["Management review input", f"{pack.start} – {pack.end}"])
    ws.append(["Findings issued", pack.findings_total])
    for key, n in pack.effectiveness.items():
        ws.append(guard_row([key.replace("_", " "), n]))

    def sheet(title, header, rows):
        s = wb.create_sheet(title)
        s.append(header)
        for r in rows:
            s.append(guard_row(r))

    sheet("Audits", ["Kind", "Planned", "Done", "Cancelled"], pack.audits)
    sheet("Grades", ["Grade", "Findings"], pack.grades)
    sheet("Clauses", ["Clause", "Title", "Major", "Minor"], pack.clauses)
    sheet("Status", ["Status", "Findings"], pack.statuses)
    sheet("Overdue", ["Reference", "Grade", "Status", "Due", "Owner"],
          [(f.reference, f.grade.label, f.status.label, f.current_due_on(),
            f.owner.name if f.owner else "") for f in pack.overdue])
    sheet("Cost", ["Category", "Currency", "Amount"],
          [(c, cur, float(a)) for c, cur, a in pack.costs_by_category])
    sheet("Cost trend", ["Month", "Currency", "Amount"],
          [(m, cur, float(a)) for m, cur, a in pack.costs_by_month])
    sheet("Suppliers", ["Supplier", "Risk", "Approval", "NCs", "Open SCARs", "Overdue SCARs"],
          [(s["name"], s["risk"], s["status"], s["ncs"], s["open_scars"], s["overdue_scars"])
           for s in pack.suppliers])
    sheet("Certificates", ["Standard", "Number", "Body", "Decision", "Expiry", "Status"],
          [(c["standard"], c["number"], c["body"], c["decision"], c["expiry"], c["status"])
           for c in pack.certificates])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _no_fetch(url, *args, **kwargs):
    """WeasyPrint URL fetcher: the PDF is self-contained; nothing is fetched, ever."""
    raise ValueError(f"external resource refused: {url}")


def pack_pdf(html: str) -> bytes:
    """Render the pack's print HTML to PDF (WeasyPrint, no network access)."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()
