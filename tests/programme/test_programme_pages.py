"""Programme pages: list, detail, calendar (month/year) with constant query counts, home panels."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.models import AuditTeamMember, Programme, ProgrammeStatus, QualificationLevel, Role, TeamRole


@pytest.fixture
def coordinator(make):
    return make.user(roles=(Role.COORDINATOR, Role.AUDITOR), name="Cora Coordinator")


@pytest.fixture
def programme(app):
    p = Programme(name="Programme 2026", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31),
                  status=ProgrammeStatus.ACTIVE)
    db.session.add(p)
    db.session.commit()
    return p


def add_audits(make, programme, count, start_day=1):
    std = make.standard()
    site = make.site()
    for i in range(count):
        person = make.user()
        make.qualification(person, std, level=QualificationLevel.LEAD)
        day = 1 + (start_day + i) % 27
        a = make.audit(programme=programme, site=site, planned_date=dt.date(2026, 3, day),
                       starts_at=dt.datetime(2026, 3, day, 8, tzinfo=dt.UTC),
                       ends_at=dt.datetime(2026, 3, day, 16, tzinfo=dt.UTC))
        a.standards.append(std)
        a.team.append(AuditTeamMember(user=person, role=TeamRole.LEAD))
    db.session.commit()


@pytest.mark.parametrize("url", ["/programme/{id}", "/programme/calendar?year=2026&month=3",
                                 "/programme/calendar?view=year&year=2026"])
def test_programme_pages_constant_queries(make, login, coordinator, programme, count_queries, url):
    """Programme detail and month/year calendar cost the same queries for 2 and 20 audits."""
    client = login(coordinator)
    url = url.format(id=programme.id)
    add_audits(make, programme, 2)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    add_audits(make, programme, 18, start_day=5)
    with count_queries() as many:
        page = client.get(url)
        assert page.status_code == 200
    assert few.count == many.count
    assert page.get_data(as_text=True).count("/audits/") >= 20


def test_programme_page_rows_name_the_lead_only(make, login, coordinator, programme):
    """Each row names its lead auditor (not another team member), or a dash without one."""
    lead, other = make.user(name="Lena Lead"), make.user(name="Otto Other")
    make.audit(programme=programme, site=make.site(), title="Led", planned_date=dt.date(2026, 4, 1),
               team=[(other, TeamRole.AUDITOR), (lead, TeamRole.LEAD)])
    make.audit(programme=programme, site=make.site(), title="Unled", planned_date=dt.date(2026, 4, 2),
               team=[(other, TeamRole.AUDITOR)])
    db.session.commit()
    page = login(coordinator).get(f"/programme/{programme.id}?page=1").get_data(as_text=True)
    led_row = page[page.index("Led</td>"):page.index("Unled</td>")]
    unled_row = page[page.index("Unled</td>"):]
    assert "Lena Lead" in led_row and "Otto Other" not in led_row
    assert "<td>—</td>" in unled_row[:unled_row.index("</tr>")] and "Otto Other" not in unled_row


def _dated_audits(make, programme, first: dt.date, count: int) -> list:
    """``count`` dated audits of ``programme``, one a day from ``first`` (no team: quick to make)."""
    site = make.site()
    audits = []
    for i in range(count):
        day = first + dt.timedelta(days=i)
        audits.append(make.audit(programme=programme, site=site, title=f"Day {i:03d}", planned_date=day,
                                 starts_at=dt.datetime.combine(day, dt.time(8), dt.UTC),
                                 ends_at=dt.datetime.combine(day, dt.time(16), dt.UTC)))
    db.session.commit()
    return audits


def test_programme_page_pages_audits_and_opens_at_today(make, login, coordinator, programme, monkeypatch):
    """120 audits: 50 a page in date order; without ``page`` the page holding today opens."""
    audits = _dated_audits(make, programme, dt.date(2026, 1, 1), 120)
    today = dt.date(2026, 1, 1) + dt.timedelta(days=75)  # the 76th audit is today's
    monkeypatch.setattr("audit.programme.views.utcnow",
                        lambda: dt.datetime.combine(today, dt.time(12), dt.UTC))
    client = login(coordinator)
    page = client.get(f"/programme/{programme.id}").get_data(as_text=True)
    assert "Audits (120)" in page and "Page 2 of 3" in page and "Planned: 120" in page
    assert audits[75].reference in page and audits[50].reference in page and audits[99].reference in page
    assert audits[49].reference not in page and audits[100].reference not in page
    assert page.index(audits[50].reference) < page.index(audits[99].reference)
    first = client.get(f"/programme/{programme.id}?page=1").get_data(as_text=True)
    assert audits[0].reference in first and audits[50].reference not in first and "Later" in first
    # Out-of-range pages clamp to the last page instead of showing an empty list.
    last = client.get(f"/programme/{programme.id}?page=99").get_data(as_text=True)
    assert "Page 3 of 3" in last and audits[119].reference in last


def test_programme_page_query_count_flat_across_pages(make, login, coordinator, programme, count_queries):
    """Programme page queries do not grow with audits or rules beyond one page."""
    from audit.models import ProgrammeRule, RuleKind

    client = login(coordinator)
    _dated_audits(make, programme, dt.date(2026, 2, 1), 3)
    with count_queries() as few:
        assert client.get(f"/programme/{programme.id}").status_code == 200
    _dated_audits(make, programme, dt.date(2026, 3, 1), 150)
    for i in range(20):
        db.session.add(ProgrammeRule(programme=programme, kind=RuleKind.RRULE, title=f"Rule {i}",
                                     rrule="FREQ=YEARLY"))
    db.session.commit()
    with count_queries() as many:
        page = client.get(f"/programme/{programme.id}").get_data(as_text=True)
    assert "and 8 more" in page
    assert many.count <= few.count + 1  # + the rule count, asked only when rules are cut off


def test_calendar_filters_by_auditor(make, login, coordinator, programme):
    """The calendar filter by auditor shows only that person's audits."""
    add_audits(make, programme, 3)
    from audit.models import Audit

    audits = db.session.query(Audit).order_by(Audit.id).all()
    lead = audits[0].lead
    page = login(coordinator).get(f"/programme/calendar?year=2026&month=3&auditor={lead.id}").get_data(as_text=True)
    assert audits[0].reference in page
    assert audits[1].reference not in page


