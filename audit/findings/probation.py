"""Supplier probation: overdue or rejected SCARs and open majors put a supplier on probation.

A probation a person decided (the supplier form, e.g. after a poor evaluation) is theirs to lift:
the sweep lifts only the probation this rule imposed, read from the trail's last change of the
supplier's approval status (``decided_by_a_person``).

Each change of status is told to the coordinators, who evaluate suppliers and decide whether one
on probation is disqualified (DOMAIN §2: approved → on probation → approved | disqualified); a
supplier on probation waits in their list until it recovers or is decided
(``audit.organisation.waiting``). The supplier model names no internal owner or buyer.

The supplier's own contacts are told too: probation is a formal step in the customer
relationship, and what lifts it (the overdue or rejected SCARs brought up to date) is theirs to do.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings.deadlines import DEADLINE_LABELS, local_date
from audit.findings.workflow import OPEN_STATUSES
from audit.models import (
    Finding,
    FindingStatus,
    Grade,
    TrailEntry,
)
from audit.notifications.services import notify
from audit.people.services import coordinators, supplier_contacts
from audit.trail.services import record

#: Registered with the findings feature's kinds (the sweep that changes the status is theirs).
KINDS = {"supplier_status": "A supplier went on probation or back to approved (coordinators)",
         "own_supplier_status": "Your company went on probation or back to approved (supplier contacts)"}

#: What the coordinators are asked to do, per new status.
EXPECTED = {
    "on_probation": "Follow up its SCARs and open majors with the supplier. It returns to approved by "
                    "itself once they are cleared; if it does not recover, disqualify it on its page.",
    "approved": "Nothing: it is approved again.",
}
#: The same when a coordinator decided the status on the supplier's page.
EXPECTED_OF_A_DECISION = {
    "on_probation": "Follow it up with the supplier: a probation decided on the supplier's page is lifted "
                    "there too, by a coordinator (the sweep does not lift it).",
}
#: What the supplier's contacts are told when a coordinator decided their company's status.
EXPECTED_OF_CONTACTS_OF_A_DECISION = {
    "on_probation": "Ask your customer's quality team what is expected of your company: they decide when "
                    "the probation ends.",
    "approved": "Nothing: your company is approved.",
    "disqualified": "Nothing more is ordered from your company until it is approved again; ask your "
                    "customer's quality team what that would take.",
}

#: The same, for the supplier's own contacts (who answer its SCARs on the SCAR pages).
EXPECTED_OF_CONTACTS = {
    "on_probation": "Bring the SCARs named above up to date on your SCAR pages. Your company returns to "
                    "approved by itself once none is overdue or rejected and no major finding is open.",
    "approved": "Nothing: your company is approved again.",
}


def supplier_problems(supplier, now: dt.datetime) -> list[str]:
    """Why ``supplier`` belongs on probation: overdue or rejected SCARs, open majors.

    "Overdue" is judged on each SCAR's local date (``deadlines.local_date``), as the sweep's
    notices and the SCAR page judge it, so near midnight they cannot disagree by a day."""
    from audit.models import ApprovalStatus  # noqa: F401  (keeps the import local to the rule)

    findings = db.session.scalars(select(Finding).where(
        Finding.supplier_id == supplier.id, Finding.status.in_(OPEN_STATUSES),
        Finding.grade.in_([Grade.MAJOR, Grade.MINOR]))).all()
    problems = []
    for f in findings:
        if f.grade is Grade.MAJOR:
            problems.append(f"open major {f.reference}")
        elif f.is_scar and f.is_overdue(local_date(f, now)):
            # The stage and date the SCAR page, the list and the sweep's notice name.
            deadline, due = f.current_deadline()
            problems.append(f"overdue SCAR {f.reference} ({DEADLINE_LABELS[deadline].lower()} due {due:%d %b %Y})")
        elif f.is_scar and f.rejection_count and f.status is FindingStatus.AWAITING_RESPONSE:
            problems.append(f"rejected SCAR {f.reference}")
    return problems


def update_supplier_status(supplier, *, actor, now: dt.datetime) -> bool:
    """Put a supplier on probation, or back to approved once it has recovered.

    Only approved (or conditionally approved) suppliers go on probation, and only suppliers on
    probation come back to approved: other states belong to supplier evaluation.
    Returns True when the status changed.
    """
    from audit.models import ApprovalStatus

    if supplier is None:
        return False
    problems = supplier_problems(supplier, now)
    old = supplier.approval_status
    if problems and old in (ApprovalStatus.APPROVED, ApprovalStatus.CONDITIONALLY_APPROVED):
        new = ApprovalStatus.ON_PROBATION
        summary = f"{supplier.name} on probation: " + ", ".join(problems)
    elif not problems and old is ApprovalStatus.ON_PROBATION and not decided_by_a_person(supplier):
        new = ApprovalStatus.APPROVED
        summary = f"{supplier.name} recovered: no overdue or rejected SCARs, no open majors"
    else:
        return False
    supplier.approval_status = new
    db.session.flush()
    record(supplier, "transition", actor=actor, now=now, summary=summary,
           changes={"approval_status": [old.value, new.value]})
    announce_status_change(supplier, summary, now=now)
    return True


def decided_by_people(suppliers) -> set[int]:
    """The ids of ``suppliers`` whose current approval status a person set (created or edited on
    the supplier form) rather than this module's rule (a ``transition`` entry): the trail's
    newest change of the status says which. A status the trail does not explain (imported
    data) counts as the rule's. One query whatever the number of suppliers."""
    ids = {supplier.id for supplier in suppliers}
    if not ids:
        return set()
    rows = db.session.execute(select(TrailEntry.object_id, TrailEntry.action, TrailEntry.changes).where(
        TrailEntry.object_type == "Supplier", TrailEntry.object_id.in_(ids)).order_by(TrailEntry.id.desc()))
    decided, seen = set(), set()
    for supplier_id, action, changes in rows:
        if supplier_id not in seen and "approval_status" in (changes or {}):
            seen.add(supplier_id)
            if action != "transition":
                decided.add(supplier_id)
    return decided


