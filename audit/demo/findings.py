"""Demo step: findings in every workflow state on the past audits, some overdue, with costs,
and an open SCAR for Precision Castings Ltd that supplier@example.com can answer.

Every finding goes through the real services with clocks at plausible past moments, so the
trail, deadlines, follow-up proposals and notifications look as they would in real use.
Idempotent: a finding is recognised by its audit and statement.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.auth.permissions import Permission
from audit.extensions import db
from audit.findings import services as fs
from audit.models import (
    ActionKind,
    AuditKind,
    Clause,
    CostCategory,
    Finding,
    Grade,
    PoorQualityCost,
    RootCauseMethod,
    Standard,
    TeamRole,
)

#: (audit slot, grade, target state, statement, evidence, clause, cost)
SCENARIOS = [
    ("mgmt", Grade.MAJOR, "closed_effective",
     "Management review has not covered the status of actions from previous reviews.",
     "Minutes of the last two management reviews (MR-2025-1, MR-2025-2) list no follow-up "
     "of earlier decisions.", "9.3.2", (CostCategory.EXTRA_INSPECTION, "1840.00")),
    ("mgmt", Grade.MINOR, "closed_after_recurrence",
     "Quality objectives are not monitored at the planned monthly interval.",
     "KPI board shows objective data for January and April only.", "6.2.2", None),
    ("mgmt", Grade.GOOD_PRACTICE, "closed",
     "Strategy deck links every quality objective to a named owner and a budget.", None,
     "6.2.1", None),
    ("mgmt", Grade.OBSERVATION, "declined",
     "The quality policy poster in the canteen is an older revision.", None, "5.2.2", None),
    ("purchasing", Grade.MINOR, "action_in_progress",
     "Two suppliers were used without completed evaluation.",
     "POs 4500123 and 4500187 placed with suppliers in status 'candidate'.", "8.4.1",
     (CostCategory.REWORK, "620.00")),
    ("purchasing", Grade.MAJOR, "pending_verification",
     "Incoming inspection of castings does not verify the critical bore diameter.",
     "Inspection plan IP-07 rev 2 omits characteristic C4; 3 customer returns in Q2.", "8.6",
     (CostCategory.CUSTOMER_RETURN, "12450.00")),
    ("purchasing", Grade.OFI, "accepted",
     "Supplier scorecards could include on-time delivery trends.", None, "8.4.2", None),
    ("qc", Grade.MAJOR, "awaiting_response",
     "Nonconforming product was shipped without a concession.",
     "Lot 2211 released on 3 occasions with open NCR-0912; no customer concession on file.",
     "8.7.1", (CostCategory.CONCESSION, "3300.00")),
    ("qc", Grade.MINOR, "response_submitted",
     "Complaint records do not show the date the customer was informed.",
     "5 of 12 sampled complaints (CC-301..CC-312) lack the notification date.", "9.1.2", None),
    ("qc", Grade.MINOR, "rejected",
     "Gauge R&R studies are overdue for two measurement systems.",
     "MSA-14 and MSA-19 last studied in 2023; procedure requires yearly.", "7.1.5.1",
     (CostCategory.SCRAP, "415.50")),
    ("logistics", Grade.MINOR, "issued",
     "Pallet racking load signs are missing in aisle C.",
     "Aisle C racking, bays 1-12: no load signs.", "8.5.4", None),
    ("logistics", Grade.OFI, "issued",
     "FIFO could be made visible with colour-coded bin labels.", None, "8.5.4", None),
    ("logistics", Grade.MINOR, "awaiting_response",
     "Shelf-life of adhesives is not checked at picking.",
     "Adhesive lot A-778 expired 12 days before it was picked.", "8.5.4", None),
]

#: Findings the demo process owner (owner@example.com) answers, so his home page has work.
TOM_ANSWERS = ("Nonconforming product was shipped", "Two suppliers were used",
               "Shelf-life of adhesives")

SCAR = ("Castings delivered with porosity above the drawing limit.",
        "X-ray reports XR-551 to XR-557: porosity grade 3, drawing allows grade 2; lots 88-91.",
        "8.6")
SCAR_CLOSED = ("Certificates of conformity were missing for two deliveries.",
               "Deliveries DN-7712 and DN-7730 arrived without CoC.", "8.4.3")


def _clause(number: str) -> Clause | None:
    return db.session.scalar(select(Clause).join(Standard).where(
        Standard.code == "ISO 9001", Clause.number == number))


def _existing(audit, statement: str) -> Finding | None:
    return db.session.scalar(select(Finding).where(Finding.audit_id == audit.id,
                                                   Finding.statement == statement))


class _Clock:
    """Moments after the issue of a finding, never later than the demo's "now"."""

    def __init__(self, start: dt.datetime, limit: dt.datetime):
        self.start, self.limit = start, limit - dt.timedelta(minutes=5)

    def at(self, days: float) -> dt.datetime:
        return min(self.start + dt.timedelta(days=days), self.limit)