def test_calendar_opens_at_the_viewers_own_date(make, login, monkeypatch):
    """At 11:30 UTC on New Year's Eve it is already New Year's Day in Auckland: a coordinator
    there opens January 2027 with the 1st marked today; one in Chicago opens December 2026."""
    monkeypatch.setattr("audit.programme.views.utcnow",
                        lambda: dt.datetime(2026, 12, 31, 11, 30, tzinfo=dt.UTC))
    auckland = make.user(roles=(Role.COORDINATOR,), timezone="Pacific/Auckland")
    chicago = make.user(roles=(Role.COORDINATOR,), timezone="America/Chicago")
    db.session.commit()
    page = login(auckland).get("/programme/calendar").get_data(as_text=True)
    assert "<h1>January 2027</h1>" in page
    assert '<td class=" today"><div class="cal-day">1</div>' in page
    page = login(chicago).get("/programme/calendar").get_data(as_text=True)
    assert "<h1>December 2026</h1>" in page and '<td class=" today"><div class="cal-day">31</div>' in page


def test_programme_create_and_approve(login, coordinator, make):
    """A coordinator prepares a programme but may not approve it; top management approves it
    (objectives needed); a scope change marks it "changed since approval" until approved again,
    and both approvals are in the trail with their versions."""
    from audit.models import Role, TrailEntry

    client = login(coordinator)
    response = client.post("/programme/new", data={
        "name": "Internal audits 2027", "period_start": "2027-01-01", "period_end": "2027-12-31",
        "manager_id": coordinator.id, "objectives": "", "scope": "", "risks": "", "audit_client": "CEO"})
    assert response.status_code == 302
    programme = db.session.query(Programme).one()
    assert programme.prepared_by_id == coordinator.id
    assert client.post(f"/programme/{programme.id}/approve").status_code == 403
    page = client.post(f"/programme/{programme.id}/status", data={"status": "approved"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Only the audit client (top management) approves a programme." in page
    ceo = make.user(roles=(Role.VIEWER,), name="Dr. Vogel")
    client = login(ceo)
    page = client.post(f"/programme/{programme.id}/approve", follow_redirects=True).get_data(as_text=True)
    assert "State the programme&#39;s objectives before approval." in page
    programme.objectives = "Cover all clauses"
    db.session.commit()
    client.post(f"/programme/{programme.id}/approve")
    db.session.refresh(programme)
    assert programme.status is ProgrammeStatus.APPROVED and programme.approved_by_id == ceo.id
    client = login(coordinator)
    client.post(f"/programme/{programme.id}/edit", data={
        "name": "Internal audits 2027", "period_start": "2027-01-01", "period_end": "2027-12-31",
        "manager_id": coordinator.id, "objectives": "Cover all clauses", "scope": "Berlin only", "risks": "",
        "audit_client": "CEO"})
    page = client.get(f"/programme/{programme.id}").get_data(as_text=True)
    assert 'id="changed-since-approval"' in page
    client = login(ceo)
    page = client.post(f"/programme/{programme.id}/approve", follow_redirects=True).get_data(as_text=True)
    assert 'id="changed-since-approval"' not in page
    approvals = db.session.query(TrailEntry).filter_by(action="approve").order_by(TrailEntry.id).all()
    assert [e.changes["approved_version"][1] for e in approvals] == [1, 2]


def test_the_preparer_cannot_approve_even_with_the_right(app, make, now):
    """An administrator who prepared the programme may not approve it alone."""
    from audit.core.errors import NotAllowed
    from audit.models import Role
    from audit.programme.services import approve_programme, create_programme

    admin = make.user(roles=(Role.ADMIN,))
    programme = create_programme({"name": "P", "period_start": now.date(), "period_end": now.date(),
                                  "objectives": "x"}, actor=admin, now=now)
    with pytest.raises(NotAllowed, match="You prepared this programme"):
        approve_programme(programme, actor=admin, now=now)


def test_home_panels(make, login, coordinator, programme):
    """The home page shows "My next audits" to a team member and programme health to a coordinator."""
    std = make.standard()
    make.qualification(coordinator, std, level=QualificationLevel.LEAD)
    now = dt.datetime.now(dt.UTC)
    a = make.audit(title="Tomorrow's audit", programme=programme, starts_at=now + dt.timedelta(days=1),
                   ends_at=now + dt.timedelta(days=1, hours=8))
    a.team.append(AuditTeamMember(user=coordinator, role=TeamRole.LEAD))
    db.session.commit()
    page = login(coordinator).get("/").get_data(as_text=True)
    assert "My next audits" in page and "Tomorrow&#39;s audit" in page
    assert "Programme health" in page


def test_programme_page_offers_exactly_what_the_workflow_grants(app, make, login, now):
    """For each status and person, the approve button and the status choices are the granted
    actions; a refused action posted anyway answers 403/409 with the reason and changes nothing."""
    import html
    import re

    from audit.models import Role
    from audit.programme.services import create_programme
    from audit.programme.workflow import PROGRAMME

    preparer = make.user(roles=(Role.COORDINATOR,))
    people = {"preparer": preparer, "coordinator": make.user(roles=(Role.COORDINATOR,)),
              "ceo": make.user(roles=(Role.VIEWER,)), "auditor": make.user(roles=(Role.AUDITOR,))}
    programmes = []
    for status in ProgrammeStatus:
        p = create_programme({"name": f"P {status.value}", "period_start": now.date(), "period_end": now.date(),
                              "objectives": "Cover every clause", "manager_id": preparer.id}, actor=preparer, now=now)
        p.status = status
        programmes.append(p)
    changed = create_programme({"name": "Changed", "period_start": now.date(), "period_end": now.date(),
                                "objectives": "x"}, actor=preparer, now=now)
    changed.status, changed.approved_version, changed.content_version = ProgrammeStatus.ACTIVE, 1, 2
    programmes.append(changed)
    db.session.commit()
    checked = 0
    for who, user in people.items():
        client = login(user)
        for p in programmes:
            page = client.get(f"/programme/{p.id}").get_data(as_text=True)
            select = re.search(r'<select[^>]*name="status"[^>]*>(.*?)</select>', page, re.S)
            offered = set(re.findall(r'value="([^"]+)"', select.group(1))) if select else set()
            if f"/programme/{p.id}/approve" in page:
                offered.add("approve")
            assert offered == PROGRAMME.allowed(p, user), (who, p.name)
            for d in PROGRAMME.allowed_actions(p, user):
                if d.allowed:
                    continue
                url = f"/programme/{p.id}/approve" if d.action == "approve" else f"/programme/{p.id}/status"
                response = client.post(url, data={"status": d.action})
                route_permission = Permission.APPROVE_PROGRAMME if d.action == "approve" else Permission.MANAGE_PROGRAMME
                if user.can(route_permission):
                    assert response.status_code == d.status and d.reason in html.unescape(response.text), (who, d)
                else:
                    assert response.status_code == 403
                db.session.expire_all()
                checked += 1
    assert checked > 30
    assert PROGRAMME.decide(changed, people["ceo"], "approve").allowed
    assert PROGRAMME.decide(changed, people["preparer"], "approve").status == 403


def _session_zone_far_east():
    """On PostgreSQL, put this transaction's session in Auckland (UTC+13 in December): a day
    read from a timestamp must still be its UTC day. SQLite has no session zone."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))


def test_an_audits_day_is_its_utc_day_whatever_the_session_zone(app, make, programme):
    """The programme page's sort day reads the UTC day of a stored time (``utc_date``), not the
    database session's local day: an audit that ended at 23:30 UTC on 1 December ended on
    1 December, though it is already the 2nd in Auckland."""
    from sqlalchemy import select

    from audit.models import Audit, AuditStatus
    from audit.models.audit import audit_day
    from audit.programme import queries
    from audit.programme.panels import programme_health

    ended = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    audit = make.audit(programme=programme, status=AuditStatus.SCHEDULED, planned_date=dt.date(2026, 11, 30),
                       starts_at=ended - dt.timedelta(hours=8), ends_at=ended)
    db.session.flush()
    _session_zone_far_east()
    assert db.session.scalar(select(audit_day()).where(Audit.id == audit.id)) == dt.date(2026, 12, 1)
    assert queries.audits_before(programme.id, dt.date(2026, 12, 2)) == 1
    assert queries.audits_before(programme.id, dt.date(2026, 12, 1)) == 0
    # The health panel's "overdue" compares the end instant itself, as the overdue sweep does.
    assert programme_health(now=ended + dt.timedelta(minutes=1))["overdue"] == 1
    assert programme_health(now=ended - dt.timedelta(minutes=1))["overdue"] == 0
