"""Top management's registers: objectives, indicators, customer feedback, risks, context.

The registers are ``core.crud`` resources (list, detail, create, edit, each write through a
service with a trail entry); objectives and indicators add measurement entry and import, and a
complaint can raise an audit trigger. Reading needs VIEW_ORGANISATION; writing MANAGE_QUALITY,
except that owners record their own objectives' and units' figures.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.crud import Column, Resource, register
from audit.core.forms import form_values, saving
from audit.extensions import db
from audit.findings.costs import base_currency
from audit.management import charts, complaint_nc, forms, objectives, registers
from audit.models import (
    Complaint,
    ContextChange,
    ProcessIndicator,
    QualityObjective,
    Risk,
    SatisfactionResult,
    utcnow,
)
from audit.trail.services import entries_for

bp = Blueprint("management", __name__, url_prefix="/management")


def _num(value) -> str:
    return "" if value is None else f"{Decimal(value).normalize():f}"


def form_data(obj, form_cls) -> dict:
    """Edit-form values read off ``obj``: enums as their values, missing links as 0."""
    data = {}
    for name in form_cls.__dict__:
        if name.startswith("_") or not hasattr(obj, name):
            continue
        value = getattr(obj, name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, Decimal):
            value = _num(value)
        elif value is None and name.endswith("_id"):
            value = 0
        data[name] = value
    return data


def _today():
    return utcnow().date()


OBJECTIVES = Resource(
    name="objective", plural="objectives", title="Quality objectives", model=QualityObjective,
    form=forms.ObjectiveForm, create=objectives.create_objective, update=objectives.update_objective,
    columns=[
        Column("Objective", lambda o: o.title, link=True),
        Column("Scope", lambda o: o.unit.name if o.unit else "Organisation"),
        Column("Target", lambda o: f"{'≥' if o.direction.value == 'higher' else '≤'} {_num(o.target)} {o.target_unit}"),
        Column("Latest", lambda o: f"{_num(o.measurements[-1].value)} {o.target_unit}" if o.measurements else "—"),
        Column("Owner", objectives.owner_text),
        Column("Due", lambda o: f"{o.due_on:%d %b %Y}"),
        Column("Status", lambda o: objectives.status_as_of(o, _today())[0]),
    ],
    list_query=lambda: select(QualityObjective).options(
        joinedload(QualityObjective.unit), joinedload(QualityObjective.owner),
        selectinload(QualityObjective.measurements)).order_by(QualityObjective.due_on, QualityObjective.title,
                                                              QualityObjective.id),
    label=lambda o: o.title, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda o: form_data(o, forms.ObjectiveForm),
    details=lambda o: [
        ("Measure", o.measure), ("Target", f"{_num(o.target)} {o.target_unit} ({o.direction.label.lower()})"),
        ("Measured", o.frequency.label), ("Period", f"{o.starts_on:%d %b %Y} – {o.due_on:%d %b %Y}"),
        ("Owner", objectives.owner_text(o)), ("Scope", o.unit.name if o.unit else "Organisation"),
        ("Policy commitment", o.policy_commitment), ("What will be done", o.plan_what),
        ("Resources", o.plan_resources), ("Who", o.plan_who), ("How results are evaluated", o.plan_evaluation),
        ("Status today", objectives.status_as_of(o, _today())[0]),
    ],
    intro="Measurable objectives (ISO 9001 6.2) with their plan; the status is computed from the "
          "latest measurement against the target.",
    detail_template="management/objective_detail.html",
    detail_context=lambda o, user: _objective_context(o, user),
)


def _objective_context(objective, user, measurement_form=None, import_form=None) -> dict:
    points = [(f"{m.measured_on:%b %y}", m.value) for m in objective.measurements]
    return {
        "chart": charts.target_chart(points, objective.target, title=f"{objective.title}: measurements",
                                     unit=objective.target_unit),
        "can_record": objectives.can_record(objective, user),
        "measurement_form": measurement_form or forms.MeasurementForm(formdata=None),
        "import_form": import_form or forms.ImportForm(formdata=None),
    }


INDICATORS = Resource(
    name="indicator", plural="indicators", title="Process indicators", model=ProcessIndicator,
    form=forms.IndicatorForm, create=registers.create_indicator, update=registers.update_indicator,
    columns=[
        Column("Indicator", lambda i: i.name, link=True),
        Column("Unit", lambda i: i.unit.name),
        Column("Target", lambda i: f"{_num(i.target)} {i.target_unit}"),
        Column("Latest", lambda i: f"{_num(i.results[-1].value)} ({i.results[-1].period_end:%b %Y})"
               if i.results else "—"),
    ],
    list_query=lambda: select(ProcessIndicator).options(
        joinedload(ProcessIndicator.unit), selectinload(ProcessIndicator.results))
    .order_by(ProcessIndicator.name, ProcessIndicator.id),
    label=lambda i: i.name, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda i: form_data(i, forms.IndicatorForm),
    details=lambda i: [("Unit", i.unit.name), ("Definition", i.definition),
                       ("Target", f"{_num(i.target)} {i.target_unit} ({i.direction.label.lower()})")],
    intro="Process performance indicators (ISO 9001 9.1.1), shown on the unit's page and to auditors.",
    detail_template="management/indicator_detail.html",
    detail_context=lambda i, user: {"can_record": registers.can_record_result(i, user),
                                    "result_form": forms.IndicatorResultForm(formdata=None)},
)

SURVEYS = Resource(
    name="survey", plural="satisfaction", title="Customer satisfaction", model=SatisfactionResult,
    form=forms.SurveyForm, create=registers.create_survey, update=registers.update_survey,
    columns=[Column("Survey", lambda s: s.title, link=True),
             Column("Period", lambda s: f"{s.period_start:%d %b %Y} – {s.period_end:%d %b %Y}"),
             Column("Score", lambda s: f"{_num(s.score)} / {_num(s.scale_max)}"),
             Column("Method", lambda s: s.method), Column("Answers", lambda s: s.sample_size)],
    list_query=lambda: select(SatisfactionResult).order_by(SatisfactionResult.period_end.desc(),
                                                                     SatisfactionResult.id.desc()),
    label=lambda s: s.title, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda s: form_data(s, forms.SurveyForm),
    details=lambda s: [("Period", f"{s.period_start:%d %b %Y} – {s.period_end:%d %b %Y}"),
                       ("Score", f"{_num(s.score)} / {_num(s.scale_max)}"), ("Method", s.method),
                       ("Answers", s.sample_size)],
    intro="Customer satisfaction results per period (ISO 9001 9.1.2).",
)

COMPLAINTS = Resource(
    name="complaint", plural="complaints", title="Customer complaints", model=Complaint,
    form=forms.ComplaintForm, create=registers.create_complaint, update=registers.update_complaint,
    columns=[Column("Reference", lambda c: c.reference, link=True), Column("Customer", lambda c: c.customer),
             Column("Product", lambda c: c.product or "—"),
             Column("Received", lambda c: f"{c.received_on:%d %b %Y}"),
             Column("Severity", lambda c: c.severity.label), Column("Status", lambda c: c.status.label),
             Column("Unit", lambda c: c.unit.name if c.unit else "—")],
    list_query=lambda: select(Complaint).options(joinedload(Complaint.unit))
    .order_by(Complaint.received_on.desc(), Complaint.id.desc()),
    label=lambda c: c.reference, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda c: form_data(c, forms.ComplaintForm),
    details=lambda c: [("Customer", c.customer), ("Product", c.product), ("Received", c.received_on),
                       ("Severity", c.severity.label), ("Status", c.status.label), ("Closed", c.closed_on),
                       ("Unit", c.unit.name if c.unit else None), ("Description", c.description),
                       ("Nonconformity", c.finding.reference if c.finding else None),
                       ("Audit trigger", c.trigger.title if c.trigger else None),
                       ("Risk", c.risk.title if c.risk else None)],
    intro="Customer complaints (ISO 9001 9.1.2); a complaint can raise an audit of its unit and be "
          "recorded as a nonconformity with its cost.",
    detail_template="management/complaint_detail.html",
    detail_context=lambda c, user: _complaint_context(c, user),
)


def _complaint_context(complaint, user, nc_form=None, confirm_form=None) -> dict:
    manages = user.can(Permission.MANAGE_QUALITY)
    form = nc_form
    if form is None and manages and complaint.finding_id is None:
        form = forms.ComplaintNCForm(formdata=None, data={
            "statement": complaint_nc.default_statement(complaint), "unit_id": complaint.unit_id or 0,
            "cost_currency": base_currency(), "cost_incurred_on": complaint.received_on})
    return {"confirm_form": confirm_form or forms.ConfirmForm(formdata=None), "nc_form": form,
            "can_raise": manages and complaint.trigger_id is None,
            "can_raise_nc": manages and complaint.finding_id is None}

RISKS = Resource(
    name="risk", plural="risks", title="Risks and opportunities", model=Risk,
    form=forms.RiskForm, create=registers.create_risk, update=registers.update_risk,
    columns=[Column("Title", lambda r: r.title, link=True), Column("Kind", lambda r: r.kind.label),
             Column("Score", lambda r: f"{r.score} ({r.likelihood}×{r.impact})"),
             Column("Owner", lambda r: r.owner.name if r.owner else "—"),
             Column("Review due", lambda r: f"{r.review_due_on:%d %b %Y}" if r.review_due_on else "—"),
             Column("Effectiveness", lambda r: r.effectiveness.label)],
    list_query=lambda: select(Risk).options(joinedload(Risk.owner))
    .order_by((Risk.likelihood * Risk.impact).desc(), Risk.title, Risk.id),
    label=lambda r: r.title, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda r: {**form_data(r, forms.RiskForm), "finding_ids": [f.id for f in r.findings]},
    details=lambda r: [("Kind", r.kind.label), ("Score", f"{r.score} (likelihood {r.likelihood} × impact {r.impact})"),
                       ("Owner", r.owner.name if r.owner else None), ("Unit", r.unit.name if r.unit else None),
                       ("Description", r.description), ("Approach", r.actions),
                       ("Identified", r.identified_on), ("Effectiveness review due", r.review_due_on),
                       ("Effectiveness", r.effectiveness.label), ("Reviewed", r.reviewed_on),
                       ("Review note", r.review_note),
                       ("Linked findings", ", ".join(f.reference for f in r.findings)),
                       ("Linked complaints", ", ".join(c.reference for c in r.complaints))],
    intro="Risks and opportunities (ISO 9001 6.1): score = likelihood × impact; actions with owners "
          "and due dates, tracked to closure, and their effectiveness review.",
    detail_template="management/risk_detail.html",
    detail_context=lambda r, user: _risk_context(r, user),
)

CONTEXT = Resource(
    name="context_change", plural="context", title="Context changes", model=ContextChange,
    form=forms.ContextForm, create=registers.create_context_change, update=registers.update_context_change,
    columns=[Column("Date", lambda c: f"{c.changed_on:%d %b %Y}"), Column("Change", lambda c: c.title, link=True),
             Column("Category", lambda c: c.category.label),
             Column("Recorded by", lambda c: c.recorded_by.name if c.recorded_by else "—")],
    list_query=lambda: select(ContextChange).options(joinedload(ContextChange.recorded_by))
    .order_by(ContextChange.changed_on.desc(), ContextChange.id.desc()),
    label=lambda c: c.title, write_permission=Permission.MANAGE_QUALITY,
    form_data=lambda c: form_data(c, forms.ContextForm),
    details=lambda c: [("Date", c.changed_on), ("Category", c.category.label), ("Details", c.description),
                       ("Recorded by", c.recorded_by.name if c.recorded_by else None)],
    intro="Changes in internal and external issues and in interested parties' requirements (ISO 9001 4.1, 4.2).",
)

def _risk_context(risk, user) -> dict:
    from audit.management.risk_views import risk_context  # it adds its routes to this blueprint

    return risk_context(risk, user)


RESOURCES = (OBJECTIVES, INDICATORS, SURVEYS, COMPLAINTS, RISKS, CONTEXT)
for _res in RESOURCES:
    register(bp, _res)


@bp.get("/")
@requires(Permission.VIEW_ORGANISATION)
def index():
    """Top management's registers at a glance: objectives by status and where to go."""
    rows = list(db.session.scalars(OBJECTIVES.list_query()).unique())
    today = _today()
    statuses = [(o, objectives.status_as_of(o, today)[0]) for o in rows]
    return render_template("management/index.html", statuses=statuses, resources=RESOURCES)


