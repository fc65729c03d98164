"""This feature's share of "waiting for me" (``audit.core.todo``): suppliers whose approval
waits for a decision, for the coordinators (they evaluate suppliers and hold the right to change
a supplier's approval status).

DOMAIN §2: candidate → under evaluation → approved | conditionally approved | rejected, and
approved → on probation → approved | disqualified. A supplier under evaluation waits for the
evaluation's decision; one on probation for its SCARs to be cleared (it then returns to approved
by itself, ``audit.findings.probation``) or for a coordinator to disqualify it -- unless a
coordinator put it on probation on its page: only a person lifts that one. The domain sets no
due date for either, so the items carry none.

Two queries for a coordinator (the suppliers, who decided their probation), none for anyone
else, whatever the number of suppliers.
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from sqlalchemy import select

from audit.core.todo import ToDo
from audit.extensions import db
from audit.models import ApprovalStatus, Role, Supplier

#: Per status that waits for a coordinator: (step, what is expected, detail). Details stay
#: short: the list shows 60 characters of them.
DECISIONS = {
    ApprovalStatus.UNDER_EVALUATION: (
        "evaluate_supplier", "Supplier to evaluate",
        "Decide: approved, conditionally approved or rejected."),
    ApprovalStatus.ON_PROBATION: (
        "supplier_on_probation", "Supplier on probation to follow up",
        "Follow up its SCARs and majors, or disqualify it."),
}


#: The detail of a probation a coordinator set on the supplier's page (the sweep never lifts it).
DECIDED_PROBATION = "Set by hand: approve it again when satisfied, or disqualify it."


def waiting_source(user, now: dt.datetime) -> list[ToDo]:
    """Suppliers under evaluation or on probation, for coordinators."""
    if Role.COORDINATOR not in user.roles:
        return []
    suppliers = db.session.scalars(select(Supplier).where(Supplier.approval_status.in_(list(DECISIONS)))
                                   .order_by(Supplier.name, Supplier.id))
    suppliers = suppliers.all()
    # Imported here: the findings feature builds on this one.
    from audit.findings.probation import decided_by_people

    decided = decided_by_people([s for s in suppliers if s.approval_status is ApprovalStatus.ON_PROBATION])
    items = []
    for supplier in suppliers:
        step, label, detail = DECISIONS[supplier.approval_status]
        if supplier.id in decided:
            detail = DECIDED_PROBATION
        items.append(ToDo("organisation", step, label, supplier.name, detail,
                          url_for("organisation.supplier_detail", obj_id=supplier.id),
                          pill=("", supplier.approval_status.label)))
    return items
