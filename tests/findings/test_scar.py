"""SCARs: the supplier's stages, probation rules, and isolation of supplier contacts."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings import services as fs
from audit.models import (
    ActionKind,
    ApprovalStatus,
    AuditKind,
    FindingStatus,
    Grade,
    Role,
    RootCauseMethod,
    ScarStage,
    TeamRole,
    TrailEntry,
    utcnow,
)
from tests.findings.helpers import draft, world


def _scar_world(make, library, now, grade=Grade.MINOR):
    supplier = make.supplier(name="Precision Castings Ltd", approval_status=ApprovalStatus.APPROVED)
    rival = make.supplier(name="Rival Foundry", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    rival_contact = make.user(roles=(Role.SUPPLIER,), supplier_id=rival.id)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    return w, supplier, rival, contact, rival_contact, f


def _walk_supplier_stages(f, contact, now):
    fs.acknowledge_scar(f, actor=contact, now=now)
    fs.submit_scar_containment(f, "Blocked lots 88-91", actor=contact, now=now)
    fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                              eight_d={"d1": "Melt shop team", "d2": "Porosity", "d4": "Degassing"}, root_cause_category="method",
                              root_cause="Degassing time not controlled in the melt shop",
                              extent_check="All furnaces checked", actor=contact, now=now)
    fs.submit_scar_plan(f, [{"kind": ActionKind.CORRECTIVE, "description": "Timer interlock",
                             "due_on": now.date() + dt.timedelta(days=20)}],
                        actor=contact, now=now)


def test_scar_stages_in_order(app, make, library, now):
    """Acknowledge → containment → root cause → plan → accepted → implemented → verified."""
    w, supplier, _r, contact, _rc, f = _scar_world(make, library, now)
    assert f.is_scar and f.scar_stage is ScarStage.ISSUED
    with pytest.raises(DomainError):
        fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                                  root_cause="x y z", extent_check="e", actor=contact, now=now)
    _walk_supplier_stages(f, contact, now)
    assert (f.status, f.scar_stage) == (FindingStatus.RESPONSE_SUBMITTED, ScarStage.ACTION_PLAN)
    fs.accept_response(f, actor=w.auditor, now=now)
    fs.complete_action(f.actions[0], "Interlock fitted", actor=contact, now=now)
    assert f.scar_stage is ScarStage.IMPLEMENTED
    fs.verify_effectiveness(f, effective=True, note="20 lots clean", actor=w.auditor, now=now)
    assert (f.status, f.scar_stage) == (FindingStatus.CLOSED, ScarStage.CLOSED)


def test_scar_stage_deadlines(app, make, library, now):
    """Containment 24 h, root cause 14 days, plan 30 days after issue."""
    *_, f = _scar_world(make, library, now)
    due = dict(fs.scar_stage_due(f))
    today = now.date()
    assert due["Containment"] == today + dt.timedelta(days=1)
    assert due["Root cause"] == today + dt.timedelta(days=14)
    assert due["Action plan"] == today + dt.timedelta(days=30) == f.response_due_on
    assert due["Implementation"] == f.closure_due_on >= f.response_due_on


def test_other_suppliers_and_auditees_cannot_answer(app, make, library, now):
    """Only the supplier's own contacts answer its SCAR; the unit owner does not."""
    w, _s, _r, _c, rival_contact, f = _scar_world(make, library, now)
    for intruder in (rival_contact, w.owner, w.auditor):
        with pytest.raises(NotAllowed):
            fs.acknowledge_scar(f, actor=intruder, now=now)


def test_blame_root_cause_refused_for_suppliers_too(app, make, library, now):
    """A supplier's 'operator error' is refused like anyone's."""
    _w, _s, _r, contact, _rc, f = _scar_world(make, library, now)
    fs.acknowledge_scar(f, actor=contact, now=now)
    fs.submit_scar_containment(f, "Blocked", actor=contact, now=now)
    with pytest.raises(DomainError, match="root cause"):
        fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                                  eight_d={"d1": "Team", "d2": "Porosity", "d4": "Operator error"},
                                  root_cause_category="man",
                                  root_cause="Operator error, retrained", extent_check="none",
                                  actor=contact, now=now)