def _detail(res: Resource, obj, status: int, **context):
    return render_template(res.detail_template, res=res, obj=obj, details=res.details(obj),
                           trail=entries_for(obj), sections=[], **context), status


@bp.post("/objectives/<int:obj_id>/measurements")
@requires(Permission.OWN_ACCOUNT)
def add_measurement(obj_id: int):
    """The owner (or a quality manager) records one measured value."""
    objective = db.session.get(QualityObjective, obj_id) or abort(404)
    if not objectives.can_record(objective, current_user):
        abort(403)
    form = forms.MeasurementForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            objectives.record_measurement(objective, {"measured_on": form.measured_on.data,
                                                      "value": form.value.data, "note": form.note.data},
                                          actor=current_user, now=utcnow())
        if saved.ok:
            flash("Measurement recorded.", "success")
            return redirect(url_for(".objective_detail", obj_id=obj_id))
    db.session.rollback()
    return _detail(OBJECTIVES, objective, 422, **_objective_context(objective, current_user, measurement_form=form))


@bp.post("/objectives/<int:obj_id>/import")
@requires(Permission.OWN_ACCOUNT)
def import_measurements(obj_id: int):
    """Import measurements from CSV or XLSX: all lines or none, every bad line named."""
    objective = db.session.get(QualityObjective, obj_id) or abort(404)
    if not objectives.can_record(objective, current_user):
        abort(403)
    form = forms.ImportForm()
    upload = request.files.get("file")
    if form.validate_on_submit():
        if upload is None or not upload.filename:
            form.file.errors = ["Choose a CSV or XLSX file."]
        else:
            with saving(form, forbidden_aborts=True) as saved:
                rows = objectives.read_rows(upload.filename, upload.read(5 * 1024 * 1024))
                count = objectives.import_measurements(objective, rows, actor=current_user, now=utcnow())
            if saved.ok:
                flash(f"{count} measurement(s) imported.", "success")
                return redirect(url_for(".objective_detail", obj_id=obj_id))
    db.session.rollback()
    return _detail(OBJECTIVES, objective, 422, **_objective_context(objective, current_user, import_form=form))


