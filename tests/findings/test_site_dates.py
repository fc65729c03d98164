""""Overdue" on the findings register (list, overdue filter, CSV export), a finding's page and
the supplier's SCAR list is judged on the date at the audited site, the date the deadline sweep
and "Waiting for me" judge it on (``deadlines.local_date``). Near midnight at the site, UTC's
date says otherwise: Chicago is still on the due day when UTC is already past it, Shanghai is
already past it while UTC is still on it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.findings.queries import overdue_clause
from audit.findings.reminders import sweep_finding_deadlines
from audit.models import ApprovalStatus, AuditKind, Finding, Grade, Notification, Role
from audit.models.types import latest_site_date
from tests.findings.helpers import draft, world

#: (site zone, time of day in UTC, days after the due date, overdue at the site?)
#: Chicago 19:00 on the due day is 01:00 UTC the next day: UTC calls it overdue, the site does not.
#: Shanghai 00:30 the day after is 16:30 UTC on the due day: the site calls it overdue, UTC does not.
NEAR_MIDNIGHT = [
    pytest.param("America/Chicago", dt.time(1, 0), 1, False, id="chicago-still-due-today"),
    pytest.param("Asia/Shanghai", dt.time(16, 30), 0, True, id="shanghai-already-overdue"),
]


def _issued_at_site(make, library, zone: str, now: dt.datetime):
    """An issued minor NC of an audit at a site in ``zone``, awaiting its owner's response."""
    w = world(make, library)
    w.audit.site.timezone = zone
    finding = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(finding, actor=w.auditor, now=now)
    db.session.commit()
    return w, finding


def _dashboard_overdue(client) -> int:
    """The dashboard's "Overdue" figure."""
    page = client.get("/findings/dashboard").text
    return int(re.search(r'<h2>Overdue</h2><p class="kpi[^"]*">(\d+)</p>', page).group(1))


def _pack_overdue(client) -> list[str]:
    """The references the management review pack lists as overdue (its section 4)."""
    page = client.get("/reports/management-review").text
    section = page.split('id="overdue-count"')[1].split("</table>")[0]
    return re.findall(r"<tr><td>([^<]+)</td>", section)


def _register_row(page: str, reference: str) -> str:
    return re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{reference}</a>.*?</tr>", page, re.S).group(0)


@pytest.mark.parametrize(("zone", "at", "days_after", "overdue"), NEAR_MIDNIGHT)
def test_register_filter_export_and_page_use_the_sites_date_as_the_sweep_does(
        app, make, library, login, now, clock, zone, at, days_after, overdue):
    w, finding = _issued_at_site(make, library, zone, now)
    due = finding.current_due_on()
    clock.now = dt.datetime.combine(due + dt.timedelta(days=days_after), at, tzinfo=dt.UTC)
    client = login(w.coordinator)

    row = _register_row(client.get("/findings/").text, finding.reference)
    assert ("overdue</span>" in row) is overdue, row
    assert (f">{finding.reference}</a>" in client.get("/findings/?overdue=y").text) is overdue
    [header, exported] = list(csv.reader(io.StringIO(client.get("/findings/export.csv").data.decode("utf-8-sig"))))
    assert exported[header.index("Overdue")] == ("yes" if overdue else "")
    filtered = list(csv.reader(io.StringIO(
        client.get("/findings/export.csv?overdue=y").data.decode("utf-8-sig"))))
    assert len(filtered) == (2 if overdue else 1)
    assert ("Overdue since" in client.get(f"/findings/{finding.id}").text) is overdue
    assert _dashboard_overdue(client) == (1 if overdue else 0)
    assert _pack_overdue(client) == ([finding.reference] if overdue else [])
    # The sweep at the same instant: its "overdue" notice goes out exactly when the pages say so.
    assert sweep_finding_deadlines(clock.now)["overdue"] == (1 if overdue else 0)


@pytest.mark.parametrize(("zone", "at", "days_after", "overdue"), NEAR_MIDNIGHT)
def test_supplier_scar_list_uses_the_sites_date(app, make, library, login, now, clock,
                                                zone, at, days_after, overdue):
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    w.audit.site.timezone = zone
    scar = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    db.session.commit()
    assert scar.is_scar
    due = scar.current_due_on()
    clock.now = dt.datetime.combine(due + dt.timedelta(days=days_after), at, tzinfo=dt.UTC)
    listing = login(contact).get("/scar/").text
    assert bool(re.search(rf"{due:%d %b %Y}\s*<span class=\"pill bad\">overdue</span>", listing)) is overdue
    assert sweep_finding_deadlines(clock.now)["overdue"] == (1 if overdue else 0)