# --- probation -----------------------------------------------------------------------------

def test_open_major_puts_supplier_on_probation_and_closure_recovers(app, make, library, now):
    """A major SCAR → on probation (trailed); verified closure → approved again."""
    w, supplier, _r, contact, _rc, f = _scar_world(make, library, now, grade=Grade.MAJOR)
    assert supplier.approval_status is ApprovalStatus.ON_PROBATION
    _walk_supplier_stages(f, contact, now)
    fs.accept_response(f, actor=w.auditor, now=now)
    fs.complete_action(f.actions[0], "done", actor=contact, now=now)
    fs.verify_effectiveness(f, effective=True, note="ok", actor=w.auditor, now=now)
    assert supplier.approval_status is ApprovalStatus.APPROVED
    entries = db.session.query(TrailEntry).filter_by(object_type="Supplier",
                                                     object_id=supplier.id).all()
    assert [e.changes["approval_status"][1] for e in entries] == ["on_probation", "approved"]


def test_rejected_scar_puts_supplier_on_probation(app, make, library, now):
    """A rejected SCAR response puts the supplier on probation until it is accepted."""
    w, supplier, _r, contact, _rc, f = _scar_world(make, library, now)
    _walk_supplier_stages(f, contact, now)
    fs.reject_response(f, "Root cause too shallow", actor=w.auditor, now=now)
    assert supplier.approval_status is ApprovalStatus.ON_PROBATION
    assert f.scar_stage is ScarStage.CONTAINMENT
    fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                              eight_d={"d1": "Melt shop team", "d2": "Porosity", "d4": "Degassing"}, root_cause_category="method",
                              root_cause="Degassing timer had no alarm after the retrofit",
                              extent_check="All furnaces", actor=contact, now=now)
    fs.submit_scar_plan(f, [{"kind": ActionKind.CORRECTIVE, "description": "Alarm",
                             "due_on": now.date() + dt.timedelta(days=10)}],
                        actor=contact, now=now)
    fs.accept_response(f, actor=w.auditor, now=now)
    assert supplier.approval_status is ApprovalStatus.APPROVED


def test_overdue_scar_puts_supplier_on_probation_via_sweep(app, make, library, now):
    """The deadline sweep puts a supplier with an overdue SCAR on probation."""
    from audit.findings.reminders import sweep_finding_deadlines

    _w, supplier, _r, _c, _rc, f = _scar_world(make, library, now)
    assert supplier.approval_status is ApprovalStatus.APPROVED
    later = now + dt.timedelta(days=31)
    counts = sweep_finding_deadlines(later)
    assert counts["suppliers_changed"] == 1
    assert supplier.approval_status is ApprovalStatus.ON_PROBATION


def test_probation_leaves_other_evaluation_states_alone(app, make, library, now):
    """A candidate or disqualified supplier is not moved by the probation rules."""
    w, supplier, *_ = _scar_world(make, library, now)
    supplier.approval_status = ApprovalStatus.CANDIDATE
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert supplier.approval_status is ApprovalStatus.CANDIDATE