@bp.post("/indicators/<int:obj_id>/results")
@requires(Permission.OWN_ACCOUNT)
def add_result(obj_id: int):
    """The unit's owner (or a quality manager) records an indicator's actual for a period."""
    indicator = db.session.get(ProcessIndicator, obj_id) or abort(404)
    if not registers.can_record_result(indicator, current_user):
        abort(403)
    form = forms.IndicatorResultForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            registers.record_indicator_result(indicator, {"period_end": form.period_end.data,
                                                          "value": form.value.data},
                                              actor=current_user, now=utcnow())
        if saved.ok:
            flash("Result recorded.", "success")
            return redirect(url_for(".indicator_detail", obj_id=obj_id))
    db.session.rollback()
    return _detail(INDICATORS, indicator, 422, can_record=True, result_form=form)


@bp.post("/complaints/<int:obj_id>/audit")
@requires(Permission.MANAGE_QUALITY)
def raise_audit(obj_id: int):
    """Let a complaint call for an audit of its unit (programme triggers)."""
    complaint = db.session.get(Complaint, obj_id) or abort(404)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            trigger = registers.raise_complaint_audit(complaint, actor=current_user, now=utcnow())
        if saved.ok:
            flash(f"Audit trigger recorded; the audit is due by {trigger.due_by:%d %b %Y}.", "success")
            return redirect(url_for(".complaint_detail", obj_id=obj_id))
    db.session.rollback()
    return _detail(COMPLAINTS, complaint, 422, **_complaint_context(complaint, current_user, confirm_form=form))


