"""Forms for the findings pages: one small form per transition, plus the list filters."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from audit.core.forms import AppForm, FastSelectField
from audit.models import (
    EIGHT_D_DISCIPLINES,
    ISHIKAWA_CATEGORIES,
    ActionKind,
    CostCategory,
    FindingStatus,
    Grade,
    RootCauseMethod,
)

#: Action rows on a response form; more are added on the finding's page, as many as needed.
ACTION_ROWS = 6
WHY_ROWS = 5

ISHIKAWA_HELP = {
    "man": "People: skills, workload, shifts — not just “operator error”.",
    "machine": "Equipment, tools, fixtures, software.",
    "method": "Procedures, instructions, sequence.",
    "material": "Raw materials, parts, consumables.",
    "measurement": "Gauges, calibration, inspection method.",
    "environment": "Temperature, light, noise, layout.",
}


class FilterForm(AppForm):
    """List filters, read from the query string (GET: no CSRF)."""

    class Meta:
        csrf = False

    status = FastSelectField("Status", choices=dict([("", "Any status"), ("open", "All open")]
                                             + [(s.value, s.label) for s in FindingStatus]), default="")
    grade = FastSelectField("Grade", choices=dict([("", "Any grade")] + [(g.value, g.label) for g in Grade]),
                        default="")
    unit = FastSelectField("Unit", coerce=int, default=0)
    site = FastSelectField("Site", coerce=int, default=0)
    supplier = FastSelectField("Supplier", coerce=int, default=0)
    owner = FastSelectField("Owner", coerce=int, default=0)
    clause = StringField("Clause", validators=[Optional(), Length(max=20)],
                         description="Clause number, e.g. 8.5 (includes sub-clauses)")
    overdue = BooleanField("Overdue only")


class ConfirmForm(AppForm):
    """A button that only needs the CSRF token (issue, accept, acknowledge)."""


class _CategorisedCause(AppForm):
    """A root cause with where it lies (the configured categories, default 6M)."""

    root_cause_category = SelectField("Where the cause lies", validators=[Optional()],
                                      description="The category of the root cause.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from audit.findings.responses import root_cause_categories

        self.root_cause_category.choices = [("", "Choose…"), *root_cause_categories().items()]


class ResponseForm(_CategorisedCause):
    """The auditee's answer to an NC: containment, extent, root cause, actions."""

    containment = TextAreaField("Correction / containment", validators=[Optional()],
                                description="What was done about the nonconformity and its "
                                            "consequences right away.")
    extent_check = TextAreaField("Extent check", validators=[Optional()],
                                 description="Does it exist, or could it occur, elsewhere?")
    root_cause_method = SelectField("Root-cause method",
                                    choices=dict([(m.value, m.label) for m in RootCauseMethod
                                             if m is not RootCauseMethod.EIGHT_D]))
    root_cause = TextAreaField("Root cause", validators=[Optional()],
                               description="What let it happen. “Operator error” or “retrain” "
                                           "alone is not accepted: ask why once more.")


for _i in range(1, WHY_ROWS + 1):
    setattr(ResponseForm, f"why{_i}", StringField(f"Why {_i}?", validators=[Optional(),
                                                                             Length(max=500)]))
for _cat in ISHIKAWA_CATEGORIES:
    setattr(ResponseForm, f"ishikawa_{_cat}",
            StringField(f"Ishikawa: {_cat}", validators=[Optional(), Length(max=500)],
                        description=ISHIKAWA_HELP[_cat]))
for _i in range(1, ACTION_ROWS + 1):
    setattr(ResponseForm, f"action{_i}_kind",
            SelectField(f"Action {_i}: type", choices=dict([(k.value, k.value.capitalize())
                                                       for k in ActionKind]),
                        default="corrective"))
    setattr(ResponseForm, f"action{_i}_description",
            StringField(f"Action {_i}: description", validators=[Optional(), Length(max=1000)]))
    setattr(ResponseForm, f"action{_i}_due_on",
            DateField(f"Action {_i}: due on", validators=[Optional()]))
    setattr(ResponseForm, f"action{_i}_owner_id",
            SelectField(f"Action {_i}: owner", coerce=int, default=0, validators=[Optional()]))