# --- supplier isolation, route by route --------------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_supplier_sees_only_own_scars_route_by_route(app, make, library, login):
    """A supplier contact answers their own SCAR; every other page or object is refused."""
    now = utcnow()
    w, supplier, rival, contact, rival_contact, own = _scar_world(make, library, now)
    rival_audit = make.audit(kind=AuditKind.SECOND_PARTY, supplier=rival, site=w.audit.site,
                             team=[(w.auditor, TeamRole.LEAD)])
    rival_audit.standards = [library["ISO 9001"]]
    other = draft(w, Grade.MINOR, now=now, audit=rival_audit)
    fs.issue_finding(other, actor=w.auditor, now=now)
    internal = draft(w, Grade.MINOR, now=now, audit=make.audit(site=w.audit.site, team=[(w.auditor, TeamRole.LEAD)]))
    fs.issue_finding(internal, actor=w.auditor, now=now)
    db.session.commit()

    client = login(contact)
    home = client.get("/")
    assert home.status_code == 200 and own.reference in home.text
    assert other.reference not in home.text and internal.reference not in home.text
    listing = client.get("/scar/")
    assert own.reference in listing.text
    assert other.reference not in listing.text and internal.reference not in listing.text
    assert client.get(f"/scar/{own.id}").status_code == 200
    token = _csrf(listing.text)
    for fid in (other.id, internal.id):
        assert client.get(f"/scar/{fid}").status_code == 404
        for path in ("acknowledge", "containment", "root-cause", "plan",
                     "actions/1/complete"):
            r = client.post(f"/scar/{fid}/{path}", data={"csrf_token": token})
            assert r.status_code == 404, path
    # Internal pages: none of them.
    for url in ("/findings/", f"/findings/{own.id}", f"/findings/{other.id}",
                "/findings/dashboard", "/findings/policy", "/findings/import", "/reports/",
                "/reports/management-review", "/reports/management-review.pdf",
                "/reports/management-review.csv", "/reports/management-review.xlsx",
                "/organisation/suppliers/", "/trail/"):
        assert client.get(url).status_code == 403, url
    for url in (f"/findings/{own.id}/respond", f"/findings/{own.id}/verify",
                f"/findings/{own.id}/costs", f"/findings/{own.id}/extensions",
                f"/findings/{own.id}/issue", f"/findings/{other.id}/respond"):
        assert client.post(url, data={"csrf_token": token}).status_code == 403, url
    # ... and the walk through their own SCAR works through the pages.
    assert client.post(f"/scar/{own.id}/acknowledge",
                       data={"csrf_token": token}).status_code == 302
    r = client.post(f"/scar/{own.id}/containment",
                    data={"csrf_token": token, "d3-containment": "Blocked lots"})
    assert r.status_code == 302
    eight_d = {"d4-eight_d_d1": "Melt shop team", "d4-eight_d_d2": "Porosity in lot 88",
               "d4-eight_d_d4": "Degassing time not controlled", "d4-root_cause_category": "man"}
    r = client.post(f"/scar/{own.id}/root-cause", data={
        "csrf_token": token, "d4-root_cause_method": "eight_d", **eight_d,
        "d4-root_cause": "operator error", "d4-extent_check": "all"})
    assert r.status_code == 400 and "not a root cause" in r.text
    r = client.post(f"/scar/{own.id}/root-cause", data={
        "csrf_token": token, "d4-root_cause_method": "eight_d", **eight_d,
        "d4-root_cause_category": "method",
        "d4-root_cause": "Degassing time not controlled", "d4-extent_check": "all furnaces"})
    assert r.status_code == 302
    r = client.post(f"/scar/{own.id}/plan", data={
        "csrf_token": token, "d5-action1_kind": "corrective",
        "d5-action1_description": "Timer interlock",
        "d5-action1_due_on": (now.date() + dt.timedelta(days=10)).isoformat()})
    assert r.status_code == 302
    db.session.expire_all()
    assert own.status is FindingStatus.RESPONSE_SUBMITTED
    # The rival contact cannot see it.
    client = login(rival_contact)
    assert client.get(f"/scar/{own.id}").status_code == 404
    assert own.reference not in client.get("/scar/").text


def test_dashboard_statements_do_not_grow_with_scars_on_more_audits(app, make, library, login, now,
                                                                    count_queries):
    """Overdue SCARs are dated in their audit's zone: their audits come in one statement, not
    two lazy loads per supplier audit."""
    _scar_world(make, library, now)
    coordinator = make.user(roles=(Role.COORDINATOR,))
    db.session.commit()
    client = login(coordinator)

    def dashboard_statements():
        db.session.expire_all()  # the test's own session must not pre-load rows for the page
        with count_queries() as queries:
            assert client.get("/findings/dashboard").status_code == 200
        return queries.count

    one_audit = dashboard_statements()
    for i in range(3):
        supplier = make.supplier(name=f"Foundry {i}", approval_status=ApprovalStatus.APPROVED)
        make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id)
        w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
        fs.issue_finding(draft(w, Grade.MINOR, now=now), actor=w.auditor, now=now)
    db.session.commit()
    assert dashboard_statements() == one_audit
