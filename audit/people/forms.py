"""User, qualification and training forms."""

from __future__ import annotations

from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from audit.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, POLICY_HINT
from audit.core.forms import AppForm, MultiCheckboxField, timezone_choices, validate_timezone
from audit.extensions import db
from audit.models import QualificationLevel, Role, Supplier
from audit.organisation.forms import internal_user_choices, standard_choices


class UserForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    job_title = StringField("Job title", validators=[Optional(), Length(max=120)])
    roles = MultiCheckboxField("Roles", choices=[(r.value, r.label) for r in Role])
    supplier_id = SelectField(
        "Supplier company", coerce=int, validators=[Optional()],
        description="Only for supplier contacts: they see nothing but their own company.",
    )
    timezone = SelectField("Time zone", choices=[], validators=[DataRequired(), validate_timezone])
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=POLICY_HINT + " Leave empty when editing to keep the current one; a new "
        "password logs the person out everywhere.",
    )
    is_active = BooleanField("Active", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()
        self.supplier_id.choices = [(0, "— none —")] + [
            (s.id, s.name) for s in db.session.scalars(select(Supplier).order_by(Supplier.name))
        ]

    def validate_roles(self, field):
        if not field.data:
            raise ValidationError("Give the person at least one role.")

    def validate_password(self, field):
        if getattr(self, "editing", None) is None and not field.data:
            raise ValidationError("A new account needs a password.")


class QualificationForm(AppForm):
    user_id = SelectField("Auditor", coerce=int, validators=[InputRequired()])
    standard_id = SelectField("Standard", coerce=int, validators=[InputRequired()])
    level = SelectField("Level", choices=[(q.value, q.label) for q in QualificationLevel])
    valid_from = DateField("Valid from", validators=[InputRequired()])
    valid_until = DateField("Valid until", validators=[Optional()])
    reference = StringField("Certificate / course reference", validators=[Optional(), Length(max=120)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_id.choices = internal_user_choices()
        self.standard_id.choices = standard_choices()

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError("“Valid until” cannot be before “valid from”.")


class TrainingRecordForm(AppForm):
    user_id = SelectField("Person", coerce=int, validators=[InputRequired()])
    title = StringField("Course or training", validators=[DataRequired(), Length(max=200)])
    provider = StringField("Provider", validators=[Optional(), Length(max=120)])
    completed_on = DateField("Completed on", validators=[InputRequired()])
    hours = IntegerField("Hours", validators=[Optional(), NumberRange(0, 2000)])
    standard_id = SelectField("Standard", coerce=int, validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_id.choices = internal_user_choices()
        self.standard_id.choices = [(0, "— none —")] + standard_choices()


