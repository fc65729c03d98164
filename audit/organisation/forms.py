"""Forms for the organisation's reference data. Choices are filled from the database per request."""

from __future__ import annotations

from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
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

from audit.core.forms import AppForm, MultiCheckboxField, timezone_choices, validate_timezone
from audit.extensions import db
from audit.models import (
    ApprovalStatus,
    CertificateStatus,
    CertificationBody,
    RiskClass,
    Site,
    Standard,
    Supplier,
    UnitKind,
    User,
)


def _enum_choices(enum_cls) -> list[tuple[str, str]]:
    return [(m.value, getattr(m, "label", m.value.replace("_", " ").capitalize())) for m in enum_cls]


def standard_choices() -> list[tuple[int, str]]:
    return [(s.id, s.label) for s in db.session.scalars(select(Standard).order_by(Standard.code))]


def site_choices() -> list[tuple[int, str]]:
    return [(s.id, s.name) for s in db.session.scalars(select(Site).order_by(Site.name))]


def internal_user_choices(blank: str | None = None) -> list[tuple[int, str]]:
    """Everyone but supplier contacts."""
    stmt = (
        select(User)
        .where(User.is_active.is_(True), User.supplier_id.is_(None))
        .order_by(User.name)
    )
    choices = [(u.id, u.name) for u in db.session.scalars(stmt)]
    return ([(0, blank)] if blank else []) + choices


class SiteForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    code = StringField(
        "Code", validators=[DataRequired(), Length(max=20)],
        description="Short code used in audit references, e.g. BER.",
    )
    address = TextAreaField("Address", validators=[Optional(), Length(max=2000)])
    timezone = SelectField(
        "Time zone", choices=[], validators=[DataRequired(), validate_timezone],
        description="Audit times at this site are entered and shown in this zone. Changing it keeps "
                    "upcoming audits and their agenda at the same local times (08:30 stays 08:30) "
                    "and tells their teams and auditees.",
    )
    is_active = BooleanField("Active", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class UnitForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Kind", choices=_enum_choices(UnitKind), validators=[DataRequired()])
    site_id = SelectField("Site", coerce=int, validators=[InputRequired()])
    owner_id = SelectField("Process owner", coerce=int, validators=[Optional()])
    description = TextAreaField("Description", validators=[Optional(), Length(max=4000)])
    importance = IntegerField(
        "Importance (1–3)", default=2, validators=[InputRequired(), NumberRange(1, 3)],
        description="How much the process matters to results and customers.",
    )
    change_level = IntegerField(
        "Recent change (0–2)", default=0, validators=[InputRequired(), NumberRange(0, 2)]
    )
    maturity_risk = IntegerField(
        "Immaturity (0–1)", default=0, validators=[InputRequired(), NumberRange(0, 1)],
        description="1 when the process is new or not yet stable.",
    )
    standard_ids = MultiCheckboxField("Applicable standards", coerce=int)
    member_ids = MultiCheckboxField("Members", coerce=int)
    is_active = BooleanField("Active", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = site_choices()
        self.owner_id.choices = internal_user_choices(blank="— none —")
        self.standard_ids.choices = standard_choices()
        self.member_ids.choices = internal_user_choices()


class SupplierForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    contact_name = StringField("Contact name", validators=[Optional(), Length(max=120)])
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Email(), Length(max=254)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    country = StringField("Country", validators=[Optional(), Length(max=80)])
    supplies = StringField("Supplies", validators=[Optional(), Length(max=250)])
    timezone = SelectField("Time zone", choices=[], validators=[DataRequired(), validate_timezone])
    risk_class = SelectField("Risk class", choices=_enum_choices(RiskClass))
    approval_status = SelectField("Approval status", choices=_enum_choices(ApprovalStatus))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class CertificationBodyForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    accreditation = StringField("Accreditation", validators=[Optional(), Length(max=160)])
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Email(), Length(max=254)])
    website = StringField("Website", validators=[Optional(), Length(max=250)])


class CertificateForm(AppForm):
    standard_id = SelectField("Standard", coerce=int, validators=[InputRequired()])
    certification_body_id = SelectField("Certification body", coerce=int, validators=[Optional()])
    supplier_id = SelectField(
        "Holder", coerce=int, validators=[Optional()],
        description="Leave on “our organisation” for our own certificates.",
    )
    number = StringField("Certificate number", validators=[Optional(), Length(max=80)])
    scope = TextAreaField("Scope", validators=[DataRequired(), Length(max=4000)])
    decision_date = DateField("Certification decision", validators=[InputRequired()])
    expiry_date = DateField(
        "Expiry", validators=[Optional()],
        description="Leave empty: decision + 3 years − 1 day.",
    )
    status = SelectField("Status", choices=_enum_choices(CertificateStatus))
    is_accredited = BooleanField("Accredited certification", default=True)
    cycle_number = IntegerField("Cycle", default=1, validators=[InputRequired(), NumberRange(1, 50)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.standard_id.choices = standard_choices()
        self.certification_body_id.choices = [(0, "— none —")] + [
            (cb.id, cb.name)
            for cb in db.session.scalars(select(CertificationBody).order_by(CertificationBody.name))
        ]
        self.supplier_id.choices = [(0, "Our organisation")] + [
            (s.id, s.name) for s in db.session.scalars(select(Supplier).order_by(Supplier.name))
        ]

    def validate_expiry_date(self, field):
        if field.data and self.decision_date.data and field.data <= self.decision_date.data:
            raise ValidationError("Expiry must come after the certification decision.")


class SiteHolidayForm(AppForm):
    site_id = SelectField("Site", coerce=int, validators=[InputRequired()])
    day = DateField("Day", validators=[InputRequired()])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       description="e.g. Christmas Day, plant shutdown")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = site_choices()
