"""Journeys through the web pages, person by person: at each step everyone sees exactly what waits
for them, hears once about each transition that concerns them, and every finding ends closed —
internal findings of all four grades, supplier SCARs with each root-cause method, a CB finding."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from sqlalchemy import select

from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    AuditKind,
    Finding,
    FindingStatus,
    Notification,
    Role,
    TeamRole,
)
from tests.findings.helpers import world

ITEM = re.compile(r'data-step="(\w+)" data-finding="([^"]+)"')
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Journey:
    """Drives the pages as each person, and watches their to-do lists and notifications."""

    def __init__(self, login, people: dict):
        self.login, self.people = login, people
        self.seen = self._last()

    @staticmethod
    def _last() -> int:
        return db.session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0

    def post(self, who: str, url: str, data: dict, *, expect: int = 302):
        client = self.login(self.people[who])
        token = TOKEN.search(client.get("/findings/waiting").text).group(1)
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == expect, (who, url, response.status_code,
                                                re.findall(r'role="alert">(?:<p>)?([^<]+)', response.text))
        db.session.expire_all()
        return response

    def waiting(self, who: str) -> set[tuple[str, str]]:
        page = self.login(self.people[who]).get("/findings/waiting").text
        return set(ITEM.findall(page))

    def expect_waiting(self, **expected) -> None:
        """Everyone's list is exactly as given (people not named: empty)."""
        for who in self.people:
            assert self.waiting(who) == set(expected.get(who, ())), who

    def expect_notes(self, **expected) -> None:
        """The notifications since the last check, per person: {kind: count}."""
        notes = db.session.scalars(select(Notification).where(Notification.id > self.seen)).all()
        self.seen = self._last()
        names = {u.id: who for who, u in self.people.items()}
        got = {}
        for note in notes:
            got.setdefault(names[note.user_id], Counter())[note.kind] += 1
        assert got == {who: Counter(kinds) for who, kinds in expected.items()}, got


def _ref(grade_statement: str) -> Finding:
    return db.session.scalar(select(Finding).where(Finding.statement == grade_statement))


