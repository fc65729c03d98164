"""Forms of top management's registers and reviews. Choices are filled per request; the
services check every value again (a form only shapes input)."""

from __future__ import annotations

from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from audit.core.forms import AppForm, MultiCheckboxField, model_choices
from audit.extensions import db
from audit.management import review_notices
from audit.models import (
    ComplaintStatus,
    ContextCategory,
    Direction,
    Effectiveness,
    Finding,
    FindingStatus,
    Frequency,
    OutputKind,
    Risk,
    RiskKind,
    Severity,
    Unit,
    User,
)


def _enum_choices(enum_cls) -> list[tuple[str, str]]:
    return [(m.value, m.label) for m in enum_cls]


def _people(blank: str | None = None):
    stmt = select(User).where(User.is_active.is_(True), User.supplier_id.is_(None)).order_by(User.name)
    return model_choices(stmt, blank=blank)


def _units(blank: str | None = "— organisation-wide —"):
    return model_choices(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.name), blank=blank)


_TEXT = [Optional(), Length(max=4000)]


class ObjectiveForm(AppForm):
    title = StringField("Objective", validators=[DataRequired(), Length(max=200)])
    policy_commitment = TextAreaField("Policy commitment it serves", validators=_TEXT)
    measure = StringField("Measure", validators=[DataRequired(), Length(max=200)],
                          description="What is measured, e.g. on-time delivery to customers.")
    target = StringField("Target", validators=[Length(max=30)])
    target_unit = StringField("Unit of the target", validators=[Length(max=30)],
                              description="%, days, ppm, EUR … — a target needs its unit.")
    direction = SelectField("Direction", choices=_enum_choices(Direction))
    frequency = SelectField("Measured", choices=_enum_choices(Frequency))
    owner_id = SelectField("Owner", coerce=int, validators=[InputRequired()])
    unit_id = SelectField("Unit", coerce=int, validators=[Optional()])
    starts_on = DateField("Measured from", validators=[Optional()])
    due_on = DateField("To be met by", validators=[Optional()])
    plan_what = TextAreaField("What will be done", validators=_TEXT)
    plan_resources = TextAreaField("Resources", validators=_TEXT)
    plan_who = TextAreaField("Who is responsible for the steps", validators=_TEXT)
    plan_evaluation = TextAreaField("How results are evaluated", validators=_TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = _people()
        self.unit_id.choices = _units()


class MeasurementForm(AppForm):
    measured_on = DateField("Date", validators=[Optional()])
    value = StringField("Value", validators=[Length(max=30)])
    note = StringField("Note", validators=[Optional(), Length(max=400)])


class ImportForm(AppForm):
    file = FileField("CSV or XLSX file (columns: date, value, note)")


class IndicatorForm(AppForm):
    unit_id = SelectField("Unit", coerce=int, validators=[InputRequired()])
    name = StringField("Indicator", validators=[DataRequired(), Length(max=200)])
    definition = TextAreaField("Definition", validators=_TEXT)
    target = StringField("Target", validators=[Length(max=30)])
    target_unit = StringField("Unit of the target", validators=[Length(max=30)])
    direction = SelectField("Direction", choices=_enum_choices(Direction))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = _units(blank=None)


class IndicatorResultForm(AppForm):
    period_end = DateField("Period ending", validators=[Optional()])
    value = StringField("Actual", validators=[Length(max=30)])


class SurveyForm(AppForm):
    title = StringField("Survey", validators=[DataRequired(), Length(max=200)])
    period_start = DateField("From", validators=[Optional()])
    period_end = DateField("To", validators=[Optional()])
    score = StringField("Score", validators=[Length(max=30)])
    scale_max = StringField("Best possible score", validators=[Length(max=30)], default="5")
    method = StringField("Method", validators=[DataRequired(), Length(max=120)],
                         description="Survey, interviews, net promoter score …")
    sample_size = IntegerField("Answers", validators=[Optional(), NumberRange(1, 10**7)])


class ComplaintForm(AppForm):
    customer = StringField("Customer", validators=[DataRequired(), Length(max=200)])
    product = StringField("Product or service", validators=[Optional(), Length(max=200)])
    received_on = DateField("Received", validators=[Optional()])
    severity = SelectField("Severity", choices=_enum_choices(Severity))
    status = SelectField("Status", choices=_enum_choices(ComplaintStatus))
    closed_on = DateField("Closed", validators=[Optional()])
    description = TextAreaField("Description", validators=_TEXT)
    unit_id = SelectField("Unit concerned", coerce=int, validators=[Optional()])
    finding_id = SelectField("Recorded as nonconformity", coerce=int, validators=[Optional()])
    risk_id = SelectField("Linked risk", coerce=int, validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = _units(blank="—")
        self.finding_id.choices = model_choices(
            select(Finding).where(Finding.status != FindingStatus.DRAFT).order_by(Finding.id.desc()).limit(300),
            label=lambda f: f"{f.reference} ({f.grade.label})")
        self.risk_id.choices = model_choices(Risk, Risk.title, label=lambda r: r.title)


class RiskForm(AppForm):
    title = StringField("Risk or opportunity", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=_enum_choices(RiskKind))
    description = TextAreaField("Description", validators=_TEXT)
    likelihood = IntegerField("Likelihood (1–5)", default=3, validators=[Optional(), NumberRange(1, 5)])
    impact = IntegerField("Impact (1–5)", default=3, validators=[Optional(), NumberRange(1, 5)])
    owner_id = SelectField("Owner", coerce=int, validators=[InputRequired()])
    unit_id = SelectField("Unit", coerce=int, validators=[Optional()])
    identified_on = DateField("Identified", validators=[Optional()])
    actions = TextAreaField("Approach (summary)", validators=_TEXT,
                            description="The tracked actions, with owners and due dates, are added on the risk's page.")
    review_due_on = DateField("Effectiveness review due", validators=[Optional()])
    effectiveness = SelectField("Effectiveness", choices=_enum_choices(Effectiveness))
    reviewed_on = DateField("Reviewed on", validators=[Optional()])
    review_note = TextAreaField("Review note", validators=_TEXT)
    finding_ids = MultiCheckboxField("Linked findings", coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = _people()
        self.unit_id.choices = _units()
        self.finding_ids.choices = [(f.id, f"{f.reference} ({f.grade.label})") for f in db_findings()]


def db_findings():
    """Issued nonconformities and OFIs a risk may be linked to (latest first, bounded)."""

    return db.session.scalars(select(Finding).where(Finding.status != FindingStatus.DRAFT)
                              .order_by(Finding.id.desc()).limit(100))


class ContextForm(AppForm):
    changed_on = DateField("Date of the change", validators=[Optional()])
    category = SelectField("Category", choices=_enum_choices(ContextCategory))
    title = StringField("What changed", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Details and expected effect", validators=_TEXT)


class ReviewForm(AppForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    period_start = DateField("Period from", validators=[Optional()])
    period_end = DateField("Period to", validators=[Optional()])
    planned_on = DateField("Meeting day", validators=[Optional()])
    chair_id = SelectField("Chair (top management)", coerce=int, validators=[InputRequired()])
    invitee_ids = MultiCheckboxField("Invited (the meeting goes into their calendar feed)", coerce=int)
    attendees = TextAreaField("Other invited (names, one per line)", validators=_TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only people who can open the review: its sign-off waits for the chair.
        self.chair_id.choices = model_choices(review_notices.invitable_people(), blank=None)
        # Only people who may open the review page (``review_notices.invitable_people``).
        self.invitee_ids.choices = model_choices(review_notices.invitable_people(), blank=None)


class HoldForm(AppForm):
    held_on = DateField("Held on", validators=[Optional()])
    attendees = TextAreaField("Attendees", validators=_TEXT)
    minutes = TextAreaField("Minutes", validators=[Optional(), Length(max=20000)])


class OutputForm(AppForm):
    kind = SelectField("Output", choices=_enum_choices(OutputKind))
    decision = TextAreaField("Decision / action", validators=[DataRequired(), Length(max=4000)])
    owner_id = SelectField("Owner", coerce=int, validators=[InputRequired()])
    due_on = DateField("Due", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = _people()


class RiskActionForm(AppForm):
    description = TextAreaField("Action", validators=[DataRequired(), Length(max=4000)])
    owner_id = SelectField("Owner", coerce=int, validators=[InputRequired()])
    due_on = DateField("Due", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = _people()


class ReassignForm(AppForm):
    """Hand an open action (risk action or review output) to another active owner."""

    owner_id = SelectField("New owner", coerce=int, validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = _people(blank="— choose —")


class RiskCloseForm(AppForm):
    outcome = SelectField("Outcome", choices=[("done", "Done"), ("withdrawn", "Withdrawn")])
    note = TextAreaField("What was done, or why it is withdrawn", validators=[DataRequired(), Length(max=4000)])


class RiskReviewForm(AppForm):
    effectiveness = SelectField("Effectiveness", choices=[("effective", "Effective"),
                                                          ("not_effective", "Not effective")])
    reviewed_on = DateField("Reviewed on", validators=[Optional()])
    review_note = TextAreaField("Review note", validators=_TEXT)


class ComplaintNCForm(AppForm):
    grade = SelectField("Grade")
    unit_id = SelectField("Unit", coerce=int, validators=[InputRequired()])
    statement = TextAreaField("Statement", validators=[DataRequired(), Length(max=4000)])
    clause_id = SelectField("Clause breached (optional)", coerce=int, validators=[Optional()])
    cost_category = SelectField("Cost of poor quality (optional)", validators=[Optional()])
    cost_amount = StringField("Amount", validators=[Optional(), Length(max=30)])
    cost_currency = StringField("Currency", validators=[Optional(), Length(max=3)])
    cost_incurred_on = DateField("Incurred on", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        from audit.models import Clause, CostCategory, Grade, Standard

        super().__init__(*args, **kwargs)
        self.grade.choices = [(g.value, g.label) for g in (Grade.MINOR, Grade.MAJOR)]
        self.unit_id.choices = _units(blank=None)
        self.clause_id.choices = model_choices(
            select(Clause).join(Standard).options(contains_eager(Clause.standard))
            .order_by(Standard.code, Clause.position, Clause.id),
            label=lambda c: f"{c.standard.code} {c.number} {c.title or ''}".strip(), blank="— none —")
        self.cost_category.choices = [("", "— no cost recorded —")] + _enum_choices(CostCategory)


class CancelForm(AppForm):
    reason = TextAreaField("Why it is cancelled", validators=[DataRequired(), Length(max=2000)])


class CompleteForm(AppForm):
    note = TextAreaField("What was done", validators=[DataRequired(), Length(max=4000)])


class ConfirmForm(AppForm):
    """A form that carries only its CSRF token (sign-off, raise an audit)."""
