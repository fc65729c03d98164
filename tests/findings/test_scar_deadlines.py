"""One set of SCAR dates: the SCAR page, the sweep's messages, the supplier's list and its
approval status all name the stage deadlines (containment, root cause, action plan,
implementation) as the clock moves through them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings import services as fs
from audit.findings.reminders import sweep_finding_deadlines
from audit.models import ApprovalStatus, AuditKind, Grade, Notification, Role, RootCauseMethod
from tests.findings.helpers import draft, world


def _titles(user) -> list[str]:
    return list(db.session.scalars(select(Notification.title).where(
        Notification.user_id == user.id, Notification.kind.in_(["finding_due_soon", "finding_overdue"]))
        .order_by(Notification.id)))


def test_page_sweep_list_and_probation_name_the_same_stage_dates(app, make, library, now, login):
    """Containment overdue puts the supplier on probation with the date the page shows; once the
    supplier catches up it recovers, and the plan reminder names the page's plan date."""
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    client = login(contact)
    page = client.get(f"/scar/{f.id}").text
    for label, day in [("Containment", "11 Mar 2026"), ("Root cause", "24 Mar 2026"),
                       ("Action plan", "09 Apr 2026")]:
        assert f"<dt>{label} due</dt><dd>{day}</dd>" in page
    assert "11 Mar 2026" in client.get("/scar/").text

    late = now + dt.timedelta(days=2)
    assert sweep_finding_deadlines(late)["overdue"] == 1
    assert _titles(contact) == [f"{Grade.MINOR.label} {f.reference}: containment overdue since 11 Mar 2026"]
    assert supplier.approval_status is ApprovalStatus.ON_PROBATION
    assert fs.supplier_problems(supplier, late) == [f"overdue SCAR {f.reference} (containment due 11 Mar 2026)"]

    fs.acknowledge_scar(f, actor=contact, now=late)
    fs.submit_scar_containment(f, "Blocked lots 88-91", actor=contact, now=late)
    fs.submit_scar_root_cause(f, root_cause_method=RootCauseMethod.EIGHT_D,
                              eight_d={"d1": "Melt shop team", "d2": "Porosity in castings",
                                       "d4": "Degassing time not controlled"},
                              root_cause="Degassing time not controlled in the melt shop",
                              root_cause_category="method", extent_check="All furnaces checked",
                              actor=contact, now=late)
    assert f.current_deadline() == ("action_plan", dt.date(2026, 4, 9))
    assert sweep_finding_deadlines(late)["suppliers_changed"] == 1
    assert supplier.approval_status is ApprovalStatus.APPROVED
    sweep_finding_deadlines(now + dt.timedelta(days=26))
    assert _titles(contact)[-1] == f"{Grade.MINOR.label} {f.reference}: action plan due 09 Apr 2026"
    db.session.commit()
    assert "09 Apr 2026" in login(contact).get("/scar/").text


def test_scar_to_a_supplier_without_contacts_is_refused(app, make, library, now):
    """Issuing a SCAR nobody can answer is refused with a message saying what to do."""
    supplier = make.supplier(name="Silent Supplies", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    f = draft(w, Grade.MINOR, now=now)
    with pytest.raises(DomainError, match="Silent Supplies has no active contact user"):
        fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.issued_at is None and f.scar_stage is None


def test_probation_judges_overdue_on_the_suppliers_local_date(app, make, library, now):
    """Just after midnight in Shanghai (still the day before in UTC) a SCAR whose containment was
    due yesterday locally is overdue for probation exactly as for the sweep's notice."""
    supplier = make.supplier(name="Far East Castings", timezone="Asia/Shanghai",
                             approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    w.audit.site.timezone = "Asia/Shanghai"  # the audit was held at the supplier's plant
    make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Li Wei")
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    db.session.commit()
    _, due = f.current_deadline()
    # 00:30 in Shanghai on the day after the due date = 16:30 UTC on the due date itself.
    local_midnight = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(0, 30),
                                         tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    late = local_midnight.astimezone(dt.UTC)
    assert late.date() == due  # not yet overdue by the UTC date
    assert fs.supplier_problems(supplier, late) == [
        f"overdue SCAR {f.reference} (containment due {due:%d %b %Y})"]