def test_internal_journey_major_minor_observation_ofi(app, make, library, now, login, clock):
    """Lead raises four findings; owner, action owner, lead, coordinator and top management each
    see exactly their items at every step; one notification per transition; all end closed."""
    w = world(make, library)
    doer = make.user(roles=(Role.AUDITEE,), name="Dora Doer")
    top = make.user(roles=(Role.VIEWER,), name="Tom Management")
    j = Journey(login, {"lead": w.auditor, "owner": w.owner, "doer": doer, "coordinator": w.coordinator,
                        "top": top})
    statements = {"major": "No calibration records", "minor": "One record unsigned",
                  "observation": "Labels fading", "ofi": "Could scan barcodes"}
    for grade, statement in statements.items():
        j.post("lead", "/findings/new", {"audit_id": w.audit.id, "grade": grade, "statement": statement,
                                         "evidence": "Seen on line 2", "clauses": "8.5.1"})
    f = {g: _ref(s) for g, s in statements.items()}
    drafts = {("issue", x.reference) for x in f.values()}
    j.expect_waiting(lead=drafts)  # the coordinator's list holds only what is theirs
    j.expect_notes()

    for x in f.values():
        j.post("lead", f"/findings/{x.id}/issue", {})
    j.expect_notes(owner={"finding_issued": 4})
    j.expect_waiting(owner={("respond", f["major"].reference), ("respond", f["minor"].reference),
                            ("decide", f["observation"].reference), ("decide", f["ofi"].reference)})

    due = (now.date() + dt.timedelta(days=20)).isoformat()
    for grade, owner_id in (("major", doer.id), ("minor", 0)):
        j.post("owner", f"/findings/{f[grade].id}/respond", {
            "respond-containment": "Quarantined", "respond-extent_check": "Lines 1-3 checked",
            "respond-root_cause_method": "five_whys", "respond-why1": "Records missing",
            "respond-why2": "Operator forgot", "respond-why3": "No checklist step for records",
            "respond-root_cause": "The operator forgot the record",
            "respond-root_cause_category": "method", "respond-action1_kind": "corrective",
            "respond-action1_description": f"Add record step ({grade})", "respond-action1_due_on": due,
            "respond-action1_owner_id": owner_id})
    j.post("owner", f"/findings/{f['observation'].id}/decide",
           {"decide-decision": "decline", "decide-rationale": "Labels replaced next month anyway"})
    j.post("owner", f"/findings/{f['ofi'].id}/decide",
           {"decide-decision": "accept", "decide-rationale": "Cheap", "decide-action_description": "Buy scanners",
            "decide-action_due_on": due})
    j.expect_notes(lead={"finding_to_review": 2, "finding_decided": 2})
    audit_side = {("accept", f["major"].reference), ("accept", f["minor"].reference),
                  ("close", f["observation"].reference)}
    ofi_action = f["ofi"].actions[0]
    j.expect_waiting(lead=audit_side, owner={("complete_action", f["ofi"].reference)})

    j.post("lead", f"/findings/{f['major'].id}/accept", {})
    j.post("lead", f"/findings/{f['minor'].id}/accept", {})
    j.post("lead", f"/findings/{f['observation'].id}/close", {"close-note": "Decline accepted"})
    j.expect_notes(owner={"finding_decided": 3}, doer={"finding_decided": 1})
    j.expect_waiting(doer={("complete_action", f["major"].reference)},
                     owner={("complete_action", f["minor"].reference), ("complete_action", f["ofi"].reference)})

    j.post("doer", f"/findings/{f['major'].id}/actions/{f['major'].actions[0].id}/complete",
           {"complete-evidence": "Checklist rev 4"})
    j.post("owner", f"/findings/{f['minor'].id}/actions/{f['minor'].actions[0].id}/complete",
           {"complete-evidence": "Checklist rev 4"})
    j.post("owner", f"/findings/{f['ofi'].id}/actions/{ofi_action.id}/complete",
           {"complete-evidence": "Scanners in use"})
    j.expect_notes(lead={"finding_to_review": 3})
    verify = {("verify", f["major"].reference), ("verify", f["minor"].reference), ("close", f["ofi"].reference)}
    j.expect_waiting(lead=verify)

    j.post("lead", f"/findings/{f['major'].id}/verify", {"verify-effective": "yes", "verify-note": "3 months clean"})
    j.post("lead", f"/findings/{f['minor'].id}/close", {"close-note": "Checklist seen"})
    j.post("lead", f"/findings/{f['ofi'].id}/close", {"close-note": "Done"})
    j.expect_notes(owner={"finding_decided": 3})
    j.expect_waiting()
    assert all(x.status is FindingStatus.CLOSED for x in f.values())


