"""A year in the life (issue 14, "Done when"): on the demo organisation at the end of November
2026, the coordinator plans 2027 through the pages (programme, rules, generate, planner, accept),
top management approves, and the scheduler's sweeps then run week by week through 2027 while the
audits are held. Every rule of the issue is asserted on the result."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from audit.audits.dates import audit_country
from audit.audits.services import change_status, create_audit
from audit.audits.team import coverage_problems, team_problems
from audit.core.registry import registry
from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    Certificate,
    Finding,
    FindingStatus,
    Grade,
    Notification,
    PlannerRun,
    Programme,
    ProgrammeStatus,
    QualificationLevel,
    Site,
    Standard,
    Supplier,
    TeamRole,
    ThirdPartyType,
    Unit,
    User,
)
from audit.programme import views as programme_views
from audit.programme.intervals import unit_history, unit_interval
from audit.programme.pool import next_working_day

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
YEAR_START, YEAR_END = dt.date(2027, 1, 1), dt.date(2027, 12, 31)
LIVE = (AuditStatus.CANCELLED, AuditStatus.POSTPONED)


def _login(client, email):
    client.post("/logout")
    assert client.post("/login", data={"email": email, "password": DEMO_PASSWORD}).status_code == 302


def _rule(client, programme_id, **values):
    data = {"kind": "risk_internal", "title": "", "unit_id": 0, "supplier_id": 0, "certificate_id": 0,
            "site_id": 0, "standard_id": 0, "rrule": "", "starts_on": "", "start_time": "09:00",
            "planned_days": 1, "horizon_months": 15}
    data.update(values)
    response = client.post(f"/programme/{programme_id}/rules", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]


def _plan_and_accept(client, programme: Programme) -> PlannerRun:
    assert client.post(f"/programme/{programme.id}/planner/run").status_code == 302
    run = db.session.scalars(select(PlannerRun).where(PlannerRun.programme_id == programme.id)
                             .order_by(PlannerRun.id.desc())).first()
    form = {f"take-{p['audit_id']}": "on" for p in run.proposals}
    form.update({f"day-{p['audit_id']}": p["day"] for p in run.proposals})
    form.update({f"lead-{p['audit_id']}": p["lead_id"] for p in run.proposals if p["lead_id"]})
    response = client.post(f"/programme/{programme.id}/planner/{run.id}/accept", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    return db.session.get(PlannerRun, run.id)


@pytest.fixture
def year(app, client, monkeypatch):
    """The demo, the 2027 programme planned and approved through the pages."""
    monkeypatch.setattr(programme_views, "utcnow", lambda: NOW)
    seed_demo(now=NOW)
    db.session.commit()
    _login(client, "coordinator@example.com")
    # This year's programme still has undated audits (and the next surveillance): plan them too.
    this_year = db.session.scalar(select(Programme).where(Programme.name == "Audit programme 2026"))
    _plan_and_accept(client, this_year)
    coordinator = db.session.scalar(select(User).where(User.email == "coordinator@example.com"))
    response = client.post("/programme/new", data={
        "name": "Audit programme 2027", "period_start": "2027-01-01", "period_end": "2027-12-31",
        "manager_id": coordinator.id, "audit_client": "Dr. Heinz Vogel, managing director",
        "objectives": "Every process by its risk interval; keep the ISO 9001 certificate.",
        "scope": "All processes at all sites; critical suppliers.", "risks": "Auditor capacity."})
    assert response.status_code == 302
    programme = db.session.scalar(select(Programme).where(Programme.name == "Audit programme 2027"))
    for unit in db.session.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.id)):
        _rule(client, programme.id, title=f"Risk-based: {unit.name}", unit_id=unit.id)
    cert = db.session.scalars(select(Certificate).where(Certificate.supplier_id.is_(None))
                              .order_by(Certificate.id)).first()
    berlin = db.session.scalar(select(Site).where(Site.code == "BER"))
    _rule(client, programme.id, kind="certification", title="ISO 9001 certificate", certificate_id=cert.id,
          site_id=berlin.id, planned_days=2)
    castings = db.session.scalar(select(Supplier).where(Supplier.name == "Precision Castings Ltd"))
    iso9001 = db.session.scalar(select(Standard).where(Standard.code == "ISO 9001"))
    _rule(client, programme.id, kind="supplier", title="Castings supplier audit", supplier_id=castings.id,
          standard_id=iso9001.id)
    assert client.post(f"/programme/{programme.id}/generate").status_code == 302
    run = _plan_and_accept(client, programme)
    _login(client, "management@example.com")
    assert client.post(f"/programme/{programme.id}/approve").status_code == 302
    _login(client, "coordinator@example.com")
    client.post(f"/programme/{programme.id}/status", data={"status": "active"})
    db.session.expire_all()
    programme = db.session.get(Programme, programme.id)
    return {"programme": programme, "run": run, "cert": cert}


def _live_audits():
    return db.session.scalars(select(Audit).where(Audit.status.not_in(LIVE))).all()


def _first_day(audit: Audit) -> dt.date:
    return (audit.local_dates() or (audit.planned_date,))[0]


def test_next_year_is_planned_right(year):
    """Approved by top management; every audit inside 2027; no unit × standard and no cycle step
    twice; every multi-standard audit staffed by a competent team; equally qualified leads within
    one audit of each other; nobody in two countries on consecutive working days; every person
    assigned told once, with one calendar invitation."""
    programme, run = year["programme"], year["run"]
    assert programme.status is ProgrammeStatus.ACTIVE and programme.approved_by.email == "management@example.com"
    assert not programme.changed_since_approval
    assert run.unplaced == [] and run.accepted_at is not None
    mine = [a for a in programme.audits if a.status not in LIVE]
    assert len(mine) >= 10
    for audit in mine:
        first, last = audit.local_dates()
        assert YEAR_START <= audit.planned_date <= YEAR_END and YEAR_START <= first <= last <= YEAR_END, audit
        assert audit.reference.split("-")[1] == "2027", audit
        assert audit.status is AuditStatus.SCHEDULED, audit
    # No unit × standard audited twice for one need, across programmes.
    units = {u.id: u for u in db.session.scalars(select(Unit))}
    history = unit_history(units, NOW - relativedelta(months=24))
    seen = defaultdict(list)
    for audit in _live_audits():
        if audit.kind is AuditKind.INTERNAL and YEAR_START <= _first_day(audit) <= YEAR_END:
            for unit in audit.units:
                for std in audit.standards:
                    seen[(unit.id, std.id)].append(_first_day(audit))
    for (unit_id, _std), days in seen.items():
        _, months = unit_interval(units[unit_id], history.get(unit_id, 0))
        days.sort()
        for a, b in zip(days, days[1:], strict=False):
            assert (b - a).days >= months * 30 // 2, (units[unit_id].name, days)
    # Every certification cycle step once.
    steps = defaultdict(list)
    for audit in _live_audits():
        if audit.certificate_id and audit.third_party_type:
            steps[(audit.certificate_id, audit.third_party_type)].append(audit.planned_date)
    for days in steps.values():
        days.sort()
        assert all((b - a).days > 200 for a, b in zip(days, days[1:], strict=False)), steps
    # Multi-standard audits: a competent team.
    combined = [a for a in mine if a.kind is not AuditKind.THIRD_PARTY and len(a.standards) > 1]
    assert combined, "the demo has combined audits (machining, EHS)"
    for audit in combined:
        assert team_problems(audit, today=NOW.date()) == [] and coverage_problems(audit, today=NOW.date()) == []
    # Fair load among equally qualified leads (same set of lead standards), over all of 2027.
    led = defaultdict(int)
    for audit in _live_audits():
        if audit.lead is not None and audit.local_dates() and YEAR_START <= _first_day(audit) <= YEAR_END:
            led[audit.lead.id] += 1
    groups = defaultdict(list)
    for user in db.session.scalars(select(User)):
        leads = frozenset(q.standard_id for q in user.qualifications if q.level is QualificationLevel.LEAD)
        if leads and user.is_active:
            groups[leads].append(led[user.id])
    for loads in groups.values():
        assert max(loads) <= min(loads) + 1, groups
    # Travel: never two countries on consecutive working days.
    booked = defaultdict(dict)
    for audit in _live_audits():
        span = audit.local_dates()
        if span is None or span[1] < YEAR_START:
            continue
        for member in audit.team:
            if member.role is TeamRole.GUIDE:
                continue
            day = span[0]
            while day <= span[1]:
                booked[member.user_id][day] = audit_country(audit)
                day += dt.timedelta(days=1)
    for user_id, days in booked.items():
        for day, country in days.items():
            following = days.get(next_working_day(day))
            assert following in (None, country), (user_id, day, country, following)
    # Announcements: everyone the planner put in a team was told once, with one invitation.
    from audit.notifications.email import build_message

    notes = db.session.scalars(select(Notification).where(Notification.dedupe_key.like("audit-change:%"))).all()
    for audit in mine:
        for member in audit.team:
            own = [n for n in notes if n.dedupe_key.startswith(f"audit-change:{audit.id}:assigned:")
                   and n.dedupe_key.endswith(f":u{member.user_id}") and n.title.startswith("You are in the team")]
            assert len(own) == 1, (audit.reference, member.user_id, [n.dedupe_key for n in own])
            invitations = [p for p in build_message(own[0]).iter_attachments()
                           if p.get_content_type() == "text/calendar"]
            assert [p.get_param("method") for p in invitations] == ["REQUEST"], audit.reference


def _hold(audit: Audit, now: dt.datetime) -> None:
    """The audit happened as planned: walk it to report issued."""
    for step in (AuditStatus.IN_PROGRESS, AuditStatus.FIELDWORK_COMPLETE, AuditStatus.REPORT_ISSUED):
        if audit.status is AuditStatus.SCHEDULED and step is AuditStatus.IN_PROGRESS:
            change_status(audit, step, actor=None, now=audit.starts_at)
        elif audit.status is not step:
            change_status(audit, step, actor=None, now=now)


def test_the_year_runs_without_false_alarms(year, app):
    """Week by week through 2027 with the scheduler's sweeps while audits are held on their
    dates: no "overdue" for anything held in time, no new audits outside the period, and the
    stage-2 major NC is warned 30 and 7 days before its deadline and flagged after it."""
    programme = year["programme"]
    berlin = db.session.scalar(select(Site).where(Site.code == "BER"))
    iso14001 = db.session.scalar(select(Standard).where(Standard.code == "ISO 14001"))
    stage2 = create_audit({
        "title": "ISO 14001 initial certification – stage 2", "kind": AuditKind.THIRD_PARTY,
        "third_party_type": ThirdPartyType.STAGE2, "programme_id": programme.id, "site_id": berlin.id,
        "standard_ids": [iso14001.id], "planned_days": 2,
        "starts_local": dt.datetime(2027, 2, 10, 8, 30), "ends_local": dt.datetime(2027, 2, 11, 16, 30)},
        actor=None, now=NOW)
    change_status(stage2, AuditStatus.SCHEDULED, actor=None, now=NOW)
    db.session.commit()
    count_before = db.session.query(Audit).count()
    # Every registered sweep but e-mail delivery (no mail server here; notifications suffice).
    sweeps = [job for job in registry(app).jobs if "mail" not in job.id]
    assert {"extend_programme_horizons", "certification_deadlines", "stage2_major_nc_deadlines"} \
        <= {job.id for job in sweeps}
    now = dt.datetime(2027, 1, 4, 6, 0, tzinfo=dt.UTC)
    while now.date() <= dt.date(2028, 1, 10):
        for audit in db.session.scalars(select(Audit).where(
                Audit.status.in_((AuditStatus.SCHEDULED, AuditStatus.PLAN_ISSUED, AuditStatus.IN_PROGRESS,
                                  AuditStatus.FIELDWORK_COMPLETE)), Audit.ends_at < now)):
            _hold(audit, now)
            if audit.id == stage2.id:
                db.session.add(Finding(reference="CA-2027-S2-F01", audit_id=audit.id, grade=Grade.MAJOR,
                                       statement="Legal compliance not evaluated",
                                       status=FindingStatus.AWAITING_RESPONSE, raised_at=audit.ends_at))
        db.session.commit()
        for job in sweeps:
            job.function(app, now)
        db.session.expire_all()
        now += dt.timedelta(days=7)
    alarms = db.session.scalars(select(Notification).where(
        Notification.kind.in_(("audit_overdue", "report_overdue", "certification_deadline")))).all()
    false = [n.title for n in alarms if n.created_at.date() >= YEAR_START
             and (n.kind != "certification_deadline" or "overdue" in n.title)]
    assert false == [], [(n.title, n.created_at) for n in alarms]
    # The sweeps generated nothing new outside the period (and nothing new at all: all placed).
    assert db.session.query(Audit).count() == count_before
    stage2_notes = db.session.scalars(select(Notification).where(Notification.kind == "stage2_major_nc")
                                      .order_by(Notification.created_at)).all()
    coordinator = db.session.scalar(select(User).where(User.email == "coordinator@example.com"))
    days = [n.created_at.date() for n in stage2_notes if n.user_id == coordinator.id]
    # Stage 2 ended 11 Feb 2027: verify by 11 Aug 2027.
    assert len(days) == 3, [n.title for n in stage2_notes]
    assert dt.date(2027, 7, 12) <= days[0] < dt.date(2027, 7, 19)
    assert dt.date(2027, 8, 4) <= days[1] <= dt.date(2027, 8, 11)
    assert dt.date(2027, 8, 11) < days[2] <= dt.date(2027, 8, 18)
    assert "stage 2 must be repeated" in stage2_notes[-1].title


def test_programme_exports_as_pdf_and_xlsx(year, client):
    """The planned year exports as XLSX (audits with dates, teams, status; coverage) and PDF."""
    import io

    from openpyxl import load_workbook

    programme = year["programme"]
    xlsx = client.get(f"/programme/{programme.id}/export.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    audits = list(book["Audits"].iter_rows(values_only=True))
    assert audits[0][:3] == ("Reference", "Title", "Kind")
    references = {row[0] for row in audits[1:]}
    assert references == {a.reference for a in programme.audits}
    assert all(row[5] and row[5].startswith("2027-") and row[9] for row in audits[1:] if row[2] == "Internal")
    coverage = list(book["Coverage"].iter_rows(values_only=True))
    assert len(coverage) > 10 and coverage[0] == ("Site", "Unit", "Standard", "Audits")
    pdf = client.get(f"/programme/{programme.id}/export.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
