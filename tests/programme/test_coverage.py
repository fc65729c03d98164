"""Coverage matrix and workload: last audited date/result per clause and unit, gaps ahead."""

from __future__ import annotations

import datetime as dt

from audit.extensions import db
from audit.models import AuditStatus, Finding, Grade, Role
from audit.programme.coverage import coverage_matrix, workload

TODAY = dt.date(2026, 3, 10)


def test_coverage_cells(app, make, library):
    """A closed audit with a minor NC on 8.5 marks the unit's clause 8.5 with its date and result;
    clauses never audited are gaps; a planned audit before the due date shows as planned."""
    std = library["ISO 9001"]
    unit, other = make.unit(name="Machining"), make.unit(name="Assembly")
    unit.standards.append(std)
    other.standards.append(std)
    clause8 = next(c for c in std.clauses if c.number == "8")
    clause85 = next(c for c in std.clauses if c.number == "8.5")
    past = make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=dt.date(2025, 4, 1),
                      starts_at=dt.datetime(2025, 4, 1, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2025, 4, 1, 16, tzinfo=dt.UTC))
    past.clauses.append(clause85)
    finding = Finding(reference="F-1", audit_id=past.id, grade=Grade.MINOR, statement="x", unit_id=unit.id,
                      raised_at=dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC))
    finding.clauses.append(clause85)
    db.session.add(finding)
    make.audit(units=[other], standards=[std], planned_date=dt.date(2026, 3, 20))
    db.session.flush()
    m = coverage_matrix(today=TODAY, standard_id=std.id)
    assert [c.number for c in m["clauses"]][:2] == ["4", "4.1"]
    assert m["cells"][(clause8.id, unit.id)].last is None  # only 8.5 was in scope
    cell = m["cells"][(clause85.id, unit.id)]
    assert cell.last == dt.date(2025, 4, 1) and cell.result == "Minor NC"
    assert cell.due == dt.date(2026, 4, 1) and cell.state == "due"  # due in 3 weeks, nothing planned
    clause4 = m["clauses"][0]
    assert m["cells"][(clause4.id, unit.id)].state == "gap"  # never audited against clause 4
    assert m["cells"][(clause4.id, other.id)].state == "planned"


def test_coverage_page_constant_queries(app, make, library, login, count_queries):
    """The coverage page costs the same queries for 2 and for 20 audited units."""
    std = library["ISO 9001"]
    coordinator = make.user(roles=(Role.COORDINATOR,))
    client = login(coordinator)

    def add(n):
        for _ in range(n):
            unit = make.unit()
            unit.standards.append(std)
            make.audit(units=[unit], standards=[std], status=AuditStatus.CLOSED, planned_date=dt.date(2025, 9, 1),
                       starts_at=dt.datetime(2025, 9, 1, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2025, 9, 1, 16, tzinfo=dt.UTC))
        db.session.commit()

    add(2)
    with count_queries() as few:
        assert client.get(f"/programme/coverage?standard={std.id}").status_code == 200
    add(18)
    with count_queries() as many:
        assert client.get(f"/programme/coverage?standard={std.id}").status_code == 200
    assert few.count == many.count


def test_workload_counts_audit_days(app, make):
    """Lead and auditor days count per month; experts and observers do not."""
    from audit.models import TeamRole

    lead, expert = make.user(), make.user()
    make.audit(planned_date=dt.date(2026, 4, 7), planned_days=2, team=[(lead, TeamRole.LEAD), (expert, TeamRole.TECHNICAL_EXPERT)])
    data = workload(first=dt.date(2026, 3, 1), last=dt.date(2026, 6, 30))
    assert data["days"][lead.id][dt.date(2026, 4, 1)] == 2 and data["leads"][lead.id] == 1
    assert expert.id not in data["days"]


def test_workload_page_highlights_months_over_the_configured_limit(app, make, login, monkeypatch):
    """A month with more audit-days than WORKLOAD_DAYS_PER_MONTH is highlighted; at the limit it is not."""
    from audit.models import TeamRole

    monkeypatch.setattr("audit.programme.views.utcnow", lambda: dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC))
    auditor = make.user(roles=(Role.AUDITOR,))
    make.audit(planned_date=dt.date(2026, 4, 7), planned_days=3, team=[(auditor, TeamRole.LEAD)])
    client = login(make.user(roles=(Role.COORDINATOR,)))
    app.config["WORKLOAD_DAYS_PER_MONTH"] = 2
    page = client.get("/programme/workload").get_data(as_text=True)
    assert 'class="cov-gap">3<' in page and "more than 2 days" in page
    app.config["WORKLOAD_DAYS_PER_MONTH"] = 3
    page = client.get("/programme/workload").get_data(as_text=True)
    assert 'class="cov-ok">3<' in page and "cov-gap" not in page


def test_coverage_judges_each_unit_by_its_own_interval(app, make, library, login):
    """The page opens on the standard most units apply (ISO 9001, not ISO 14001 by code); a
    low-risk unit audited 14 months ago is fine (24-month interval), a never-audited unit with an
    audit in five weeks is planned, not a gap; dates carry their year."""
    q, e = library["ISO 9001"], library["ISO 14001"]
    low = make.unit(name="Archive", importance=1, change_level=0, maturity_risk=0)  # score 1 → 24 months
    new = make.unit(name="New line", importance=3, change_level=2, maturity_risk=1)  # score 6 → 6 months
    other = make.unit(name="Garden")
    for unit in (low, new):
        unit.standards.append(q)
    other.standards.extend([q, e])
    make.audit(units=[low], standards=[q], status=AuditStatus.CLOSED, planned_date=dt.date(2025, 1, 14),
               starts_at=dt.datetime(2025, 1, 14, 8, tzinfo=dt.UTC), ends_at=dt.datetime(2025, 1, 14, 16, tzinfo=dt.UTC))
    make.audit(units=[new], standards=[q], planned_date=TODAY + dt.timedelta(days=35))
    db.session.flush()
    m = coverage_matrix(today=TODAY)
    assert m["standard"].code == "ISO 9001" and m["intervals"][low.id] == 24 and m["intervals"][new.id] == 6
    clause4 = m["clauses"][0]
    assert m["cells"][(clause4.id, low.id)].state == "ok"
    assert m["cells"][(clause4.id, new.id)].state == "planned"
    client = login(make.user(roles=(Role.COORDINATOR,)))
    page = client.get("/programme/coverage").get_data(as_text=True)
    assert "14 Jan 2025" in page  # the page runs on the real clock: the past audit's date, with its year
    assert "every 24 months" in page and 'class="table-wrap matrix-wrap"' in page


def test_workload_page_shows_a_whole_year(app, make, login):
    """?year=2027 shows January to December 2027 (November and December are not cut off)."""
    client = login(make.user(roles=(Role.COORDINATOR,)))
    page = client.get("/programme/workload?year=2027").get_data(as_text=True)
    assert "Jan 2027" in page and "Dec 2027" in page and "Jan 2028" not in page and "Dec 2026" not in page
