"""Audit forms. Choices are filled from the database per request (``fill_choices``)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import or_, select
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from audit.audits.bulk import ACTIONS as BULK_ACTIONS
from audit.core.forms import AppForm, MultiCheckboxField, _mark_refused, model_choices
from audit.extensions import db
from audit.library.checklists.versions import published_versions
from audit.models import (
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Certificate,
    CertificationBody,
    Clause,
    Programme,
    Qualification,
    QualificationLevel,
    Role,
    Site,
    Standard,
    Supplier,
    TeamRole,
    ThirdPartyType,
    Unit,
    User,
    UserRole,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ClauseChoice(NamedTuple):
    """One clause of the scope picker (what ``clause_picker`` shows)."""

    id: int
    number: str
    title: str | None
    depth: int


def _enum_choices(enum_cls, blank: str | None = None) -> list[SelectChoice]:
    choices = [SelectChoice(m.value, m.label) for m in enum_cls]
    return [SelectChoice("", blank)] + choices if blank is not None else choices


class AuditForm(AppForm):
    """Create or edit an audit: kind, auditee, scope, dates in the audit's local time."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=_enum_choices(AuditKind))
    third_party_type = SelectField("Certification audit type",
                                   choices=_enum_choices(ThirdPartyType, blank="— (not third-party)"),
                                   validate_choice=False, default="")
    programme_id = SelectField("Programme", coerce=int, validate_choice=False)
    site_id = SelectField("Site", coerce=int, validate_choice=False)
    supplier_id = SelectField("Supplier (second-party audits)", coerce=int, validate_choice=False)
    certificate_id = SelectField("Certificate (third-party audits)", coerce=int, validate_choice=False)
    certification_body_id = SelectField("Certification body", coerce=int, validate_choice=False)
    audit_client = StringField("Audit client", validators=[Optional(), Length(max=160)],
                               description="Who commissions the audit (e.g. top management).")
    objectives = TextAreaField("Objectives", validators=[Optional()])
    scope = TextAreaField("Scope", validators=[Optional()])
    criteria = TextAreaField("Criteria", validators=[Optional()],
                             description="Standards, clauses, procedures the audit checks against.")
    unit_ids = MultiCheckboxField("Units in scope", coerce=int, validate_choice=False)
    standard_ids = MultiCheckboxField("Standards", coerce=int, validate_choice=False)
    clause_ids = MultiCheckboxField(
        "Clauses in scope", coerce=int, validate_choice=False,
        description="Leave a standard's clauses unticked to audit all of it; tick clauses to "
                    "narrow the scope (sub-clauses are included).")
    checklist_version_id = SelectField("Checklist version", coerce=int, validate_choice=False)
    planned_date = DateField("Planned date", validators=[Optional()],
                             description="Kept when the audit is rescheduled.")
    planned_days = IntegerField("Planned days", default=1, validators=[NumberRange(1, 30)])
    starts_local = DateTimeLocalField("Starts (local time at the site)", format=DATETIME_FORMATS,
                                      validators=[Optional()])
    ends_local = DateTimeLocalField("Ends (local time at the site)", format=DATETIME_FORMATS,
                                    validators=[Optional()])
    date_override_reason = StringField("Reason for a weekend, holiday or no-travel-day date", validators=[Optional(), Length(max=200)],
                                       description="Only needed to audit on a weekend or a site holiday; kept in the trail.")
    report_due_on = DateField("Report due", validators=[Optional()])
    due_by = DateField("Must happen by", validators=[Optional()],
                       description="Set by complaints, incidents, changes and major NCs; the audit "
                                   "cannot be dated later.")
    version = HiddenField()

    def fill_choices(self, keep_clause_ids=()) -> None:
        """Choices from the database; ``keep_clause_ids`` (the audit's own clauses) are offered
        even when the picker would leave them out, so saving never drops them silently."""
        self.programme_id.choices = model_choices(Programme, Programme.period_start.desc())
        self.site_id.choices = model_choices(Site, Site.name)
        self.supplier_id.choices = model_choices(Supplier, Supplier.name)
        self.certificate_id.choices = model_choices(
            Certificate, Certificate.number, label=lambda c: f"{c.number} ({c.scope[:40]})")
        self.certification_body_id.choices = model_choices(CertificationBody, CertificationBody.name)
        self.unit_ids.choices = model_choices(Unit, Unit.name, blank=None)
        standards = list(db.session.scalars(select(Standard).order_by(Standard.code, Standard.edition)))
        self.standard_ids.choices = [(s.id, s.label) for s in standards]
        self.fill_clause_groups(standards, keep_clause_ids)
        # Only published versions: drafts may still change under the audit.
        self.checklist_version_id.choices = [(0, "— none —")] + [
            (v.id, f"{v.template.name} v{v.number}") for v in published_versions()]

    def fill_clause_groups(self, standards: list[Standard], keep_ids=()) -> None:
        """Titled clauses grouped by standard, for the scope picker (one query).

        Untitled numbered paragraphs (e.g. 9001 6.1.1) are left out unless already in the
        audit's scope (a follow-up audit takes the clauses its finding cites): a scope names
        clauses, and a ticked clause includes its paragraphs. Plain tuples, not ORM rows, so a
        rollback after a refused save does not reload every clause to re-render the form.
        """
        labels = {s.id: s.label for s in standards}
        by_standard: dict[int, list[ClauseChoice]] = {s.id: [] for s in standards}
        wanted = Clause.title.is_not(None)
        if keep_ids:
            wanted = or_(wanted, Clause.id.in_(list(keep_ids)))
        rows = db.session.execute(select(Clause.id, Clause.number, Clause.title, Clause.depth, Clause.standard_id)
                                  .where(wanted).order_by(Clause.standard_id, Clause.position))
        for row in rows:
            by_standard.setdefault(row.standard_id, []).append(
                ClauseChoice(row.id, row.number, row.title, row.depth))
        self._clause_groups = [(s.id, labels[s.id], by_standard[s.id]) for s in standards if by_standard[s.id]]
        self.clause_ids.choices = [(c.id, c.number) for _, _, group in self._clause_groups for c in group]

    def clause_picker_groups(self) -> dict[str, list[tuple[ClauseChoice, bool]]]:
        """``{standard label: [(clause, ticked), ...]}`` for the ``clause_picker`` macro."""
        ticked = set(self.clause_ids.data or ())
        return {label: [(c, c.id in ticked) for c in group] for _, label, group in self._clause_groups}

    def standards_in_scope(self) -> list[str]:
        """Labels of the ticked standards: their clause groups start open."""
        ticked = set(self.standard_ids.data or ())
        return [label for sid, label, _ in self._clause_groups if sid in ticked]

    def values(self) -> dict:
        """Form data as the service expects it (0 = none)."""
        data = {name: f.data for name, f in self._fields.items() if name not in ("csrf_token", "version")}
        for key in ("programme_id", "site_id", "supplier_id", "certificate_id",
                    "certification_body_id", "checklist_version_id"):
            data[key] = data.get(key) or None
        return data


