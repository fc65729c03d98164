"""The management review input pack of a past period: every 9.3.2 item, period-correct."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import select

from audit.extensions import db
from audit.findings import responses
from audit.findings import services as fs
from audit.management import objectives as objs
from audit.management import registers, reviews, risk_actions
from audit.management.pack import NOTHING, build_review_pack, review_pack_xlsx
from audit.models import (
    ApprovalStatus,
    AuditKind,
    AuditStatus,
    Finding,
    FindingStatus,
    Grade,
    Risk,
    Role,
    Supplier,
    TeamRole,
)
from audit.organisation import services as organisation
from tests.findings.helpers import draft, world

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
CODES = ["a", "b", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "d", "e", "f"]


def at(y, m, d) -> dt.datetime:
    return dt.datetime(y, m, d, 12, tzinfo=dt.UTC)


def _cells(section) -> str:
    return " | ".join(str(v) for t in section.tables for row in t.rows for v in row)


def _seed_period(make, library, now):
    """Data inside 2025, and data about 2025 or later entered after 2025 ended."""
    w = world(make, library)
    boss = make.user(roles=(Role.VIEWER,), name="Bea Boss")
    w.audit.planned_date = dt.date(2025, 6, 10)
    later_audit = make.audit(site=w.audit.site, planned_date=dt.date(2026, 2, 1), team=[(w.auditor, TeamRole.LEAD)])
    later_audit.units, later_audit.standards = [w.unit], [library["ISO 9001"]]
    major = draft(w, Grade.MAJOR, now=at(2025, 6, 10))
    fs.issue_finding(major, actor=w.auditor, now=at(2025, 6, 11))
    ofi = draft(w, Grade.OFI, now=at(2025, 6, 10))
    fs.issue_finding(ofi, actor=w.auditor, now=at(2025, 6, 11))
    late = draft(w, Grade.MINOR, now=at(2026, 2, 1), audit=later_audit)
    fs.issue_finding(late, actor=w.auditor, now=at(2026, 2, 2))
    w.audit.report_issued_at, w.audit.status = at(2025, 6, 20), AuditStatus.REPORT_ISSUED
    supplier = make.supplier(name="Castings Co", approval_status=ApprovalStatus.APPROVED)
    make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Cas Contact")  # answers the SCAR
    sw = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    fs.issue_finding(draft(sw, Grade.MINOR, now=at(2025, 7, 1)), actor=sw.auditor, now=at(2025, 7, 2))

    # (a) and (d): the previous review's outputs; one done in the period, one only after it.
    prev = reviews.plan_review({"title": "Review 2024", "period_start": dt.date(2024, 1, 1),
                                "period_end": dt.date(2024, 12, 31), "planned_on": dt.date(2025, 1, 20),
                                "chair_id": boss.id}, actor=w.coordinator, now=at(2025, 1, 2))
    reviews.hold_review(prev, {"held_on": dt.date(2025, 1, 20), "attendees": "Bea Boss"},
                        actor=boss, now=at(2025, 1, 20))
    done = reviews.add_output(prev, {"kind": "improvement", "decision": "Shorten the quote cycle",
                                     "owner_id": w.owner.id, "due_on": dt.date(2025, 6, 30)},
                              actor=boss, now=at(2025, 1, 20))
    reviews.add_output(prev, {"kind": "resources", "decision": "Hire a metrologist",
                              "owner_id": w.coordinator.id, "due_on": dt.date(2025, 9, 30)},
                       actor=boss, now=at(2025, 1, 20))
    reviews.complete_output(done, "Quote tool live", actor=w.owner, now=at(2025, 5, 5))
    late_action = prev.outputs[1]
    reviews.complete_output(late_action, "Hired", actor=w.coordinator, now=at(2026, 2, 1))

    c = w.coordinator
    registers.create_context_change({"changed_on": dt.date(2025, 5, 1), "category": "external",
                                     "title": "New tariff on steel"}, actor=c, now=at(2025, 5, 2))
    registers.create_context_change({"changed_on": dt.date(2025, 6, 1), "category": "internal",
                                     "title": "Backdated reorganisation"}, actor=c, now=at(2026, 1, 5))
    registers.create_survey({"title": "Survey H1", "period_start": dt.date(2025, 1, 1),
                             "period_end": dt.date(2025, 6, 30), "score": "4.2", "scale_max": "5",
                             "method": "Questionnaire", "sample_size": 40}, actor=c, now=at(2025, 7, 10))
    registers.create_survey({"title": "Survey H2 late", "period_start": dt.date(2025, 7, 1),
                             "period_end": dt.date(2025, 12, 31), "score": "3.1", "scale_max": "5",
                             "method": "Questionnaire", "sample_size": 30}, actor=c, now=at(2026, 1, 15))
    registers.create_complaint({"customer": "Acme", "received_on": dt.date(2025, 4, 1), "severity": "high",
                                "status": "closed", "closed_on": dt.date(2026, 1, 10)},
                               actor=c, now=at(2025, 4, 1))
    registers.create_complaint({"customer": "Late Corp", "received_on": dt.date(2026, 2, 1),
                                "severity": "low"}, actor=c, now=at(2026, 2, 1))
    objective = objs.create_objective({
        "title": "On-time delivery", "measure": "Orders on time", "target": "95", "target_unit": "%",
        "direction": "higher", "frequency": "monthly", "owner_id": w.owner.id, "starts_on": START,
        "due_on": END}, actor=c, now=at(2025, 1, 1))
    objs.record_measurement(objective, {"measured_on": dt.date(2025, 6, 30), "value": "90"}, actor=c,
                            now=at(2025, 7, 1))
    objs.record_measurement(objective, {"measured_on": dt.date(2025, 12, 31), "value": "97"}, actor=c,
                            now=at(2026, 1, 20))  # December's figure arrived after the period end
    indicator = registers.create_indicator({"unit_id": w.unit.id, "name": "OEE", "target": "80",
                                            "target_unit": "%", "direction": "higher"}, actor=c, now=at(2025, 1, 1))
    registers.record_indicator_result(indicator, {"period_end": dt.date(2025, 11, 30), "value": "83"},
                                      actor=c, now=at(2025, 12, 2))
    registers.record_indicator_result(indicator, {"period_end": dt.date(2026, 1, 31), "value": "61"},
                                      actor=c, now=at(2026, 2, 2))
    registers.create_risk({"title": "Single supplier", "kind": "risk", "likelihood": 4, "impact": 5,
                           "owner_id": c.id, "identified_on": dt.date(2025, 2, 1), "actions": "Second source",
                           "review_due_on": dt.date(2025, 10, 1), "effectiveness": "effective",
                           "reviewed_on": dt.date(2025, 10, 3)}, actor=c, now=at(2025, 2, 1))
    registers.create_risk({"title": "Export market", "kind": "opportunity", "likelihood": 3, "impact": 3,
                           "owner_id": c.id, "identified_on": dt.date(2025, 3, 1)}, actor=c, now=at(2025, 3, 1))
    registers.create_risk({"title": "Risk found later", "kind": "risk", "likelihood": 2, "impact": 2,
                           "owner_id": c.id, "identified_on": dt.date(2026, 1, 3),
                           "review_due_on": dt.date(2025, 12, 1)}, actor=c, now=at(2026, 1, 3))
    # (e) tracked risk actions: done and reviewed in 2025; done only after it; planned in 2026.
    risk = db.session.scalar(select(Risk).where(Risk.title == "Single supplier"))
    second = risk_actions.add_action(risk, {"description": "Qualify a second foundry", "owner_id": c.id,
                                            "due_on": dt.date(2025, 8, 31)}, actor=c, now=at(2025, 2, 2))
    risk_actions.close_action(second, "done", "Foundry B approved", actor=c, now=at(2025, 8, 20))
    risk_actions.review_effectiveness(second, {"effectiveness": "effective", "reviewed_on": dt.date(2025, 11, 2)},
                                      actor=c, now=at(2025, 11, 2))
    stock = risk_actions.add_action(risk, {"description": "Build a castings buffer stock", "owner_id": w.owner.id,
                                           "due_on": dt.date(2025, 11, 30)}, actor=c, now=at(2025, 3, 1))
    risk_actions.close_action(stock, "done", "Buffer in place", actor=w.owner, now=at(2026, 1, 20))
    risk_actions.review_effectiveness(stock, {"effectiveness": "not_effective", "reviewed_on": dt.date(2026, 1, 25)},
                                      actor=c, now=at(2026, 1, 25))
    risk_actions.add_action(risk, {"description": "Planned after the period", "owner_id": c.id,
                                   "due_on": dt.date(2026, 5, 1)}, actor=c, now=at(2026, 2, 1))
    # Changed after the period end: the OFI is decided (leaves "issued") and the supplier's
    # approval changes; the pack keeps the state of 31 Dec 2025.
    responses.decide_finding(ofi, accept=False, rationale="Not worth it", actor=w.owner, now=at(2026, 1, 12))
    organisation.update_supplier(supplier, {"name": supplier.name, "approval_status": "disqualified",
                                            "risk_class": supplier.risk_class.value,
                                            "timezone": supplier.timezone or "UTC"},
                                 actor=c, now=at(2026, 2, 3))
    db.session.commit()
    return w


def test_past_pack_has_every_9_3_2_item_with_period_data_only(app, make, library, now):
    """Each of a, b, c1–c7, d, e, f carries the period's data; data entered after the period
    end is absent and statuses are those at the end (an action closed later is still open)."""
    _seed_period(make, library, now)
    pack = build_review_pack(START, END)
    assert [s.code for s in pack.sections] == CODES
    text = {code: _cells(pack.section(code)) for code in CODES}
    for code in CODES:
        assert not pack.section(code).is_empty, f"{code} has no data"

    assert "Shorten the quote cycle" in text["a"] and "done" in text["a"]
    assert "Hire a metrologist | Cora Coordinator | 2025-09-30 | overdue" in text["a"]
    assert "New tariff on steel" in text["b"] and "Backdated" not in text["b"]
    assert "Survey H1" in text["c1"] and "4.2" in text["c1"] and "H2 late" not in text["c1"]
    assert "Acme" in text["c1"] and "Late Corp" not in text["c1"]
    assert ["High", 1, 1] in pack.section("c1").tables[1].rows  # received, still open on 31 Dec
    row = pack.section("c2").tables[0].rows[0]
    assert row[0] == "On-time delivery" and row[4] == "90 %" and row[-1] == "missed"
    # "61 %" (January's figure), not "61": a generated unit name ("Unit 2616") may contain it.
    assert "OEE" in text["c3"] and "83 %" in text["c3"] and "61 %" not in text["c3"]
    by_grade = {r[0]: r[1] for r in pack.section("c4").tables[0].rows}
    assert by_grade == {Grade.MAJOR.label: 1, Grade.MINOR.label: 1, Grade.OFI.label: 1}
    assert "1 | 90 | 90 | 90 %" in text["c5"]  # December's late figure is not counted
    # The audit and the major NC's follow-up (planned 2025, not done then); the 2026 audit is out.
    assert [r[1:] for r in pack.section("c6").tables[0].rows] == [[2, 1, 0]]
    assert "Castings Co" in text["c7"]
    assert "Hire a metrologist" in text["d"]
    assert "Single supplier" in text["e"] and "Effective" in text["e"] and "found later" not in text["e"]
    actions = {r[1]: r[4:] for r in pack.section("e").tables[0].rows}
    assert actions == {"Qualify a second foundry": ["done", "Effective"],
                       "Build a castings buffer stock": ["overdue", "Not reviewed by the period end"]}
    assert "Export market" in text["f"] and "Opportunity for improvement statement" in text["f"]


def test_statuses_and_approvals_are_those_of_the_period_end(app, make, library, now):
    """Finding statuses and supplier approval are read back from the trail as at the period end:
    the OFI decided in 2026 still counts as issued, the supplier disqualified in 2026 shows its
    approval of then; today's values differ."""
    w = _seed_period(make, library, now)
    pack = build_review_pack(START, END)
    statuses = dict(map(tuple, pack.section("c3").tables[1].rows))
    ofi = db.session.scalar(select(Finding).where(Finding.grade == Grade.OFI))
    assert ofi.status is not FindingStatus.ISSUED  # today's status ...
    assert FindingStatus.DECLINED.label not in statuses and statuses[FindingStatus.ISSUED.label] >= 1
    supplier = db.session.scalar(select(Supplier).where(Supplier.name == "Castings Co"))
    assert supplier.approval_status is ApprovalStatus.DISQUALIFIED  # ... and today's approval
    row = next(r for r in pack.section("c7").tables[0].rows if r[0] == "Castings Co")
    assert row[2] != ApprovalStatus.DISQUALIFIED.label and row[2] == ApprovalStatus.APPROVED.label
    assert row[4] == 1  # the SCAR issued in July was open on 31 Dec
    assert w.audit.id


def test_empty_items_say_so_in_the_workbook(app, make, library, now):
    """A period without data still has every item, each saying nothing was recorded; the workbook
    has one sheet per item with a readable heading."""
    pack = build_review_pack(dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert all(s.is_empty for s in pack.sections)
    book = load_workbook(io.BytesIO(review_pack_xlsx(pack, title="Review 2020")))
    assert book.sheetnames[0] == "Summary" and len(book.sheetnames) == 1 + len(CODES)
    first = book.worksheets[1]
    assert first["A1"].value.startswith("9.3.2 a)")
    assert NOTHING in [c.value for c in first["A"]]


def test_workbook_repeats_the_pack(app, make, library, now):
    """The XLSX sheets hold the same rows as the pack's sections."""
    _seed_period(make, library, now)
    pack = build_review_pack(START, END)
    book = load_workbook(io.BytesIO(review_pack_xlsx(pack, title="Review 2025")))
    sheet = next(s for s in book.worksheets if s.title.startswith("c1 "))
    values = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "Survey H1" in values and "Acme" in values and "Survey H2 late" not in values
