"""Forms of the conduct pages (the checklist itself saves through the JSON API)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from audit.models import Grade


class RaiseFindingForm(FlaskForm):
    """A finding raised from a checklist answer; clauses and question come from the answer."""

    grade = SelectField("Grade", choices=[SelectChoice(g.value, g.label) for g in Grade])
    statement = TextAreaField("Statement", validators=[DataRequired(message="State the finding."),
                                                       Length(max=5000)])
    evidence = TextAreaField("Objective evidence", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Raise finding")


class ReportForm(FlaskForm):
    """The closing record: what the report concludes (ISO 19011 6.5.1)."""

    conclusions = TextAreaField("Audit conclusions", validators=[Optional(), Length(max=20000)])
    fulfilment = TextAreaField("Degree of fulfilment of the audit criteria",
                               validators=[Optional(), Length(max=10000)])
    positive_findings = TextAreaField("Good practices and positive findings",
                                      validators=[Optional(), Length(max=10000)])
    areas_not_covered = TextAreaField("Areas not covered, and why",
                                      validators=[Optional(), Length(max=10000)])
    diverging_opinions = TextAreaField("Unresolved diverging opinions",
                                       validators=[Optional(), Length(max=10000)])
    follow_up = TextAreaField("Follow-up plan", validators=[Optional(), Length(max=10000)])
    submit = SubmitField("Save report")


class AcknowledgeForm(FlaskForm):
    """The auditee representative acknowledges the report at the closing meeting."""

    name = StringField("Auditee representative", validators=[Optional(), Length(max=160)])
    submit = SubmitField("Record acknowledgement")


class ConfirmForm(FlaskForm):
    """An empty form: the CSRF token of a one-button action (sign, issue)."""

    submit = SubmitField("Confirm")


def report_values(form: ReportForm) -> dict:
    """The report fields of a submitted form, explicitly (no populate_obj)."""
    return {name: getattr(form, name).data for name in
            ("conclusions", "fulfilment", "positive_findings", "areas_not_covered",
             "diverging_opinions", "follow_up")}