class TeamMemberForm(AppForm):
    """Add one person to the team."""

    user_id = SelectField("Person", coerce=int, validate_choice=False)
    role = SelectField("Role", choices=_enum_choices(TeamRole))
    justification = TextAreaField(
        "Impartiality justification", validators=[Optional()],
        description="Only when the person owns or belongs to an audited unit (small organisations).")

    def fill_choices(self) -> None:
        stmt = select(User).where(User.is_active.is_(True), User.supplier_id.is_(None)).order_by(User.name)
        self.user_id.choices = model_choices(stmt, blank="— choose —")


class StatusForm(AppForm):
    """Move the audit along its life cycle."""

    status = SelectField("New status", choices=_enum_choices(AuditStatus))
    reason = TextAreaField("Reason", validators=[Optional()],
                           description="Required when postponing or cancelling.")


class RescheduleForm(AppForm):
    """Move an audit's dates (the originally planned date stays)."""

    starts_local = DateTimeLocalField("New start (local)", format=DATETIME_FORMATS, validators=[DataRequired()])
    ends_local = DateTimeLocalField("New end (local)", format=DATETIME_FORMATS, validators=[DataRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)],
                         description="Required to audit on a weekend or a site holiday; kept in the trail.")


class AuditFilterForm(AppForm):
    """Filters of the audit list and the calendar (GET, no CSRF)."""

    class Meta:
        csrf = False

    site = SelectField("Site", coerce=int, validate_choice=False)
    auditor = SelectField("Auditor", coerce=int, validate_choice=False)
    kind = SelectField("Kind", choices=_enum_choices(AuditKind, blank="All kinds"))
    status = SelectField("Status", choices=_enum_choices(AuditStatus, blank="All statuses"))
    programme = SelectField("Programme", coerce=int, validate_choice=False)
    standard = SelectField("Standard", coerce=int, validate_choice=False)
    lead = SelectField("Lead auditor", coerce=int, validate_choice=False)
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    q = StringField("Search", validators=[Optional(), Length(max=80)],
                    description="Reference, title, unit, site or supplier contains")

    def fill_choices(self) -> None:

        self.standard.choices = model_choices(Standard, Standard.code, blank="All standards",
                                              label=lambda s: s.code)

        self.site.choices = model_choices(Site, Site.name, blank="All sites")
        stmt = (select(User).join(UserRole).where(UserRole.role == Role.AUDITOR).order_by(User.name))
        self.auditor.choices = model_choices(stmt, blank="All auditors")
        self.programme.choices = model_choices(Programme, Programme.period_start.desc(), blank="All programmes")
        leads = select(User).where(User.id.in_(select(AuditTeamMember.user_id).where(
            AuditTeamMember.role == TeamRole.LEAD))).order_by(User.name)
        self.lead.choices = model_choices(leads, blank="All leads")