class ScarContainmentForm(AppForm):
    containment = TextAreaField("Containment (D3)", validators=[Optional()],
                                description="Stop shipments, sort stock at your site and in "
                                            "transit; due within 24 hours.")


class ScarRootCauseForm(_CategorisedCause):
    """D4: the method's own analysis (fill the fields of the method chosen), the cause, extent."""

    root_cause_method = SelectField("Root-cause method",
                                    choices=dict([(m.value, m.label) for m in RootCauseMethod]))
    root_cause = TextAreaField("Root cause (D4)", validators=[Optional()],
                               description="“Operator error” or “retrain” alone is not accepted: "
                                           "the last why names what let it happen.")
    extent_check = TextAreaField("Other lots, parts or sites affected?", validators=[Optional()])


#: Field groups of the analysis, one per method, so the page can show them as fieldsets.
ANALYSIS_FIELDS = {
    "five_whys": [f"why{i}" for i in range(1, WHY_ROWS + 1)],
    "ishikawa": [f"ishikawa_{c}" for c in ISHIKAWA_CATEGORIES],
    "eight_d": [f"eight_d_{key}" for key, _ in EIGHT_D_DISCIPLINES],
}


def _add_analysis_fields(form_cls, *, eight_d: bool) -> None:
    for i in range(1, WHY_ROWS + 1):
        setattr(form_cls, f"why{i}", StringField(f"Why {i}?", validators=[Optional(), Length(max=500)]))
    for cat in ISHIKAWA_CATEGORIES:
        setattr(form_cls, f"ishikawa_{cat}",
                StringField(f"Ishikawa: {cat}", validators=[Optional(), Length(max=500)],
                            description=ISHIKAWA_HELP[cat]))
    if eight_d:
        for key, label in EIGHT_D_DISCIPLINES:
            setattr(form_cls, f"eight_d_{key}",
                    TextAreaField(label, validators=[Optional(), Length(max=2000)]))


_add_analysis_fields(ScarRootCauseForm, eight_d=True)


def analysis_from(form) -> dict:
    """The whys, Ishikawa and 8D entries of a submitted analysis, for the services."""
    return {
        "whys": [getattr(form, f"why{i}").data for i in range(1, WHY_ROWS + 1)],
        "ishikawa": {c: getattr(form, f"ishikawa_{c}").data for c in ISHIKAWA_CATEGORIES},
        "eight_d": {key: getattr(form, f"eight_d_{key}").data for key, _ in EIGHT_D_DISCIPLINES
                    if hasattr(form, f"eight_d_{key}")},
        "root_cause_category": form.root_cause_category.data or None,
    }


class ScarPlanForm(AppForm):
    """The action plan (D5/D6); rows reuse the response form's fields."""


for _i in range(1, ACTION_ROWS + 1):
    setattr(ScarPlanForm, f"action{_i}_kind",
            SelectField(f"Action {_i}: type", choices=dict([(k.value, k.value.capitalize())
                                                       for k in ActionKind]),
                        default="corrective"))
    setattr(ScarPlanForm, f"action{_i}_description",
            StringField(f"Action {_i}: description", validators=[Optional(), Length(max=1000)]))
    setattr(ScarPlanForm, f"action{_i}_due_on",
            DateField(f"Action {_i}: due on", validators=[Optional()]))


class ReasonForm(AppForm):
    reason = TextAreaField("Reason", validators=[Optional()])


class VerifyForm(AppForm):
    effective = SelectField("Were the actions effective?",
                            choices=dict([("yes", "Effective: close the finding"),
                                     ("no", "Not effective: back to action")]))
    note = TextAreaField("What the verification looked at", validators=[Optional()])


class CloseForm(AppForm):
    note = TextAreaField("Verification / closing note", validators=[Optional()])


class DecideForm(AppForm):
    decision = SelectField("Decision", choices=dict([("accept", "Accept: plan an improvement"),
                                                ("decline", "Decline")]))
    rationale = TextAreaField("Rationale", validators=[Optional()])
    action_description = StringField("Improvement action (when accepted)",
                                     validators=[Optional(), Length(max=1000)])
    action_due_on = DateField("Improvement due on", validators=[Optional()])


