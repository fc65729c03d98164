"""Programme forms."""

from __future__ import annotations

from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from audit.core.forms import AppForm, model_choices
from audit.extensions import db
from audit.models import (
    Certificate,
    Programme,
    ProgrammeStatus,
    Role,
    RuleKind,
    Site,
    Standard,
    Supplier,
    TriggerKind,
    Unit,
    User,
    UserRole,
)


class ProgrammeForm(AppForm):
    """Create or edit a programme."""

    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    period_start = DateField("Period starts", validators=[DataRequired()])
    period_end = DateField("Period ends", validators=[DataRequired()])
    audit_client = StringField("Audit client", validators=[Optional(), Length(max=160)],
                               description="Who approves the programme (top management for internal audits).")
    manager_id = SelectField("Programme manager", coerce=int, validate_choice=False)
    objectives = TextAreaField("Objectives", validators=[Optional()])
    scope = TextAreaField("Scope", validators=[Optional()])
    risks = TextAreaField("Risks and opportunities", validators=[Optional()])

    def fill_choices(self) -> None:
        stmt = (select(User).join(UserRole).where(UserRole.role == Role.COORDINATOR).order_by(User.name))
        self.manager_id.choices = model_choices(stmt)


class ProgrammeStatusForm(AppForm):
    """Approve / activate / close."""

    status = SelectField("New status", choices=[SelectChoice(s.value, s.value.capitalize()) for s in ProgrammeStatus])


class RuleForm(AppForm):
    """Add a rule that generates audits."""

    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.label) for k in RuleKind])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    unit_id = SelectField("Unit (risk-based internal audits)", coerce=int, validate_choice=False)
    supplier_id = SelectField("Supplier (supplier audits)", coerce=int, validate_choice=False)
    certificate_id = SelectField("Certificate (certification cycle)", coerce=int, validate_choice=False)
    site_id = SelectField("Site (certification audits, RRULE)", coerce=int, validate_choice=False)
    standard_id = SelectField("Standard", coerce=int, validate_choice=False)
    rrule = StringField("Recurrence (RFC 5545 RRULE)", validators=[Optional(), Length(max=250)],
                        description="e.g. FREQ=MONTHLY;INTERVAL=6;BYDAY=1TU")
    starts_on = DateField("First occurrence / count from", validators=[Optional()])
    start_time = StringField("Local start time", default="09:00", validators=[Optional(), Length(max=5)])
    planned_days = IntegerField("Days per audit", default=1, validators=[NumberRange(1, 30)])
    horizon_months = IntegerField("Rolling horizon (months)", default=15, validators=[NumberRange(1, 36)])

    def fill_choices(self) -> None:

        self.unit_id.choices = model_choices(Unit, Unit.name)
        self.supplier_id.choices = model_choices(Supplier, Supplier.name)
        self.certificate_id.choices = model_choices(Certificate, Certificate.number,
                                                    label=lambda c: c.number or str(c.id))
        self.site_id.choices = model_choices(Site, Site.name)
        self.standard_id.choices = model_choices(Standard, Standard.code, label=lambda s: s.label)


class TriggerForm(AppForm):
    """Record a complaint, incident or significant change that calls for an audit."""

    kind = SelectField("What happened", choices=[SelectChoice(k.value, k.label) for k in TriggerKind])
    title = StringField("In a few words", validators=[DataRequired(), Length(max=200)])
    occurred_on = DateField("Date", validators=[DataRequired()],
                            description="When it happened; for a change, when it takes effect.")
    unit_id = SelectField("Unit", coerce=int, validate_choice=False)
    supplier_id = SelectField("or supplier", coerce=int, validate_choice=False)
    external_reference = StringField("Complaint / incident / change number", validators=[Optional(), Length(max=60)])
    description = TextAreaField("Details", validators=[Optional()])
    programme_id = SelectField("Programme", coerce=int, validate_choice=False,
                               description="Empty: the active programme covering the deadline.")

    def fill_choices(self) -> None:

        units = db.session.execute(select(Unit.id, Unit.name, Site.name).join(Site, Unit.site_id == Site.id)
                                   .where(Unit.is_active.is_(True)).order_by(Site.name, Unit.name)).all()
        self.unit_id.choices = [(0, "—")] + [(uid, f"{site} · {name}") for uid, name, site in units]
        self.supplier_id.choices = model_choices(Supplier, Supplier.name)
        open_programmes = (select(Programme).where(Programme.status != ProgrammeStatus.CLOSED)
                           .order_by(Programme.period_start.desc()))
        self.programme_id.choices = model_choices(open_programmes, blank="— automatic —")