@bp.post("/complaints/<int:obj_id>/nonconformity")
@requires(Permission.MANAGE_QUALITY)
def raise_nonconformity(obj_id: int):
    """Record the complaint as an issued nonconformity (with its cost) through the findings services."""
    complaint = db.session.get(Complaint, obj_id) or abort(404)
    form = forms.ComplaintNCForm()
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            finding = complaint_nc.raise_nonconformity(complaint, form_values(form), actor=current_user,
                                                       now=utcnow())
        if saved.ok:
            flash(f"Recorded as {finding.reference}; its owner was told.", "success")
            return redirect(url_for(".complaint_detail", obj_id=obj_id))
    db.session.rollback()
    complaint = db.session.get(Complaint, obj_id)
    return _detail(COMPLAINTS, complaint, 422, **_complaint_context(complaint, current_user, nc_form=form))


def unit_indicators_section(unit, user) -> dict | None:
    """The unit's indicators with their latest results, for the unit's page and the audit page."""
    indicators = list(db.session.scalars(
        select(ProcessIndicator).where(ProcessIndicator.unit_id == unit.id)
        .options(selectinload(ProcessIndicator.results)).order_by(ProcessIndicator.name)))
    return {"title": "Process indicators", "template": "management/_indicators.html",
            "context": {"indicators": indicators, "units": [unit]}}


def audit_indicators_section(audit, user) -> dict | None:
    """Beside the checklist: the numbers of the audited processes, so auditors see them first."""
    unit_ids = [u.id for u in audit.units]
    if not unit_ids:
        return None
    indicators = list(db.session.scalars(
        select(ProcessIndicator).where(ProcessIndicator.unit_id.in_(unit_ids))
        .options(selectinload(ProcessIndicator.results), joinedload(ProcessIndicator.unit))
        .order_by(ProcessIndicator.unit_id, ProcessIndicator.name)))
    if not indicators:
        return None
    return {"title": "Process indicators", "template": "management/_indicators.html",
            "context": {"indicators": indicators, "units": list(audit.units)}}

