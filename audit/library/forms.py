"""Forms of the library pages: imports, templates, sections and questions."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from audit.core.forms import AppForm, MultiCheckboxField
from audit.models import AnswerType

FORMATS = [("yaml", "YAML"), ("csv", "CSV")]

ANSWER_TYPE_LABELS = {
    AnswerType.VERDICT: "Conformity verdict (conforming, minor/major NC, observation, OFI, N/A)",
    AnswerType.YES_NO: "Yes / no",
    AnswerType.NUMBER: "Number (with optional limits)",
    AnswerType.TEXT: "Text",
    AnswerType.DATE: "Date",
    AnswerType.CHOICE: "Choice from a list",
}


class ImportForm(AppForm):
    """Upload (or paste) a YAML or CSV file."""

    fmt = SelectField("Format", choices=FORMATS, default="yaml")
    file = FileField("File", description="A file exported from this or another installation.")
    text = TextAreaField("…or paste the file's content", validators=[Optional()])

    def content(self) -> str:
        """The uploaded file's text, else the pasted text (empty if neither)."""
        upload = self.file.data
        if upload and getattr(upload, "filename", ""):
            raw = upload.read()
            try:
                return raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        return self.text.data or ""


class TemplateImportForm(ImportForm):
    publish = BooleanField("Publish the imported version at once")
    change_note = StringField("Change note", validators=[Optional(), Length(max=500)])


class TemplateForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])


class SectionForm(AppForm):
    title = StringField("Section title", validators=[DataRequired(), Length(max=200)])


class PublishForm(AppForm):
    change_note = StringField("Change note (what changed and why)",
                              validators=[Optional(), Length(max=500)])


class QuestionForm(AppForm):
    """One question; choices and clause options are filled per request by the view."""

    key = StringField("Key", validators=[DataRequired(), Length(max=60)],
                      description="Short, stable id (lower-case, digits, - _ .). It is kept "
                                  "across versions, so answers can be compared over time.")
    text = TextAreaField("Question", validators=[DataRequired(), Length(max=2000)],
                         description="In our own words: never copy requirement text of a standard.")
    guidance = TextAreaField("Guidance for the auditor", validators=[Optional()])
    answer_type = SelectField("Answer type", default=AnswerType.VERDICT.value,
                              choices=[(a.value, label) for a, label in ANSWER_TYPE_LABELS.items()])
    choices = TextAreaField("Choices (one per line, for choice questions)",
                            validators=[Optional()])
    min_value = StringField("Lowest acceptable number", validators=[Optional()])
    max_value = StringField("Highest acceptable number", validators=[Optional()])
    evidence_required = BooleanField("Evidence required")
    photo_required = BooleanField("Photo required")
    weight = StringField("Weight for scoring (optional, 0–100)", validators=[Optional()])
    condition_key = SelectField("Show only when question…", choices=[("", "— always show —")],
                                validate_choice=False)
    condition_value = StringField("…has the answer", validators=[Optional(), Length(max=120)],
                                  description="e.g. yes, no, minor_nc, or one of the choices.")
    clause_ids = MultiCheckboxField("Clauses", coerce=int, choices=[], validate_choice=False)
    include_equivalents = BooleanField(
        "Also map the equivalent clauses of the other standards (integrated audits)")

    def values(self) -> dict:
        """The plain values the question services take."""
        return {
            "key": self.key.data, "text": self.text.data, "guidance": self.guidance.data,
            "answer_type": self.answer_type.data,
            "choices": [c for c in (self.choices.data or "").splitlines() if c.strip()],
            "min_value": self.min_value.data, "max_value": self.max_value.data,
            "evidence_required": self.evidence_required.data,
            "photo_required": self.photo_required.data, "weight": self.weight.data,
            "condition_key": self.condition_key.data, "condition_value": self.condition_value.data,
            "clause_ids": self.clause_ids.data or [],
            "include_equivalents": self.include_equivalents.data,
        }