def _response(owner, clock, finding, *, cause: str, action: str, due_days: int):
    due = (finding.closure_due_on or clock.at(60).date())
    action_due = min(clock.at(0).date() + dt.timedelta(days=due_days), due)
    return dict(
        containment="Affected stock quarantined and re-checked; customers informed where needed.",
        extent_check="Checked the other two sites and product lines: no further cases found.",
        root_cause_method=RootCauseMethod.FIVE_WHYS,
        whys=["The check was not done", "The instruction did not require it",
              "The instruction was not updated when the process changed"],
        root_cause=cause, root_cause_category="method",
        actions=[{"kind": ActionKind.CORRECTION, "description": "Correct the affected records",
                  "due_on": action_due, "owner": owner},
                 {"kind": ActionKind.CORRECTIVE, "description": action, "due_on": action_due,
                  "owner": owner}],
        actor=owner, now=clock.at(5))


def _walk(finding, target: str, *, owner, auditor, verifier, clock) -> None:
    """Take a freshly recorded finding to ``target`` through the services."""
    fs.issue_finding(finding, actor=auditor, now=clock.at(0))
    if finding.is_closed or target in ("issued", "awaiting_response"):
        return
    if target == "declined":
        fs.decide_finding(finding, accept=False, rationale="Poster replaced by the new revision "
                          "in the next site communication round; no action needed.",
                          actor=owner, now=clock.at(6))
        return
    if target == "accepted":
        fs.decide_finding(finding, accept=True, rationale="Useful for the supplier review.",
                          action_description="Add delivery trend to the scorecard template",
                          action_due_on=clock.at(40).date(), actor=owner, now=clock.at(6))
        return
    cause = ("The work instruction did not require the check after the process change of "
             "last year, and the change procedure has no step to update instructions.")
    fs.submit_response(finding, **_response(
        owner, clock, finding, cause=cause, action="Add an instruction-review step to the "
        "change procedure and update the instruction", due_days=25))
    if target == "response_submitted":
        return
    if target == "rejected":
        fs.reject_response(finding, "The root cause explains the instruction, not why the "
                           "studies were missed: check the MSA planning.", actor=verifier,
                           now=clock.at(8))
        return
    fs.accept_response(finding, actor=verifier, now=clock.at(8))
    if target == "action_in_progress":
        return
    for action in list(finding.actions):
        fs.complete_action(action, "Revision issued and briefed; records attached.",
                           actor=owner, now=clock.at(20))
    if target == "pending_verification":
        return
    if target == "closed_after_recurrence":
        fs.verify_effectiveness(finding, effective=False, note="Objectives for two months "
                                "still missing in the follow-up sample.", actor=verifier,
                                now=clock.at(30))
        action = fs.add_action(finding, kind=ActionKind.CORRECTIVE,
                               description="Automate the monthly KPI extract and reminder",
                               due_on=clock.at(45).date(), owner=owner, actor=owner,
                               now=clock.at(31))
        fs.complete_action(action, "Extract scheduled; three months complete.", actor=owner,
                           now=clock.at(40))
        fs.close_finding(finding, note="Sampled three months: all complete.", actor=verifier,
                         now=clock.at(50))
        return
    fs.verify_effectiveness(finding, effective=True, note="Sampled the last two reviews and "
                            "the action log: complete and followed up.", actor=verifier,
                            now=clock.at(45))


def _lead_of(audit):
    return next((m.user for m in audit.team if m.role is TeamRole.LEAD), None)


