"""Programme forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from audit.extensions import db
from audit.models import ProgrammeStatus, Role, User, UserRole


class ProgrammeForm(FlaskForm):
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
        self.manager_id.choices = [(0, "—")] + [(u.id, u.name) for u in db.session.scalars(stmt)]


class ProgrammeStatusForm(FlaskForm):
    """Approve / activate / close."""

    status = SelectField("New status", choices=[SelectChoice(s.value, s.value.capitalize()) for s in ProgrammeStatus])