def decided_by_a_person(supplier) -> bool:
    """Whether a person set the supplier's current approval status (``decided_by_people``)."""
    return supplier.id in decided_by_people([supplier])


def announce_status_change(supplier, summary: str, *, now: dt.datetime, expected=None,
                           expected_of_contacts=None, decided_by=None) -> int:
    """Tell every active coordinator, and the supplier's active contacts, once per supplier,
    new status and day (a retried sweep sends nothing twice). After the rule's change the actor
    is told too, since the status follows from their step rather than being it; a person's
    decision (``decided_by``) is not told back to them. ``expected`` and
    ``expected_of_contacts`` map statuses to what each audience is asked; a status either map
    lacks is not told to that audience. Returns how many were told."""
    status = supplier.approval_status
    # A person's decisions are keyed apart from the rule's, so probation set again by hand on
    # the day the sweep (or an earlier decision) set it is still told.
    moment = f"decision:{now.isoformat()}" if decided_by is not None else now.date()
    expected = EXPECTED if expected is None else expected
    expected_of_contacts = EXPECTED_OF_CONTACTS if expected_of_contacts is None else expected_of_contacts
    sent = 0
    staff = [person for person in coordinators() if person != decided_by] if status.value in expected else []
    for person in staff:
        if notify(person, kind="supplier_status", now=now, link=f"/organisation/suppliers/{supplier.id}",
                  dedupe_key=f"supplier:{supplier.id}:{status.value}:{moment}:{person.id}",
                  title=f"Supplier {status.label.lower()}: {supplier.name}",
                  body=f"What happened: {summary}.\n"
                       f"What is expected of you: {expected[status.value]}"):
            sent += 1
    # Contacts read their own company's SCAR references only: the summary names nothing else.
    contacts = supplier_contacts(supplier.id) if status.value in expected_of_contacts else []
    for person in contacts:
        if notify(person, kind="own_supplier_status", now=now, link="/scar/",
                  dedupe_key=f"supplier:{supplier.id}:{status.value}:{moment}:{person.id}",
                  title=f"{supplier.name} is {status.label.lower()}",
                  body=f"What happened: {summary}.\n"
                       f"What is expected of you: {expected_of_contacts[status.value]}"):
            sent += 1
    return sent


def announce_decision(supplier, old, *, actor, now: dt.datetime) -> int:
    """Tell of an approval status a person set on the supplier's page: the supplier's contacts
    (probation, approval, disqualification) and the other coordinators (probation, which only a
    person lifts now). Returns how many were told."""
    summary = (f"{supplier.name}: approval status changed from {old.label.lower()} to "
               f"{supplier.approval_status.label.lower()} by {getattr(actor, 'name', 'a coordinator')}")
    return announce_status_change(supplier, summary, now=now, expected=EXPECTED_OF_A_DECISION,
                                  expected_of_contacts=EXPECTED_OF_CONTACTS_OF_A_DECISION, decided_by=actor)