class CompleteActionForm(AppForm):
    evidence = TextAreaField("Implementation evidence", validators=[Optional()])


class AddActionForm(AppForm):
    kind = SelectField("Type", choices=dict([(k.value, k.value.capitalize()) for k in ActionKind]),
                       default="corrective")
    description = StringField("Description", validators=[Optional(), Length(max=1000)])
    due_on = DateField("Due on", validators=[Optional()])
    action_owner_id = SelectField("Owner", coerce=int, default=0, validators=[Optional()])


class ActionOwnerForm(AppForm):
    """Give one action to another owner."""

    action_owner_id = SelectField("New owner", coerce=int)


class ExtensionForm(AppForm):
    # Choices are the deadlines still ahead (``extendable_deadlines``, set by the view); the
    # service words a refusal of any other ("the response was given already").
    deadline = SelectField("Deadline", choices=dict([("closure", "Closure"), ("response", "Response")]),
                           validate_choice=False)
    new_due_on = DateField("New date", validators=[Optional()])
    reason = TextAreaField("Why more time is needed", validators=[Optional()])


class ExtensionDecisionForm(AppForm):
    approve = SelectField("Decision", choices=dict([("yes", "Approve"), ("no", "Reject")]))
    note = TextAreaField("Note", validators=[Optional()])


class CostForm(AppForm):
    category = SelectField("Category", choices=dict([(c.value, c.label) for c in CostCategory]))
    amount = DecimalField("Amount", places=2, validators=[InputRequired(message="Enter the amount.")])
    currency = StringField("Currency", default="EUR", validators=[DataRequired(), Length(min=3,
                                                                                         max=3)])
    incurred_on = DateField("Incurred on", validators=[InputRequired(message="Enter the date.")])
    note = StringField("Note", validators=[Optional(), Length(max=500)])


class RateForm(AppForm):
    """One dated exchange rate into the base currency."""

    currency = StringField("Currency (ISO 4217)", validators=[DataRequired(), Length(min=3, max=3)])
    valid_from = DateField("Valid from", validators=[InputRequired(message="Enter the date.")])
    rate = DecimalField("Base-currency units for one unit", places=8,
                        validators=[InputRequired(message="Enter the rate.")])


class AssignOwnerForm(AppForm):
    owner_id = SelectField("Owner", coerce=int)


class PolicyForm(AppForm):
    kind = SelectField("Audit kind")
    grade = SelectField("Grade", choices=dict([(g.value, g.label) for g in Grade]))
    response_days = IntegerField("Response (days)", validators=[Optional(), NumberRange(1, 730)])
    closure_days = IntegerField("Closure (days)", validators=[Optional(), NumberRange(1, 730)])
    label = StringField("Name in this kind of audit", validators=[Optional(), Length(max=60)],
                        description="Leave empty for the standard name.")
    is_enabled = BooleanField("Used in this kind of audit", default=True)


class ImportForm(AppForm):
    audit_id = SelectField("Third-party audit", coerce=int)
    file = FileField("CSV file")
    text = TextAreaField("…or paste the CSV", validators=[Optional()],
                         description="Columns: reference, grade, clauses (e.g. 7.5.3;8.5.1), "
                                     "statement, evidence.")


class NewFindingForm(AppForm):
    """Record a finding by hand: an own audit's (before its report) or a CB's."""

    audit_id = SelectField("Audit", coerce=int)
    grade = SelectField("Grade", choices=dict([(g.value, g.label) for g in Grade]))
    statement = TextAreaField("Statement", validators=[Optional()])
    evidence = TextAreaField("Objective evidence", validators=[Optional()])
    clauses = StringField("Clauses", validators=[Optional(), Length(max=200)],
                          description="Clause numbers of the audit's standards, e.g. 7.5.3; 8.5.1")
    external_reference = StringField("CB reference (third-party audits)",
                                     validators=[Optional(), Length(max=60)])