def test_scar_journeys_with_each_root_cause_method(app, make, library, now, login, clock):
    """A supplier finishes three SCARs on the SCAR page — 5 Whys, Ishikawa and 8D — and the
    lead reviews and verifies each; both see exactly their step, and each step is announced."""
    supplier = make.supplier(name="Precision Castings", approval_status=ApprovalStatus.APPROVED)
    w = world(make, library, kind=AuditKind.SECOND_PARTY, supplier=supplier)
    contact = make.user(roles=(Role.SUPPLIER,), supplier_id=supplier.id, name="Sam Carter")
    j = Journey(login, {"lead": w.auditor, "supplier": contact, "coordinator": w.coordinator})
    methods = {
        "five_whys": {"d4-why1": "Porosity", "d4-why2": "Gas in melt", "d4-why3": "Degassing too short"},
        "ishikawa": {"d4-ishikawa_method": "Degassing time not in the work instruction"},
        "eight_d": {"d4-eight_d_d1": "Melt team", "d4-eight_d_d2": "Porosity in lot 88",
                    "d4-eight_d_d4": "Degassing time not controlled"},
    }
    for method, fields in methods.items():
        j.post("lead", "/findings/new", {"audit_id": w.audit.id, "grade": "minor", "statement": f"Porous ({method})",
                                         "evidence": "X-ray lot 88", "clauses": "8.5.1"})
        f = _ref(f"Porous ({method})")
        j.post("lead", f"/findings/{f.id}/issue", {})
        j.expect_notes(supplier={"finding_issued": 1})
        j.expect_waiting(supplier={("acknowledge", f.reference)})
        j.post("supplier", f"/scar/{f.id}/acknowledge", {})
        j.expect_waiting(supplier={("containment", f.reference)})
        j.post("supplier", f"/scar/{f.id}/containment", {"d3-containment": "Lots 88-91 blocked"})
        j.expect_waiting(supplier={("root_cause", f.reference)})
        j.post("supplier", f"/scar/{f.id}/root-cause", {
            "d4-root_cause_method": method, **fields, "d4-root_cause": "Degassing time not controlled",
            "d4-root_cause_category": "method", "d4-extent_check": "All furnaces"})
        j.expect_notes(lead={"scar_progress": 3})
        j.expect_waiting(supplier={("plan", f.reference)})
        j.post("supplier", f"/scar/{f.id}/plan", {
            "d5-action1_kind": "corrective", "d5-action1_description": "Timer interlock",
            "d5-action1_due_on": (now.date() + dt.timedelta(days=20)).isoformat()})
        j.expect_notes(lead={"finding_to_review": 1})
        j.expect_waiting(lead={("accept", f.reference)})
        j.post("lead", f"/findings/{f.id}/accept", {})
        j.expect_notes(supplier={"finding_decided": 1})
        j.expect_waiting(supplier={("complete_action", f.reference)})
        j.post("supplier", f"/scar/{f.id}/actions/{f.actions[0].id}/complete", {"complete-evidence": "Fitted"})
        j.expect_notes(lead={"finding_to_review": 1})
        j.expect_waiting(lead={("verify", f.reference)})
        j.post("lead", f"/findings/{f.id}/verify", {"verify-effective": "yes", "verify-note": "20 lots clean"})
        j.expect_notes(supplier={"finding_decided": 1})
        j.expect_waiting()
        assert f.status is FindingStatus.CLOSED and f.root_cause_method.value == method


def test_cb_finding_journey(app, make, library, now, login, clock):
    """A certification body's minor entered from its CSV is answered, reviewed and closed."""
    w = world(make, library, kind=AuditKind.THIRD_PARTY)
    j = Journey(login, {"lead": w.auditor, "owner": w.owner, "coordinator": w.coordinator})
    j.post("lead", "/findings/import", {"audit_id": w.audit.id, "text":
           "reference,grade,clauses,statement,evidence\nCB-7,minor,8.5.1,Work order unsigned,WO 118\n"})
    f = db.session.scalar(select(Finding).where(Finding.external_reference == "CB-7"))
    j.expect_notes(owner={"finding_issued": 1})
    j.expect_waiting(owner={("respond", f.reference)})
    j.post("owner", f"/findings/{f.id}/respond", {
        "respond-containment": "Signed", "respond-extent_check": "All WOs checked",
        "respond-root_cause_method": "ishikawa", "respond-ishikawa_method": "Sign-off not in the ERP flow",
        "respond-root_cause": "ERP lets a work order close unsigned", "respond-root_cause_category": "machine",
        "respond-action1_kind": "corrective", "respond-action1_description": "Block unsigned closure",
        "respond-action1_due_on": (now.date() + dt.timedelta(days=20)).isoformat()})
    j.expect_notes(lead={"finding_to_review": 1})
    j.expect_waiting(lead={("accept", f.reference)})
    j.post("coordinator", f"/findings/{f.id}/accept", {})
    j.expect_notes(owner={"finding_decided": 1})
    j.post("owner", f"/findings/{f.id}/actions/{f.actions[0].id}/complete", {"complete-evidence": "ERP CR-9"})
    j.expect_notes(lead={"finding_to_review": 1})
    j.post("lead", f"/findings/{f.id}/close", {"close-note": "CR-9 live"})
    j.expect_notes(owner={"finding_decided": 1})
    j.expect_waiting()
    assert f.status is FindingStatus.CLOSED
    assert TeamRole.LEAD in {m.role for m in f.audit.team}
