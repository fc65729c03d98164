"""Findings pages through the client: list, filters, detail workflow, query counts."""

from __future__ import annotations

import datetime as dt
import re

from audit.extensions import db
from audit.findings import services as fs
from audit.models import ActionKind, AuditKind, CostCategory, Finding, FindingStatus, Grade, Role, utcnow
from tests.findings.helpers import draft, to_status, world


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_list_and_detail_render_for_auditee(app, make, library, login, now):
    """An auditee sees the list and a finding's page with the response form."""
    w = world(make, library)
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.owner)
    page = client.get("/findings/")
    assert page.status_code == 200 and f.reference in page.text
    detail = client.get(f"/findings/{f.id}")
    assert detail.status_code == 200 and "Submit response" in detail.text
    assert "Accept response" not in detail.text


def test_response_through_the_form_and_refusal_message(app, make, library, login, now):
    """A blame-only root cause is refused on the form; a good one moves the finding on."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.owner)
    token = _csrf(client.get(f"/findings/{f.id}").text)
    due = (now.date() + dt.timedelta(days=10)).isoformat()
    data = {"csrf_token": token, "respond-containment": "Sorted stock",
            "respond-extent_check": "Only line 2", "respond-root_cause_method": "five_whys",
            "respond-why1": "Torque low", "respond-why2": "Tool not calibrated",
            "respond-root_cause": "Operator error", "respond-root_cause_category": "man",
            "respond-action1_kind": "corrective",
            "respond-action1_description": "Add tool to calibration plan",
            "respond-action1_due_on": due}
    bad = client.post(f"/findings/{f.id}/respond", data=data)
    assert bad.status_code == 400 and "not a root cause" in bad.text
    db.session.expire_all()
    assert f.status is FindingStatus.AWAITING_RESPONSE and f.actions == []
    data["respond-root_cause"] = "Calibration plan omitted new tool type"
    data["respond-root_cause_category"] = "measurement"
    ok = client.post(f"/findings/{f.id}/respond", data=data)
    assert ok.status_code == 302
    db.session.expire_all()
    assert f.status is FindingStatus.RESPONSE_SUBMITTED and len(f.actions) == 1


def test_other_auditee_cannot_respond_by_post(app, make, library, login, now):
    """An auditee who owns neither the finding nor the unit cannot read it, and a POST changes nothing."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.other_auditee)
    assert client.get(f"/findings/{f.id}").status_code == 404  # another unit's finding is not theirs to read
    response = client.post(f"/findings/{f.id}/respond", data={
        "csrf_token": _csrf(client.get("/findings/").text), "respond-containment": "x", "respond-extent_check": "y",
        "respond-root_cause_method": "five_whys", "respond-root_cause": "whatever cause here"})
    assert response.status_code == 404
    db.session.expire_all()
    assert f.status is FindingStatus.AWAITING_RESPONSE


def test_auditee_cannot_verify(app, make, library, login, now):
    """Verification routes need VERIFY_FINDING: an auditee gets 403."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MAJOR, now=now), "pending_verification", now=now)
    db.session.commit()
    client = login(w.owner)
    token = _csrf(client.get(f"/findings/{f.id}").text)
    assert client.post(f"/findings/{f.id}/verify", data={
        "csrf_token": token, "verify-effective": "yes", "verify-note": "x"}).status_code == 403


def test_verifier_closes_through_the_page(app, make, library, login, now):
    """An auditor verifies effectiveness of a major from its page; it closes read-only."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MAJOR, now=now), "pending_verification", now=now)
    db.session.commit()
    client = login(w.auditor)
    page = client.get(f"/findings/{f.id}")
    assert "Record verification" in page.text and "Close finding" not in page.text
    r = client.post(f"/findings/{f.id}/verify", data={
        "csrf_token": _csrf(page.text), "verify-effective": "yes", "verify-note": "3 lots OK"})
    assert r.status_code == 302
    page = client.get(f"/findings/{f.id}")
    assert "read-only" in page.text and "Raise repeat finding" in page.text


def test_filters(app, make, library, login):
    """Grade, status, clause and overdue filters narrow the list."""
    now = utcnow()  # pages judge "overdue" against the real clock
    w = world(make, library)
    major = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(major, actor=w.auditor, now=now - dt.timedelta(days=40))
    ofi = draft(w, Grade.OFI, now=now)
    other_clause = next(c for c in library["ISO 9001"].clauses if c.number == "7.5.3")
    minor = draft(w, Grade.MINOR, now=now, clause=other_clause)
    fs.issue_finding(minor, actor=w.auditor, now=now)
    db.session.commit()
    client = login(w.coordinator)

    def refs(query):
        text = client.get("/findings/?" + query).text
        return {r for r in (major.reference, ofi.reference, minor.reference)
                if f">{r}</a>" in text}

    assert refs("grade=major") == {major.reference}
    assert refs("status=draft") == {ofi.reference}
    assert refs("clause=8.5") == {major.reference, ofi.reference}
    assert refs("clause=7.5.3") == {minor.reference}
    assert refs("overdue=y") == {major.reference}
    assert refs(f"unit={w.unit.id}&status=open") == {major.reference, minor.reference}
    assert refs(f"owner={w.owner.id}") == {major.reference, ofi.reference, minor.reference}