def _statements(client, count_queries, urls) -> dict[str, int]:
    counts = {}
    for url in urls:
        db.session.expire_all()  # the test's own session must not pre-load rows for the page
        with count_queries() as q:
            assert client.get(url).status_code == 200
        counts[url] = q.count
    return counts


def test_overdue_lists_cost_the_same_statements_for_more_sites(app, make, library, login, now,
                                                               clock, count_queries):
    """Each finding's zone comes with the list's own query: the register, its overdue filter and
    export, and the supplier's SCAR list cost as many statements for findings at six sites in
    three zones as at two."""
    zones = ["America/Chicago", "Asia/Shanghai", "Europe/Berlin"]
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")

    def findings_at_sites(count):
        for i in range(count):
            for kind, at_supplier in ((AuditKind.INTERNAL, None), (AuditKind.SECOND_PARTY, supplier)):
                w = world(make, library, kind=kind, supplier=at_supplier)
                w.audit.site.timezone = zones[i % 3]
                fs.issue_finding(draft(w, Grade.MINOR, now=now), actor=w.auditor, now=now)
        db.session.commit()
        return w

    coordinator = findings_at_sites(2).coordinator
    clock.now = now + dt.timedelta(days=200)  # every deadline has passed by now
    register = ("/findings/", "/findings/?overdue=y", "/findings/export.csv?overdue=y")
    few = (_statements(login(coordinator), count_queries, register),
           _statements(login(contact), count_queries, ["/scar/"]))
    findings_at_sites(4)
    assert (_statements(login(coordinator), count_queries, register),
            _statements(login(contact), count_queries, ["/scar/"])) == few
    overdue = '<span class="pill bad">overdue</span>'
    assert login(coordinator).get("/findings/?overdue=y").text.count(overdue) == 12
    assert login(contact).get("/scar/").text.count(overdue) == 6


def test_every_overdue_list_sees_a_scar_stage_and_an_ownerless_response(app, make, library, login,
                                                                         now, clock):
    """The deadline that matters now, whatever it is, makes a finding overdue on every list: a
    SCAR's root-cause stage (due 14 days after issue, long before its action plan) and the
    response date of an issued NC nobody has taken on yet (long before its closure date). The
    register's overdue filter, the dashboard and the review pack agree with the sweep."""
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    scar = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(scar, actor=w.auditor, now=now)
    fs.acknowledge_scar(scar, actor=contact, now=now)
    fs.submit_scar_containment(scar, "Blocked lots 88-91", actor=contact, now=now)
    internal = world(make, library)
    earlier = now - dt.timedelta(days=15)
    ownerless = draft(internal, Grade.MINOR, now=earlier)
    ownerless.owner = None
    fs.issue_finding(ownerless, actor=internal.auditor, now=earlier)
    db.session.commit()
    # SQL keeps what may be overdue, no more: a SCAR at its root-cause stage five days after issue
    # (containment recorded) is not selected, though its containment date has passed.
    early = latest_site_date(now + dt.timedelta(days=5))
    assert scar.id not in db.session.scalars(select(Finding.id).where(overdue_clause(early))).all()
    clock.now = now + dt.timedelta(days=20)
    today = clock.now.date()
    assert scar.id in db.session.scalars(select(Finding.id).where(overdue_clause(latest_site_date(clock.now)))).all()
    assert scar.current_deadline()[0] == "root_cause" and scar.response_due_on >= today
    assert ownerless.owner is None and ownerless.current_deadline()[0] == "response"
    assert ownerless.response_due_on < today < ownerless.closure_due_on

    client = login(w.coordinator)
    listed = client.get("/findings/?overdue=y").text
    assert f">{scar.reference}</a>" in listed and f">{ownerless.reference}</a>" in listed
    assert _dashboard_overdue(client) == 2
    assert re.search(r'<p class="kpi[^"]*">(\d+)</p>',
                            client.get("/findings/dashboard?overdue=y").text.split("<h2>Overdue</h2>")[1]).group(1) == "2"
    assert sorted(_pack_overdue(client)) == sorted([scar.reference, ownerless.reference])
    sweep_finding_deadlines(clock.now)
    told = " ".join(db.session.scalars(select(Notification.title).where(Notification.kind == "finding_overdue")))
    assert scar.reference in told and ownerless.reference in told
