"""Forms of the conduct pages (the checklist itself saves through the JSON API)."""

from __future__ import annotations

from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from audit.core.forms import AppForm, MultiCheckboxField
from audit.models import Grade


class RaiseFindingForm(AppForm):
    """A finding raised from a checklist answer; clauses and question come from the answer."""

    grade = SelectField("Grade", choices=[SelectChoice(g.value, g.label) for g in Grade])
    statement = TextAreaField("Statement", validators=[DataRequired(message="State the finding."),
                                                       Length(max=5000)])
    evidence = TextAreaField("Objective evidence", validators=[Optional(), Length(max=5000)])
    #: The tablet's key of this finding: a repeated submit (or an offline replay) raises it once.
    mutation_id = HiddenField(validators=[Optional(), Length(max=64)])
    submit = SubmitField("Raise finding")


class ReportForm(AppForm):
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
    distribution = TextAreaField("Distribution list (one recipient per line)",
                                 validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save report")


class AcknowledgeForm(AppForm):
    """The auditee representative acknowledges the report at the closing meeting."""

    name = StringField("Auditee representative", validators=[Optional(), Length(max=160)])
    submit = SubmitField("Record acknowledgement")


class ConfirmForm(AppForm):
    """An empty form: the CSRF token of a one-button action (sign, issue)."""

    submit = SubmitField("Confirm")


def report_values(form: ReportForm) -> dict:
    """The report fields of a submitted form, explicitly (no populate_obj)."""
    return {name: getattr(form, name).data for name in
            ("conclusions", "fulfilment", "positive_findings", "areas_not_covered",
             "diverging_opinions", "follow_up", "distribution")}


class QuestionReasonForm(AppForm):
    """Why an NC verdict has no finding, or why a question was not covered (report blockers)."""

    kind = SelectField("Reason for", choices=[("no_finding", "No finding raised"),
                                              ("not_covered", "Not covered")])
    reason = TextAreaField("Reason", validators=[DataRequired(message="Give the reason."),
                                                 Length(max=2000)])


class SessionForm(AppForm):
    """One agenda slot; times are wall-clock times in the audit's zone."""

    kind = SelectField("Kind", choices=[SelectChoice("opening", "Opening meeting"),
                                        SelectChoice("session", "Audit session"),
                                        SelectChoice("closing", "Closing meeting")])
    title = StringField("Title", validators=[Optional(), Length(max=200)],
                        description="Process or area audited (opening/closing get a default title).")
    unit_id = SelectField("Unit / process", validate_choice=False)
    auditor_id = SelectField("Auditor", validate_choice=False)
    clause_ids = MultiCheckboxField("Clauses", validate_choice=False)
    auditee_contacts = TextAreaField("Auditee contacts", validators=[Optional(), Length(max=2000)])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    starts_local = DateTimeLocalField("Starts", format="%Y-%m-%dT%H:%M",
                                      validators=[DataRequired(message="Give the start time.")])
    ends_local = DateTimeLocalField("Ends", format="%Y-%m-%dT%H:%M",
                                    validators=[DataRequired(message="Give the end time.")])
    submit = SubmitField("Save session")

    def fill_choices(self, audit, clauses) -> None:
        """Offer the audit's units, its auditing team members and the clauses in scope."""
        self.unit_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(u.id), u.name) for u in audit.units]
        self.auditor_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(m.user_id), f"{m.user.name} ({m.role.label})")
            for m in audit.team if m.role.is_auditing]
        self.clause_ids.choices = [SelectChoice(str(c.id), f"{c.number} {c.title or ''}") for c in clauses]


def session_values(form: SessionForm) -> dict:
    """The submitted values of a session form, explicitly."""
    return {"kind": form.kind.data, "title": form.title.data, "unit_id": form.unit_id.data or None,
            "auditor_id": form.auditor_id.data or None, "clause_ids": form.clause_ids.data or [],
            "auditee_contacts": form.auditee_contacts.data, "location": form.location.data,
            "starts_local": form.starts_local.data, "ends_local": form.ends_local.data}