def test_filter_offers_only_what_findings_refer_to(app, make, library, login):
    """Units, sites and suppliers without findings are not offered (the lists stay short in a
    large organisation); a chosen one without findings stays chosen."""
    now = utcnow()
    w = world(make, library)
    finding = draft(w, Grade.MINOR, now=now)
    idle_unit = make.unit(name="Idle unit")
    idle_supplier = make.supplier(name="Idle supplier")
    db.session.commit()
    client = login(w.coordinator)
    page = client.get("/findings/").text
    assert f'value="{w.unit.id}"' in page and "Idle unit" not in page and "Idle supplier" not in page
    chosen = client.get(f"/findings/?unit={idle_unit.id}&supplier={idle_supplier.id}").text
    assert f'<option selected value="{idle_unit.id}">Idle unit</option>' in chosen
    assert f">{finding.reference}</a>" in page and f">{finding.reference}</a>" not in chosen


def _seed_findings(make, library, now, n):
    """``n`` issued findings spread over two audits with different owners and units."""
    worlds = [world(make, library), world(make, library)]
    w = worlds[0]
    for i in range(n):
        w = worlds[i % 2]
        f = draft(w, [Grade.MAJOR, Grade.MINOR, Grade.OFI][i % 3], now=now)
        fs.issue_finding(f, actor=w.auditor, now=now)
        if i % 2:
            fs.add_cost(f, category=CostCategory.SCRAP, amount=10, currency="EUR",
                        incurred_on=now.date(), actor=w.auditor, now=now) \
                if f.grade.is_nonconformity else None
    db.session.commit()
    return worlds[0]


def _count_page(client, count_queries, url):
    db.session.expire_all()  # the test's own session must not pre-load rows for the page
    with count_queries() as q:
        assert client.get(url).status_code == 200
    return q.count


def test_list_and_dashboard_query_count_is_constant(app, make, library, login, now,
                                                    count_queries):
    """The list, the dashboard (whose overdue count and ageing read each finding's site date)
    and the review pack issue as many queries for 20 findings as for 2."""
    w = _seed_findings(make, library, now, 2)
    client = login(w.coordinator)
    small = {u: _count_page(client, count_queries, u)
             for u in ("/findings/", "/findings/dashboard", "/findings/dashboard?overdue=y",
                       "/findings/?status=open&clause=8", "/reports/management-review")}
    _seed_findings(make, library, now, 18)
    large = {u: _count_page(client, count_queries, u) for u in small}
    assert small == large


def test_detail_query_count_is_constant(app, make, library, login, now, count_queries):
    """A finding's page costs the same queries with 1 action and cost as with 10."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "action_in_progress", now=now)
    db.session.commit()
    client = login(w.owner)
    small = _count_page(client, count_queries, f"/findings/{f.id}")
    for i in range(9):
        fs.add_action(f, kind=ActionKind.CORRECTIVE, description=f"a{i}",
                      due_on=now.date() + dt.timedelta(days=5), actor=w.owner, now=now)
        fs.add_cost(f, category=CostCategory.REWORK, amount=5, currency="EUR",
                    incurred_on=now.date(), actor=w.owner, now=now)
    db.session.commit()
    assert _count_page(client, count_queries, f"/findings/{f.id}") == small


def test_policy_page_for_coordinator_only(app, make, library, login, now):
    """Coordinators edit deadline policy; auditors get 403."""
    w = world(make, library)
    db.session.commit()
    client = login(w.auditor)
    assert client.get("/findings/policy").status_code == 403
    client = login(w.coordinator)
    page = client.get("/findings/policy")
    assert page.status_code == 200
    r = client.post("/findings/policy", data={"csrf_token": _csrf(page.text), "kind": "internal",
                                              "grade": "minor", "response_days": "20",
                                              "closure_days": "70"})
    assert r.status_code == 302
    assert fs.deadline_days(AuditKind.INTERNAL, Grade.MINOR) == (20, 70)


def test_import_cb_findings_csv(app, make, library, login, now):
    """A CB's findings import from CSV and are issued; a bad row stores nothing."""
    w = world(make, library, kind=AuditKind.THIRD_PARTY)
    db.session.commit()
    client = login(w.coordinator)
    page = client.get("/findings/import")
    good = ("reference,grade,clauses,statement,evidence\n"
            "CB-1,Minor NC,8.5.1,Work instruction outdated,WI-12 rev 3 at station\n"
            "CB-2,Area of concern,,Consider KPI review,\n")
    bad = good + "CB-3,critical,8.5.1,x,y\n"
    r = client.post("/findings/import", data={"csrf_token": _csrf(page.text),
                                              "audit_id": w.audit.id, "text": bad})
    assert r.status_code == 400 and "Line 4" in r.text
    assert db.session.query(Finding).count() == 0
    r = client.post("/findings/import", data={"csrf_token": _csrf(page.text),
                                              "audit_id": w.audit.id, "text": good})
    assert r.status_code == 302
    found = {f.external_reference: f for f in db.session.query(Finding)}
    assert found["CB-1"].status is FindingStatus.AWAITING_RESPONSE
    # Deadlines count calendar days at the audit's site (Berlin here), not UTC: the test must
    # also pass between 23:00 and 24:00 UTC, when Berlin is already a day ahead.
    issued_locally = fs.local_date(found["CB-1"], found["CB-1"].issued_at)
    assert found["CB-1"].closure_due_on - issued_locally == dt.timedelta(days=90)
    assert found["CB-2"].grade is Grade.OBSERVATION


