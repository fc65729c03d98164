"""Demo step: top management's side — a year of objective measurements (one objective missed,
one at risk), process indicators, a year of complaints, two satisfaction surveys, a risk
register, context changes, and a past management review with outputs, one still open.

Everything goes through the services with clocks at plausible past moments, so the trail and
the period-frozen pack look as in real use. Idempotent: each record is recognised by its title
(or customer and date); a second run adds nothing.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from audit.extensions import db
from audit.management import objectives as obj_services
from audit.management import registers, reviews, risk_actions
from audit.models import (
    Complaint,
    ContextChange,
    ManagementReview,
    ProcessIndicator,
    QualityObjective,
    Risk,
    RiskAction,
    SatisfactionResult,
)

#: title, owner key, unit name or None, measure, target, unit, direction, months until due, values (oldest first)
OBJECTIVES = [
    ("On-time delivery to customers", "owner2", None, "Orders shipped by the confirmed date", "95", "%",
     "higher", 9, [91.2, 92.0, 92.8, 93.5, 94.1, 94.0, 95.2, 95.6, 95.1, 96.0, 95.8, 96.3]),
    ("Fewer customer complaints", "coordinator", None, "Complaints received per month", "3", "complaints",
     "lower", 9, [5, 4, 4, 3, 4, 3, 2, 3, 2, 2, 3, 2]),
    ("Scrap rate in machining", "owner", "Production – machining", "Scrapped parts / parts made", "1.5", "%",
     "lower", 0, [2.6, 2.5, 2.4, 2.4, 2.3, 2.2, 2.3, 2.1, 2.2, 2.0, 2.1, 2.1]),
    ("First-pass yield in assembly", "owner2", "Production – assembly", "Units passing final test first time",
     "98", "%", "higher", 6, [96.0, 96.4, 96.9, 97.1, 97.0, 97.3, 97.6, 97.4, 97.2, 97.5, 97.1, 97.2]),
]

#: unit name, indicator, target, unit, direction, monthly values (oldest first)
INDICATORS = [
    ("Production – machining", "Overall equipment effectiveness", "80", "%", "higher",
     [74, 75, 77, 76, 78, 79, 81, 80, 82, 81, 83, 82]),
    ("Production – assembly", "Assembly defects", "500", "ppm", "lower",
     [720, 680, 650, 610, 590, 560, 540, 520, 530, 490, 480, 470]),
    ("Purchasing", "Supplier on-time delivery", "92", "%", "higher",
     [88, 89, 90, 90, 91, 89, 92, 93, 92, 94, 93, 93]),
    ("Quality control & inspection", "Inspection escapes to customers", "2", "per month", "lower",
     [4, 3, 3, 2, 3, 2, 2, 1, 2, 1, 1, 2]),
    ("Warehouse & logistics", "Picking accuracy", "99.5", "%", "higher",
     [98.9, 99.0, 99.1, 99.2, 99.3, 99.2, 99.4, 99.5, 99.6, 99.5, 99.6, 99.7]),
]

#: months ago, customer, product, severity, closed after days (None = open), description
COMPLAINTS = [
    (11, "Nordwind Maschinenbau", "Shaft SH-220", "high", 34, "Shafts out of tolerance on bearing seat."),
    (10, "Lakeside Pumps Inc.", "Housing H-14", "medium", 21, "Paint damage on delivery."),
    (9, "Nordwind Maschinenbau", "Shaft SH-220", "medium", 18, "Late delivery, line stop at customer."),
    (8, "Kaito Robotics", "Gear set G-7", "low", 9, "Wrong labels on boxes."),
    (6, "Lakeside Pumps Inc.", "Housing H-14", "high", 40, "Porosity found in machined housings."),
    (5, "Vera Agritech", "Bracket B-3", "low", 7, "Missing certificate of conformity."),
    (3, "Kaito Robotics", "Gear set G-7", "medium", 25, "Noise in gear sets under load."),
    (2, "Nordwind Maschinenbau", "Shaft SH-310", "medium", None, "Surface roughness above drawing."),
    (1, "Vera Agritech", "Bracket B-5", "low", None, "Packaging not as agreed."),
]

RISKS = [
    ("Single-source supplier for castings", "risk", 4, 4, "owner2", "Qualify a second foundry; safety stock of 6 weeks.",
     -200, 2, "effective", -40),
    ("Loss of key CNC programmers", "risk", 3, 4, "owner", "Cross-train two operators; document programs.",
     -150, 30, None, None),
    ("Customer data in spreadsheets", "risk", 3, 3, "coordinator", "Move order data to the ERP.",
     -120, -20, "not_effective", -25),
    ("Automated optical inspection in assembly", "opportunity", 3, 4, "owner2",
     "Pilot AOI station on line 2.", -90, 60, None, None),
    ("Regional customers asking for shorter lead times", "opportunity", 4, 3, "coordinator",
     "Offer a stocked standard range.", -60, 90, None, None),
]

#: Tracked actions on risks: risk, action, owner, planned (days ago), due (days after planning),
#: done (days ago, None = open), effectiveness review (outcome, days ago) or None.
RISK_ACTIONS = [
    ("Single-source supplier for castings", "Qualify a second foundry (first article, process audit).",
     "owner2", 200, 90, 100, ("effective", 40)),
    ("Single-source supplier for castings", "Keep six weeks of safety stock for castings.",
     "owner2", 200, 30, 160, ("effective", 40)),
    ("Loss of key CNC programmers", "Cross-train two operators on the 5-axis programs.",
     "owner", 150, 120, None, None),
    ("Loss of key CNC programmers", "Document the CNC programs in the shared library.",
     "owner", 150, 130, None, None),
    ("Customer data in spreadsheets", "Move customer order data to the ERP.",
     "coordinator", 120, 60, 45, ("not_effective", 25)),
]

#: days ago, category, title
CONTEXT = [
    (300, "external", "New energy price regulation raises electricity costs"),
    (210, "interested_party", "Key customer requires ISO 14001 certification by next year"),
    (120, "internal", "New ERP system goes live in purchasing"),
    (45, "external", "Main competitor opened a plant in our region"),
]


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=1) + relativedelta(months=1) - dt.timedelta(days=1)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(15, 0), tzinfo=dt.UTC)


def seed(ctx) -> None:
    """Objectives, indicators, feedback, risks, context and a past review; idempotent."""
    if "coordinator" not in ctx.users:
        return
    actor = ctx.users["coordinator"]
    this_month = ctx.today.replace(day=1)
    # The last twelve complete months, oldest first.
    months = [_month_end(this_month - relativedelta(months=n)) for n in range(12, 0, -1)]
    units = {u.name: u for u in ctx.units}
    made = 0
    for title, owner, unit, measure, target, unit_label, direction, due_months, values in OBJECTIVES:
        if db.session.scalar(select(QualityObjective.id).where(QualityObjective.title == title)):
            continue
        start = months[0].replace(day=1)
        due = _month_end(this_month + relativedelta(months=due_months)) if due_months else months[-1]
        objective = obj_services.create_objective({
            "title": title, "measure": measure, "target": target, "target_unit": unit_label,
            "direction": direction, "frequency": "monthly", "owner_id": ctx.users[owner].id,
            "unit_id": units[unit].id if unit in units else None, "starts_on": start, "due_on": due,
            "policy_commitment": "Satisfy our customers' requirements and improve continually.",
            "plan_what": f"Monthly review of {measure.lower()} with the process team.",
            "plan_resources": "Process team, ERP reports", "plan_who": ctx.users[owner].name,
            "plan_evaluation": "Latest monthly value against the target at the management review.",
        }, actor=actor, now=_at(start))
        for day, value in zip(months, values, strict=True):
            obj_services.record_measurement(objective, {"measured_on": day, "value": value},
                                            actor=actor, now=_at(day + dt.timedelta(days=3)))
        made += 1
    for unit, name, target, unit_label, direction, values in INDICATORS:
        if unit not in units or db.session.scalar(select(ProcessIndicator.id).where(ProcessIndicator.name == name)):
            continue
        indicator = registers.create_indicator({
            "unit_id": units[unit].id, "name": name, "target": target, "target_unit": unit_label,
            "direction": direction, "definition": f"{name}, monthly, from the ERP."}, actor=actor,
            now=_at(months[0].replace(day=1)))
        for day, value in zip(months, values, strict=True):
            registers.record_indicator_result(indicator, {"period_end": day, "value": value},
                                              actor=actor, now=_at(day + dt.timedelta(days=4)))
    _feedback(ctx, actor, months)
    _risks_and_context(ctx, actor)
    _past_review(ctx, actor, months)
    ctx.summary["objectives"] = made
    db.session.flush()


def _feedback(ctx, actor, months) -> None:
    for ago, customer, product, severity, closed_after, text in COMPLAINTS:
        received = ctx.today.replace(day=1) - relativedelta(months=ago) + dt.timedelta(days=9)
        if db.session.scalar(select(Complaint.id).where(Complaint.customer == customer,
                                                        Complaint.received_on == received)):
            continue
        closed = received + dt.timedelta(days=closed_after) if closed_after else None
        if closed is not None and closed > ctx.today:
            closed = None
        registers.create_complaint({
            "customer": customer, "product": product, "received_on": received, "severity": severity,
            "status": "closed" if closed else "investigating", "closed_on": closed, "description": text,
            "unit_id": 0}, actor=actor, now=_at(received))
    halves = [(months[0].replace(day=1), months[5]), (months[6].replace(day=1), months[11])]
    for (start, end), score, n in zip(halves, ("4.1", "4.3"), (38, 44), strict=True):
        title = f"Customer satisfaction survey {start:%b %Y} – {end:%b %Y}"
        if db.session.scalar(select(SatisfactionResult.id).where(SatisfactionResult.title == title)):
            continue
        registers.create_survey({"title": title, "period_start": start, "period_end": end, "score": score,
                                 "scale_max": "5", "method": "Online questionnaire to key accounts",
                                 "sample_size": n}, actor=actor, now=_at(end + dt.timedelta(days=10)))


def _risks_and_context(ctx, actor) -> None:
    for title, kind, lik, imp, owner, actions, found, review_in, outcome, reviewed_ago in RISKS:
        if db.session.scalar(select(Risk.id).where(Risk.title == title)):
            continue
        identified = ctx.today + dt.timedelta(days=found)
        registers.create_risk({
            "title": title, "kind": kind, "likelihood": lik, "impact": imp, "owner_id": ctx.users[owner].id,
            "unit_id": 0, "actions": actions, "identified_on": identified,
            "review_due_on": ctx.today + dt.timedelta(days=review_in),
            "effectiveness": outcome or "not_reviewed",
            "reviewed_on": ctx.today + dt.timedelta(days=reviewed_ago) if reviewed_ago else None,
            "review_note": "Reviewed with the owner." if outcome else None}, actor=actor, now=_at(identified))
    _risk_actions(ctx, actor)
    for ago, category, title in CONTEXT:
        if db.session.scalar(select(ContextChange.id).where(ContextChange.title == title)):
            continue
        day = ctx.today - dt.timedelta(days=ago)
        registers.create_context_change({"changed_on": day, "category": category, "title": title},
                                        actor=actor, now=_at(day))


def _risk_actions(ctx, actor) -> None:
    """Actions on the risks with owners and due dates: some done and reviewed, two open (one of
    them overdue, so the reminder sweep and "waiting for me" have something to show)."""
    for title, description, owner, ago, due_after, done_ago, review in RISK_ACTIONS:
        risk = db.session.scalar(select(Risk).where(Risk.title == title))
        if risk is None or db.session.scalar(select(RiskAction.id).where(
                RiskAction.risk_id == risk.id, RiskAction.description == description)):
            continue
        planned = ctx.today - dt.timedelta(days=ago)
        action = risk_actions.add_action(risk, {"description": description, "owner_id": ctx.users[owner].id,
                                                "due_on": planned + dt.timedelta(days=due_after)},
                                         actor=actor, now=_at(planned))
        if done_ago is None:
            continue
        risk_actions.close_action(action, "done", "Done; evidence in the risk file.", actor=ctx.users[owner],
                                  now=_at(ctx.today - dt.timedelta(days=done_ago)))
        if review is not None:
            outcome, review_ago = review
            day = ctx.today - dt.timedelta(days=review_ago)
            risk_actions.review_effectiveness(action, {"effectiveness": outcome, "reviewed_on": day,
                                                       "review_note": "Checked at the risk review."},
                                              actor=actor, now=_at(day))


def _past_review(ctx, actor, months) -> None:
    """Last year's review, held and signed off, with three outputs: two done, one still open."""
    end = months[-4]  # the period ended four months ago
    start = end - relativedelta(years=1) + dt.timedelta(days=1)
    title = f"Management review {end:%Y}"
    if db.session.scalar(select(ManagementReview.id).where(ManagementReview.period_end == end)):
        return
    chair = ctx.users.get("viewer") or actor
    held = end + dt.timedelta(days=20)
    review = reviews.plan_review({"title": title, "period_start": start, "period_end": end,
                                 "planned_on": held, "chair_id": chair.id,
                                 "invitee_ids": [actor.id, ctx.users["owner"].id],
                                 "attendees": f"{chair.name}\n{actor.name}"}, actor=actor, now=_at(end))
    reviews.hold_review(review, {"held_on": held, "attendees": f"{chair.name}\n{actor.name}",
                                 "minutes": "Objectives and audit results reviewed; scrap in machining "
                                            "remains above target."}, actor=chair, now=_at(held))
    outputs = [
        ("improvement", "Launch a scrap-reduction project in machining.", "owner", 60, 50),
        ("resources", "Hire a second quality engineer for assembly.", "coordinator", 90, 80),
        ("system_change", "Add ISO 14001 to the certification scope.", "coordinator", 240, None),
    ]
    for kind, decision, owner, due_days, done_days in outputs:
        action = reviews.add_output(review, {"kind": kind, "decision": decision,
                                             "owner_id": ctx.users[owner].id,
                                             "due_on": held + dt.timedelta(days=due_days)},
                                    actor=chair, now=_at(held))
        if done_days is not None and held + dt.timedelta(days=done_days) <= ctx.today:
            reviews.complete_output(action, "Done as decided; evidence in the project file.",
                                    actor=ctx.users[owner], now=_at(held + dt.timedelta(days=done_days)))
    reviews.sign_off(review, actor=chair, now=_at(held + dt.timedelta(days=2)))