class BulkForm(AppForm):
    """One change for the audits ticked in the list (each still checked like a single change)."""

    ids = SelectMultipleField("Selected audits", coerce=int, validate_choice=False)
    action = SelectField("With the selected audits", validate_choice=False,
                         choices=[("", "— choose —")] + list(BULK_ACTIONS.items()))
    days = IntegerField("Days (negative = earlier)", validators=[Optional(), NumberRange(-366, 366)])
    to_date = DateField("New start date", validators=[Optional()])
    lead_id = SelectField("Lead auditor", coerce=int, validate_choice=False)
    reason = StringField("Reason", validators=[Optional(), Length(max=200)],
                         description="Required to postpone or cancel, and to move onto a weekend or a "
                                     "site holiday; kept in each audit's trail.")

    def fill_choices(self) -> None:
        """Leads: active internal people holding a lead qualification (the rules still check
        the standard, validity and impartiality per audit)."""
        stmt = (select(User).where(User.is_active.is_(True), User.supplier_id.is_(None), User.id.in_(
            select(Qualification.user_id).where(Qualification.level == QualificationLevel.LEAD)))
            .order_by(User.name))
        self.lead_id.choices = model_choices(stmt, blank="— choose —")

    def validate(self, extra_validators=None) -> bool:
        """Each action's own input is required before any audit is touched."""
        ok = super().validate(extra_validators)
        needed = {"shift": (self.days, "Say by how many days."), "move_to": (self.to_date, "Choose the new date."),
                  "assign_lead": (self.lead_id, "Choose the lead auditor."),
                  "postpone": (self.reason, "Say why the audits are postponed."),
                  "cancel": (self.reason, "Say why the audits are cancelled.")}
        if not self.ids.data:
            self.ids.errors = [*self.ids.errors, "Tick at least one audit."]
            ok = False
        if self.action.data not in needed:
            self.action.errors = [*self.action.errors, "Choose what to do with the selected audits."]
            ok = False
        else:
            target, message = needed[self.action.data]
            value = target.data.strip() if isinstance(target.data, str) else target.data
            if not value:
                target.errors = [*target.errors, message]
                ok = False
        if not ok:
            _mark_refused()
        return ok