def test_import_cb_file_with_control_characters_is_refused(app, make, library, login, now):
    """An uploaded CSV (which the request edge does not read) with an ESC in a statement is refused
    naming the line, and nothing is stored."""
    import io

    w = world(make, library, kind=AuditKind.THIRD_PARTY)
    db.session.commit()
    client = login(w.coordinator)
    page = client.get("/findings/import")
    text = "reference,grade,clauses,statement,evidence\nCB-1,Minor NC,8.5.1,Bad \x1b[31m text,x\n"
    r = client.post("/findings/import", data={
        "csrf_token": _csrf(page.text), "audit_id": w.audit.id,
        "file": (io.BytesIO(text.encode()), "cb.csv")}, content_type="multipart/form-data")
    assert r.status_code == 400 and "line 2: control character U+001B" in r.text
    assert db.session.query(Finding).count() == 0


def test_home_panel_lists_my_open_findings(app, make, library, login, now):
    """The auditee's home page lists the response waiting for them."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    page = login(w.owner).get("/")
    assert "Waiting for me (1)" in page.text and "Response to write" in page.text
    assert f.reference in page.text


def test_audit_page_section_shows_unit_findings(app, make, library, now):
    """The audit-page section lists open findings of the audit's units from earlier audits."""
    from audit.findings.panels import audit_findings_section

    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    nxt = make.audit(site=w.audit.site)
    nxt.units = [w.unit]
    unrelated = make.audit()
    db.session.commit()
    section = audit_findings_section(nxt, w.auditor)
    assert [x.id for x in section["context"]["findings"]] == [f.id]
    assert audit_findings_section(unrelated, w.auditor)["context"]["findings"] == []


def test_audit_page_shows_findings_closed_since_the_units_previous_audit(app, make, library, now):
    """A unit audited every two years: the finding raised at its last audit and closed long ago
    is still on the next audit's page (not only those closed within the last 365 days)."""
    from audit.findings.panels import audit_findings_section

    w = world(make, library)
    w.audit.starts_at, w.audit.ends_at = now - dt.timedelta(days=730), now - dt.timedelta(days=729)
    f = draft(w, Grade.MINOR, now=now - dt.timedelta(days=730))
    f.status, f.closed_at = FindingStatus.CLOSED, now - dt.timedelta(days=600)
    nxt = make.audit(site=w.audit.site, starts_at=now + dt.timedelta(days=5),
                     ends_at=now + dt.timedelta(days=6))
    nxt.units = [w.unit]
    db.session.commit()
    assert [x.id for x in audit_findings_section(nxt, w.auditor)["context"]["findings"]] == [f.id]


def test_navigation_shows_findings_and_reports(app, make, login):
    """Coordinators see Findings and Reports in the navigation; suppliers see neither."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    page = login(coordinator).get("/").text
    assert ">Findings<" in page and ">Reports<" in page


def test_record_cb_finding_by_hand(app, make, library, login, now):
    """A coordinator records a CB finding on a third-party audit with a frozen report."""
    w = world(make, library, kind=AuditKind.THIRD_PARTY)
    w.audit.report_issued_at = now
    db.session.commit()
    client = login(w.coordinator)
    page = client.get(f"/findings/new?audit_id={w.audit.id}")
    assert page.status_code == 200
    data = {"csrf_token": _csrf(page.text), "audit_id": w.audit.id, "grade": "minor",
            "statement": "Records of competence incomplete", "evidence": "3 of 8 files",
            "clauses": "9.9.9", "external_reference": "CB-17"}
    bad = client.post("/findings/new", data=data)
    assert bad.status_code == 400 and "9.9.9" in bad.text
    data["clauses"] = "7.2"
    assert client.post("/findings/new", data=data).status_code == 302
    f = db.session.query(Finding).one()
    assert (f.external_reference, f.status, [c.number for c in f.clauses]) == (
        "CB-17", FindingStatus.DRAFT, ["7.2"])
    assert login(w.owner).get("/findings/new").status_code == 403
