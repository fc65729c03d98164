"""Programme export (PDF and XLSX): its audits with local dates, teams and status, and the
coverage of units and standards by those audits. Pure reads; one query for the audits."""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.core.exports import guard_row
from audit.extensions import db
from audit.models import Audit, AuditStatus, AuditTeamMember, Programme, Unit

#: Statuses whose audits no longer count for the programme's coverage.
GONE = AuditStatus.inactive()


@dataclass(frozen=True)
class ExportRow:
    reference: str
    title: str
    kind: str
    site: str
    zone: str
    first_day: str
    last_day: str
    standards: str
    units: str
    lead: str
    team: str
    status: str


def programme_export(programme: Programme) -> dict:
    """Rows per audit (date order) and coverage rows (unit × standard → audits in the period)."""
    audits = db.session.scalars(
        select(Audit).where(Audit.programme_id == programme.id)
        .options(selectinload(Audit.site), selectinload(Audit.supplier), selectinload(Audit.standards),
                 selectinload(Audit.units).selectinload(Unit.site),
                 selectinload(Audit.team).selectinload(AuditTeamMember.user))).all()
    rows = []
    coverage: dict[tuple[str, str, str], list[str]] = {}
    for audit in sorted(audits, key=lambda a: ((a.local_dates() or (a.planned_date,))[0] or programme.period_start,
                                               a.reference)):
        span = audit.local_dates()
        first = span[0] if span else audit.planned_date
        rows.append(ExportRow(
            audit.reference, audit.title, audit.kind.label,
            audit.site.name if audit.site else (audit.supplier.name if audit.supplier else ""), audit.timezone,
            first.isoformat() if first else "", span[1].isoformat() if span else "",
            ", ".join(s.code for s in audit.standards), ", ".join(u.name for u in audit.units),
            audit.lead.name if audit.lead else "",
            ", ".join(f"{m.user.name} ({m.role.label.lower()})" for m in audit.team if m.role.value != "lead"),
            audit.status.label))
        if audit.status in GONE:
            continue
        for unit in audit.units:
            for std in audit.standards:
                coverage.setdefault((unit.site.name if unit.site else "", unit.name, std.code), []).append(
                    f"{audit.reference} {first.isoformat() if first else ''}".strip())
    return {"programme": programme, "rows": rows,
            "coverage": [(site, unit, std, audits) for (site, unit, std), audits in sorted(coverage.items())]}


def export_xlsx(data: dict) -> bytes:
    """The export as a workbook: Programme, Audits and Coverage sheets."""
    from openpyxl import Workbook

    programme = data["programme"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Programme"
    for label, value in (("Programme", programme.name), ("Period start", programme.period_start),
                         ("Period end", programme.period_end), ("Status", programme.status.value),
                         ("Approved version", programme.approved_version or ""),
                         ("Objectives", programme.objectives or ""), ("Scope", programme.scope or "")):
        ws.append(guard_row([label, value]))
    audits = wb.create_sheet("Audits")
    audits.append(["Reference", "Title", "Kind", "Site / supplier", "Time zone", "First day", "Last day",
                   "Standards", "Units", "Lead", "Team", "Status"])
    for row in data["rows"]:
        audits.append(guard_row(row.__dict__.values()))
    coverage = wb.create_sheet("Coverage")
    coverage.append(["Site", "Unit", "Standard", "Audits"])
    for site, unit, std, refs in data["coverage"]:
        coverage.append(guard_row([site, unit, std, "; ".join(refs)]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _no_fetch(url, *args, **kwargs):
    raise ValueError(f"external resource refused: {url}")


def export_pdf(html: str) -> bytes:
    """The export's print HTML as PDF (WeasyPrint, nothing fetched)."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()
