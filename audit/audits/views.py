"""Audit pages: the list, create/edit, the audit page with its sections, team and status."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.audits import bulk, forms, services
from audit.audits.access import can_read_audit, readable_audits
from audit.audits.queries import audit_list_query, read_filters
from audit.audits.team import uncovered_standards
from audit.audits.workflow import AUDIT
from audit.audits.workload import workload_warnings
from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.core.registry import registry
from audit.core.routing import local_path
from audit.core.workflow import refuse_unless_allowed
from audit.extensions import db
from audit.models import (
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    TeamRole,
    User,
    utcnow,
)
from audit.trail.services import entries_for

bp = Blueprint("audits", __name__, url_prefix="/audits")

PAGE_SIZE = 50


def _safe_next() -> str | None:
    """A local path to return to after a form (never another host)."""
    return local_path(request.form.get("next"))


@bp.get("/")
@requires(Permission.VIEW_ORGANISATION)
def audit_list():
    """All audits, newest dates first: search, filters, and bulk changes for coordinators."""
    return _list_page()


def _list_page(bulk_form: forms.BulkForm | None = None, refused=()):
    """The list for the query string's filters; a refused bulk change comes back with its form,
    its selection ticked (on this page, or listed when on another) and each refusal's reason."""
    form, filters = read_filters(request.args)
    stmt = audit_list_query(filters).where(readable_audits(current_user))
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(Audit.id).subquery()))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    # Clamped: past the last page shows the last one (and a huge number cannot overflow OFFSET).
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    audits = db.session.scalars(
        stmt.order_by(Audit.starts_at.desc().nulls_last(), Audit.planned_date.desc(), Audit.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).unique().all()
    args = {k: v for k, v in request.args.items() if k != "page"}
    can_bulk = current_user.can(Permission.MANAGE_PROGRAMME)
    selected, elsewhere = set(), []
    if can_bulk:
        bulk_form = bulk_form or forms.BulkForm(formdata=None)
        bulk_form.fill_choices()
        selected = set(bulk_form.ids.data or ())
        shown = {a.id for a in audits}
        if selected - shown:
            elsewhere = bulk.load_selected(selected - shown, readable_audits(current_user))
    return render_template("audits/list.html", audits=audits, form=form, page=page, total=total,
                           pages=pages, args=args, bulk_form=bulk_form if can_bulk else None,
                           selected=selected, elsewhere=elsewhere, refused=refused)


@bp.post("/bulk")
@requires(Permission.MANAGE_PROGRAMME)
def bulk_change():
    """Apply one change to the ticked audits, each through the single change's rules: the ones
    that pass are saved, the refused ones come back ticked with their reasons."""
    form = forms.BulkForm()
    form.fill_choices()
    if not form.validate_on_submit():
        return _list_page(form), 422
    audits = bulk.load_selected(form.ids.data, readable_audits(current_user))
    lead = db.session.get(User, form.lead_id.data) if form.action.data == "assign_lead" else None
    if form.action.data == "assign_lead" and lead is None:
        form.lead_id.errors = ["That person no longer exists: choose the lead again."]
        return _list_page(form), 422
    outcome = bulk.apply_bulk(audits, form.action.data, days=form.days.data, to_date=form.to_date.data,
                              lead=lead, reason=form.reason.data, actor=current_user, now=utcnow())
    # Read before the commit expires them: the report needs no reload per audit.
    done = [a.reference for a in outcome.applied]
    over_limit = [f"{a.reference}: {why}" for a in outcome.applied for why in workload_warnings(a)]
    refused = [(a.id, a.reference, a.title, why) for a, why in outcome.refused]
    db.session.commit()
    missing = len(set(form.ids.data)) - len(audits)
    if done:
        flash(f"{bulk.ACTIONS[form.action.data]}: done for {len(done)} audit{'' if len(done) == 1 else 's'} "
              f"({', '.join(done)}).", "success")
    for why in over_limit:
        flash(why, "warning")
    if missing:
        flash(f"{missing} selected audit{'' if missing == 1 else 's'} no longer exist.", "error")
    if not refused:
        return redirect(url_for("audits.audit_list", **request.args))
    # Keep the form and tick what was refused, so a reason can be added and sent again.
    form.ids.data = [row[0] for row in refused]
    return _list_page(form, refused), (200 if done else 422)


def _form_for(audit: Audit | None) -> forms.AuditForm:
    if audit is None or request.method == "POST":
        form = forms.AuditForm()
    else:
        form = forms.AuditForm(data={
            "title": audit.title, "kind": audit.kind.value,
            "third_party_type": audit.third_party_type.value if audit.third_party_type else "",
            "programme_id": audit.programme_id or 0, "site_id": audit.site_id or 0,
            "supplier_id": audit.supplier_id or 0, "certificate_id": audit.certificate_id or 0,
            "certification_body_id": audit.certification_body_id or 0,
            "audit_client": audit.audit_client, "objectives": audit.objectives, "scope": audit.scope,
            "criteria": audit.criteria, "unit_ids": [u.id for u in audit.units],
            "standard_ids": [s.id for s in audit.standards],
            "clause_ids": [c.id for c in audit.clauses],
            "checklist_version_id": audit.checklist_version_id or 0,
            "planned_date": audit.planned_date, "planned_days": audit.planned_days,
            "starts_local": services.to_local(audit.starts_at, audit.timezone),
            "ends_local": services.to_local(audit.ends_at, audit.timezone),
            "report_due_on": audit.report_due_on, "due_by": audit.due_by, "version": audit.version_id,
        })
    form.fill_choices(keep_clause_ids=[c.id for c in audit.clauses] if audit is not None else ())
    return form


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def audit_new():
    """Create an audit."""
    form = _form_for(None)
    if request.method == "GET" and request.args.get("programme"):
        form.programme_id.data = request.args.get("programme", type=int)
    if form.validate_on_submit():
        with saving(form) as saved:
            audit = services.create_audit(form.values(), actor=current_user, now=utcnow(), manual=True)
        if saved.ok:
            flash(f"Audit {audit.reference} created. Now assign the team.", "success")
            return redirect(url_for("audits.detail", audit_id=audit.id))
    return render_template("audits/form.html", form=form, audit=None)


@bp.route("/<int:audit_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_PROGRAMME)
def audit_edit(audit_id: int):
    """Edit an audit's scope and dates."""
    audit = db.session.get(Audit, audit_id) or abort(404)
    form = _form_for(audit)
    if form.validate_on_submit():
        with saving(form) as saved:
            services.update_audit(audit, form.values(), actor=current_user, now=utcnow(),
                                  version=form.version.data or None, manual=True)
        if saved.ok:
            flash("Audit saved.", "success")
            _warn_workload(audit)
            return redirect(url_for("audits.detail", audit_id=audit_id))
    return render_template("audits/form.html", form=form, audit=audit)


def _warn_workload(audit: Audit) -> None:
    """Tell the coordinator who passes the monthly workload limit after her change: allowed, a
    deliberate decision, but never unnoticed (the planner keeps to the limit)."""
    for why in workload_warnings(audit):
        flash(why, "warning")


def _load_audit(audit_id: int) -> Audit:
    stmt = (
        select(Audit).where(Audit.id == audit_id)
        .options(joinedload(Audit.site), joinedload(Audit.supplier), joinedload(Audit.programme),
                 joinedload(Audit.certificate), joinedload(Audit.certification_body),
                 selectinload(Audit.units), selectinload(Audit.standards), selectinload(Audit.clauses),
                 selectinload(Audit.team).joinedload(AuditTeamMember.user))
    )
    audit = db.session.scalars(stmt).unique().one_or_none()
    if audit is None or not can_read_audit(audit, current_user):
        abort(404)  # what a person may not read does not exist for them
    return audit


@bp.get("/<int:audit_id>")
@requires(Permission.VIEW_ORGANISATION)
def detail(audit_id: int, team_form=None, status_form=None, reschedule_form=None):
    """One audit: scope, team, status, the sections other features add, and the trail."""
    audit = _load_audit(audit_id)
    sections = []
    for section in registry().ordered_audit_sections():
        result = section(audit, current_user)
        if result:
            # Rendered here so a section's context keys are plain variables in its template.
            html = Markup(render_template(result["template"], audit=audit, section=result,
                                          **(result.get("context") or {})))
            sections.append({**result, "html": html})
    can_manage = current_user.can(Permission.MANAGE_PROGRAMME)
    if can_manage:
        team_form = team_form or forms.TeamMemberForm(formdata=None)
        team_form.fill_choices()
        status_form = status_form or forms.StatusForm(formdata=None)
        moves = services.allowed_transitions(audit, current_user)
        status_form.status.choices = [(d.action, d.label) for d in moves if d.allowed]
        status_hints = [d for d in moves if not d.allowed]
        reschedule_form = reschedule_form or forms.RescheduleForm(formdata=None, data={
            "starts_local": services.to_local(audit.starts_at, audit.timezone),
            "ends_local": services.to_local(audit.ends_at, audit.timezone)})
    uncovered = []
    if audit.is_open and audit.kind is not AuditKind.THIRD_PARTY:
        uncovered = uncovered_standards(audit, today=utcnow().date())
    return render_template(
        "audits/detail.html", audit=audit, sections=sections, can_manage=can_manage, uncovered=uncovered,
        over_limit=workload_warnings(audit) if can_manage else [],
        status_hints=status_hints if can_manage else [],
        team_form=team_form, status_form=status_form, reschedule_form=reschedule_form,
        trail=entries_for(audit, limit=50),
    )


@bp.post("/<int:audit_id>/team")
@requires(Permission.MANAGE_PROGRAMME)
def team_add(audit_id: int):
    """Add a team member (all assignment rules apply)."""
    audit = _load_audit(audit_id)
    form = forms.TeamMemberForm()
    form.fill_choices()
    if form.validate_on_submit():
        with saving(form) as saved:
            user = db.session.get(User, form.user_id.data or 0)
            if user is None:
                raise DomainError("Choose a person.", field="user_id")
            services.add_team_member(audit, user, TeamRole(form.role.data),
                                     justification=form.justification.data,
                                     actor=current_user, now=utcnow())
        if saved.ok:
            flash(f"{user.name} added to the team.", "success")
            _warn_workload(audit)
            return redirect(url_for("audits.detail", audit_id=audit_id) + "#team")
    return detail(audit_id, team_form=form), 422


@bp.post("/<int:audit_id>/team/<int:member_id>/remove")
@requires(Permission.MANAGE_PROGRAMME)
def team_remove(audit_id: int, member_id: int):
    """Remove a team member."""
    audit = _load_audit(audit_id)
    member = db.session.get(AuditTeamMember, member_id)
    if member is None or member.audit_id != audit.id:
        abort(404)
    try:
        services.remove_team_member(audit, member, actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Team member removed.", "success")
    return redirect(url_for("audits.detail", audit_id=audit_id) + "#team")


@bp.post("/<int:audit_id>/status")
@requires(Permission.MANAGE_PROGRAMME)
def status(audit_id: int):
    """Move the audit along its life cycle (with a reason for postponement/cancellation)."""
    audit = _load_audit(audit_id)
    form = forms.StatusForm()
    if form.status.data in AUDIT.steps:  # refused moves answer 403/409 with the reason
        refuse_unless_allowed(AUDIT, audit, form.status.data)
    if form.validate_on_submit():
        with saving(form) as saved:
            services.change_status(audit, AuditStatus(form.status.data), reason=form.reason.data, manual=True,
                                   actor=current_user, now=utcnow())
        if saved.ok:
            flash(f"Audit is now {audit.status.label.lower()}.", "success")
            return redirect(url_for("audits.detail", audit_id=audit_id))
    return detail(audit_id, status_form=form), 422


@bp.post("/<int:audit_id>/reschedule")
@requires(Permission.MANAGE_PROGRAMME)
def reschedule(audit_id: int):
    """Move the audit's dates through a form (no drag and drop needed)."""
    audit = _load_audit(audit_id)
    form = forms.RescheduleForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            services.reschedule_audit(audit, starts_local=form.starts_local.data,
                                      ends_local=form.ends_local.data, reason=form.reason.data,
                                      override_reason=form.reason.data, actor=current_user, now=utcnow())
        if saved.ok:
            flash("Audit rescheduled.", "success")
            _warn_workload(audit)
            return redirect(_safe_next() or url_for("audits.detail", audit_id=audit_id))
    return detail(audit_id, reschedule_form=form), 422