def seed(ctx) -> None:
    """Findings on the past audits; an open SCAR for the supplier audit."""
    past = ctx.extra.get("past_audits") or []
    internal = [a for a in past if a.kind is AuditKind.INTERNAL]
    if not internal:
        return
    slots = dict(zip(("mgmt", "purchasing", "qc", "logistics"), internal, strict=False))
    users = ctx.users
    verifier = users["coordinator"]
    created = 0
    for slot, grade, target, statement, evidence, number, cost in SCENARIOS:
        audit = slots.get(slot)
        if audit is None or _existing(audit, statement) is not None:
            continue
        auditor = _lead_of(audit) or verifier  # only the audit's own team raises its findings
        unit = audit.units[0] if audit.units else None
        owner = unit.owner if unit is not None and unit.owner is not None else users["owner"]
        if not owner.can(Permission.RESPOND_FINDING) or statement.startswith(TOM_ANSWERS):
            owner = users["owner"]
        raised = audit.ends_at or ctx.now - dt.timedelta(days=60)
        issued = audit.report_issued_at or raised + dt.timedelta(days=5)
        clause = _clause(number)
        finding = fs.record_finding(
            audit, grade=grade, statement=statement, evidence=evidence,
            clauses=[clause] if clause else [], unit=unit,
            owner=None if target == "issued" and grade.is_nonconformity else owner,
            actor=auditor, now=raised)
        if target == "issued" and grade.is_nonconformity:
            finding.owner = None
        _walk(finding, target, owner=owner, auditor=auditor, verifier=verifier,
              clock=_Clock(issued, ctx.now))
        if cost is not None and not finding.is_closed:
            fs.add_cost(finding, category=cost[0], amount=cost[1], currency="EUR",
                        incurred_on=min(issued.date() + dt.timedelta(days=3), ctx.today),
                        note="Booked by controlling", actor=verifier, now=_Clock(issued,
                                                                                    ctx.now).at(4))
        elif cost is not None:
            # Costs on closed findings were booked while they were open: record directly.

            finding.costs.append(PoorQualityCost(
                category=cost[0], amount=cost[1], currency="EUR",
                incurred_on=issued.date() + dt.timedelta(days=3), note="Booked by controlling",
                created_by_id=verifier.id, created_at=issued + dt.timedelta(days=4)))
        created += 1

    # In-progress audit: one draft the auditor has not issued yet.
    today_audit = ctx.extra.get("audit_in_progress")
    statement = "Torque values are recorded by hand without the wrench's calibration ID."
    if today_audit is not None and _existing(today_audit, statement) is None \
            and today_audit.report_issued_at is None:
        clause = _clause("7.1.5.2")
        fs.raise_finding(today_audit, grade=Grade.MINOR, statement=statement,
                         evidence="Torque sheet TS-0412, station 3.",
                         clauses=[clause] if clause else [], actor=_lead_of(today_audit) or verifier,
                         now=ctx.now - dt.timedelta(hours=1))
        created += 1

    supplier_audit = ctx.extra.get("supplier_audit")
    if supplier_audit is not None:
        created += _seed_scars(ctx, supplier_audit, _lead_of(supplier_audit) or verifier, verifier)
    db.session.flush()
    ctx.summary["findings"] = created


def _seed_scars(ctx, audit, auditor, verifier) -> int:
    contact = ctx.users.get("supplier")
    raised = audit.ends_at or ctx.now - dt.timedelta(days=40)
    issued = audit.report_issued_at or raised + dt.timedelta(days=5)
    clock = _Clock(issued, ctx.now)
    created = 0
    statement, evidence, number = SCAR_CLOSED
    if _existing(audit, statement) is None and contact is not None:
        clause = _clause(number)
        f = fs.record_finding(audit, grade=Grade.MINOR, statement=statement, evidence=evidence,
                              clauses=[clause] if clause else [], actor=auditor, now=raised)
        fs.issue_finding(f, actor=auditor, now=clock.at(0))
        fs.acknowledge_scar(f, actor=contact, now=clock.at(0.5))
        fs.submit_scar_containment(f, "All stock in transit checked; CoCs requested.",
                                   actor=contact, now=clock.at(0.8))
        fs.submit_scar_root_cause(
            f, root_cause_method=RootCauseMethod.EIGHT_D, root_cause_category="method",
            eight_d={"d1": "Logistics lead, QA engineer", "d2": "Deliveries shipped without CoC",
                     "d4": "ERP release did not check the CoC flag"},
            root_cause="Shipping release in the ERP did not require the CoC document flag.",
            extent_check="All customers checked: two deliveries affected.", actor=contact,
            now=clock.at(6))
        fs.submit_scar_plan(f, [{"kind": ActionKind.CORRECTIVE,
                                 "description": "Make the CoC flag mandatory for release",
                                 "due_on": clock.at(20).date(), "owner": contact}],
                            actor=contact, now=clock.at(10))
        fs.accept_response(f, actor=verifier, now=clock.at(11))
        fs.complete_action(f.actions[0], "ERP change CR-118 live; screenshot attached.",
                           actor=contact, now=clock.at(18))
        fs.verify_effectiveness(f, effective=True, note="Last 6 deliveries all with CoC.",
                                actor=verifier, now=clock.at(28))
        created += 1
    statement, evidence, number = SCAR
    if _existing(audit, statement) is None and contact is not None:
        clause = _clause(number)
        f = fs.record_finding(audit, grade=Grade.MAJOR, statement=statement, evidence=evidence,
                              clauses=[clause] if clause else [], actor=auditor, now=raised)
        fs.issue_finding(f, actor=auditor, now=clock.at(1))
        fs.acknowledge_scar(f, actor=contact, now=clock.at(1.5))
        fs.submit_scar_containment(f, "Lots 88-91 blocked at our site and at the customer; "
                                   "100% X-ray of stock.", actor=contact, now=clock.at(1.9))
        fs.add_cost(f, category=CostCategory.SCRAP, amount="5200.00", currency="EUR",
                    incurred_on=clock.at(3).date(), note="Scrapped castings, lots 88-91",
                    actor=verifier, now=clock.at(3))
        created += 1
    return created
