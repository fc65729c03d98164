"""The demo programme: an audit in progress today, past reports, supplier audit, certificate cycle."""

from __future__ import annotations

from sqlalchemy import func, select

from audit.audits.team import team_problems
from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db
from audit.models import Audit, AuditStatus, ThirdPartyType


def test_demo_programme_contents(app, now):
    """The demo has today's Berlin audit led by Jonas Weber, past reports, the castings audit, and
    generated surveillance audits; no team rule is broken anywhere; a second run adds nothing."""
    from audit.demo import DemoContext  # noqa: F401  (documented context)

    seed_demo(now=now)
    db.session.commit()
    count = db.session.scalar(select(func.count(Audit.id)))
    audits = db.session.scalars(select(Audit)).all()
    today = [a for a in audits if a.status is AuditStatus.IN_PROGRESS]
    assert len(today) == 1
    current = today[0]
    assert current.site.code == "BER" and current.lead.email == "lead@example.com"
    assert current.local_dates() == (now.date(), now.date())
    assert "auditor@example.com" in {u.email for u in current.auditors}
    supplier = [a for a in audits if a.supplier and a.supplier.name == "Precision Castings Ltd"]
    assert supplier and supplier[0].status is AuditStatus.REPORT_ISSUED
    assert sum(a.status in (AuditStatus.REPORT_ISSUED, AuditStatus.CLOSED) for a in audits) >= 4
    surveillances = [a for a in audits if a.third_party_type is ThirdPartyType.SURVEILLANCE]
    assert any(a.planned_date > now.date() and a.status is AuditStatus.PLANNED for a in surveillances)
    assert any(a.status is AuditStatus.REPORT_ISSUED for a in surveillances)
    for audit in audits:
        if audit.is_open:
            assert team_problems(audit, today=now.date()) == [], audit
    seed_demo(now=now)
    db.session.commit()
    assert db.session.scalar(select(func.count(Audit.id))) == count


def test_demo_pages_render_for_coordinator(app, client, now):
    """Audit list, audit pages, programme, calendar render for the demo coordinator."""
    seed_demo(now=now)
    db.session.commit()
    client.post("/login", data={"email": "coordinator@example.com", "password": DEMO_PASSWORD})
    pages = ["/", "/audits/", "/programme/", "/programme/calendar", "/programme/calendar?view=year"]
    pages += [f"/audits/{a.id}" for a in db.session.scalars(select(Audit)).all()]
    pages += [f"/programme/{a.programme_id}" for a in db.session.scalars(select(Audit).limit(1))]
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_certification_audit_page_warns_when_a_date_breaks_the_cycle(app, client):
    """Moving the demo's upcoming surveillance past the next surveillance's year shows a warning
    on its page (the page uses the real clock, so the demo is seeded on it too)."""
    import datetime as dt

    from audit.audits.services import reschedule_audit

    now = dt.datetime.now(dt.UTC)
    seed_demo(now=now)
    db.session.commit()
    s2 = db.session.scalars(select(Audit).where(Audit.third_party_type == ThirdPartyType.SURVEILLANCE,
                                                Audit.status == AuditStatus.PLANNED)).one()
    client.post("/login", data={"email": "coordinator@example.com", "password": DEMO_PASSWORD})
    page = client.get(f"/audits/{s2.id}").get_data(as_text=True)
    assert "Certification cycle" in page and "Surveillance 2" in page and "keeps every rule" in page
    late = dt.datetime(s2.planned_date.year + 1, 12, 1, 9)
    late += dt.timedelta(days=max(0, 7 - late.weekday()) if late.weekday() >= 5 else 0)
    s2.programme = None  # dates outside its programme's period are refused: take it out first
    s2.due_by = None  # as generated before cycle steps carried their deadline: the page still warns
    reschedule_audit(s2, starts_local=late, ends_local=late + dt.timedelta(hours=8), actor=None, now=now)
    db.session.commit()
    page = client.get(f"/audits/{s2.id}").get_data(as_text=True)
    assert "keeps every rule" not in page and "flash flash-warning" in page
