"""Library pages: standards and their clause trees, checklist templates and versions, preview,
coverage, import and export (the draft builder's pages are in ``builder_views``). Reads need
VIEW_ORGANISATION, writes MANAGE_LIBRARY."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from audit.auth.permissions import Permission, permissions_for, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.extensions import db
from audit.library import forms, services
from audit.library.checklists import coverage, files, versions
from audit.models import (
    AnswerType,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    Standard,
    Verdict,
    utcnow,
)
from audit.trail.services import entries_for

bp = Blueprint("library", __name__, url_prefix="/library")

read = requires(Permission.VIEW_ORGANISATION)
write = requires(Permission.MANAGE_LIBRARY)

MIME = {"yaml": "application/yaml; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _download(text: str, filename: str, fmt: str) -> Response:
    return Response(text, mimetype=MIME[fmt].split(";")[0], headers={
        "Content-Type": MIME[fmt],
        "Content-Disposition": f'attachment; filename="{filename}"',
    })


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def version_or_404(version_id: int) -> ChecklistTemplateVersion:
    """The version with its sections and questions loaded, or 404."""
    version = versions.load_version(version_id)
    if version is None:
        abort(404)
    return version


# --- index ------------------------------------------------------------------------------------


@bp.get("/")
@read
def index():
    """Standards with clause counts, and checklist templates with their versions."""
    counts = dict(db.session.execute(
        select(Clause.standard_id, func.count(Clause.id)).group_by(Clause.standard_id)).all())
    standards = list(db.session.scalars(select(Standard).order_by(Standard.code, Standard.edition)))
    templates = list(db.session.scalars(
        select(ChecklistTemplate).options(selectinload(ChecklistTemplate.versions))
        .order_by(ChecklistTemplate.name)))
    rows = []
    for t in templates:
        published = next((v for v in reversed(t.versions) if v.status.value == "published"), None)
        rows.append({"template": t, "published": published, "draft": versions.draft_of(t),
                     "latest": t.versions[-1] if t.versions else None})
    return render_template("library/index.html", standards=standards, counts=counts,
                           templates=rows)


# --- standards --------------------------------------------------------------------------------


@bp.get("/standards/<int:standard_id>")
@read
def standard_detail(standard_id: int):
    """The clause tree of one standard, with search and cross-standard equivalents."""
    standard = db.session.get(Standard, standard_id) or abort(404)
    query = (request.args.get("q") or "").strip()
    tree = services.clause_tree(standard, query)
    rows = [{"clause": c, "equivalents": services.equivalent_clauses(c)} for c in tree]
    return render_template("library/standard.html", standard=standard, rows=rows, query=query)


@bp.get("/standards/<int:standard_id>/export.<fmt>")
@read
def standard_export(standard_id: int, fmt: str):
    """Download a standard's clause tree as YAML or CSV."""
    if fmt not in MIME:
        abort(404)
    standard = db.session.scalar(select(Standard).where(Standard.id == standard_id)
                                 .options(selectinload(Standard.clauses))) or abort(404)
    name = f"{_slug(standard.label)}-clauses.{fmt}"
    return _download(services.export_standard(standard, fmt), name, fmt)


@bp.route("/standards/import", methods=["GET", "POST"])
@write
def standard_import():
    """Import (or update) clause trees from a YAML or CSV file."""
    form = forms.ImportForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            standards = services.import_standards(form.content(), form.fmt.data,
                                                  actor=current_user, now=utcnow())
        if saved.ok:
            flash("Imported " + ", ".join(f"{s.label} ({len(s.clauses)} clauses)"
                                          for s in standards) + ".", "success")
            return redirect(url_for(".standard_detail", standard_id=standards[0].id))
    status = 400 if request.method == "POST" else 200
    return render_template("library/import.html", form=form, what="clause tree",
                           example=STANDARD_EXAMPLE), status


STANDARD_EXAMPLE = """standard: ISO 13485
edition: "2016"
title: Medical devices — Quality management systems
clauses:
  - {number: "4", title: Quality management system}
  - {number: "4.1", title: General requirements}
  - {number: "4.1.1", untitled: true}"""


# --- templates --------------------------------------------------------------------------------


@bp.route("/templates/new", methods=["GET", "POST"])
@write
def template_new():
    """Create a checklist template with an empty draft."""
    form = forms.TemplateForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            version = versions.create_template(form.name.data, form.description.data,
                                                 actor=current_user, now=utcnow())
        if saved.ok:
            flash("Checklist created: add sections and questions, then publish.", "success")
            return redirect(url_for(".version_detail", version_id=version.id))
    status = 400 if request.method == "POST" else 200
    return render_template("library/form.html", form=form, title="New checklist template",
                           cancel=url_for(".index")), status


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@write
def template_edit(template_id: int):
    """Rename a template or change its description."""
    template = db.session.get(ChecklistTemplate, template_id) or abort(404)
    form = forms.TemplateForm(obj=template)
    if form.validate_on_submit():
        with saving(form) as saved:
            versions.update_template(template, form.name.data, form.description.data,
                                       actor=current_user, now=utcnow())
        if saved.ok:
            flash("Checklist saved.", "success")
            return redirect(url_for(".template_detail", template_id=template.id))
    status = 400 if request.method == "POST" else 200
    return render_template("library/form.html", form=form, title=f"Edit {template.name}",
                           cancel=url_for(".template_detail", template_id=template.id)), status


@bp.get("/templates/<int:template_id>")
@read
def template_detail(template_id: int):
    """A template's versions; the builder lives on the version page."""
    template = db.session.scalar(
        select(ChecklistTemplate).where(ChecklistTemplate.id == template_id)
        .options(selectinload(ChecklistTemplate.versions)
                 .joinedload(ChecklistTemplateVersion.published_by))) or abort(404)

    return render_template("library/template.html", template=template,
                           draft=versions.draft_of(template), trail=entries_for(template))


@bp.post("/templates/<int:template_id>/draft")
@write
def template_draft(template_id: int):
    """Open the template's draft, creating it as a copy of the latest version if needed."""
    template = db.session.get(ChecklistTemplate, template_id) or abort(404)
    version = versions.start_draft(template, actor=current_user, now=utcnow())
    db.session.commit()
    return redirect(url_for(".version_detail", version_id=version.id))


@bp.route("/templates/import", methods=["GET", "POST"])
@write
def template_import():
    """Import a checklist template (new template or new version of an existing one)."""
    form = forms.TemplateImportForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            version = files.import_template(
                form.content(), form.fmt.data, actor=current_user, now=utcnow(),
                publish=form.publish.data, change_note=form.change_note.data)
        if saved.ok:
            flash(f"Imported {version.label} ({version.status.value}).", "success")
            return redirect(url_for(".version_detail", version_id=version.id))
    status = 400 if request.method == "POST" else 200
    return render_template("library/import.html", form=form, what="checklist template",
                           example=TEMPLATE_EXAMPLE), status


TEMPLATE_EXAMPLE = """template: Warehouse walk
sections:
  - title: Storage
    questions:
      - key: shelves-labelled
        text: Are storage locations labelled so that stock can be found?
        answer_type: yes_no
        clauses: ["ISO 9001:2015 8.5.2"]
        photo_required: true"""


# --- versions ---------------------------------------------------------------------------------


@bp.get("/versions/<int:version_id>")
@read
def version_detail(version_id: int):
    """A version's content; for drafts and library managers, the builder."""
    version = version_or_404(version_id)
    can_edit = version.is_draft and Permission.MANAGE_LIBRARY in _held()
    return render_template(
        "library/version.html", version=version, can_edit=can_edit,
        section_form=forms.SectionForm(), publish_form=forms.PublishForm(),
        problems=versions.publishing_problems(version) if version.is_draft else [],
        question_count=len(versions.questions_of(version)),
    )


def _held():

    return permissions_for(current_user.roles)


@bp.get("/versions/<int:version_id>/preview")
@read
def version_preview(version_id: int):
    """The checklist as an auditor will see it (inputs are inert here)."""
    version = version_or_404(version_id)
    return render_template("library/preview.html", version=version, AnswerType=AnswerType,
                           verdicts=list(Verdict))


@bp.get("/versions/<int:version_id>/coverage")
@read
def version_coverage(version_id: int):
    """Which clauses of a standard the version covers and which it misses."""
    version = version_or_404(version_id)
    standards = list(db.session.scalars(select(Standard).order_by(Standard.code)))
    used = {c.standard_id for q in versions.questions_of(version) for c in q.clauses}
    chosen = request.args.get("standard", type=int) or next(
        (s.id for s in standards if s.id in used), standards[0].id if standards else None)
    standard = next((s for s in standards if s.id == chosen), None)
    if standard is None:
        abort(404)
    equivalents = request.args.get("equivalents", "1") != "0"
    rows = coverage.coverage(version, standard, use_equivalents=equivalents)
    return render_template("library/coverage.html", version=version, standards=standards,
                           standard=standard, rows=rows, equivalents=equivalents,
                           summary=coverage.coverage_summary(rows),
                           css={s: c for s, (_label, c) in coverage.COVERAGE_STATES.items()})


@bp.get("/versions/<int:version_id>/export.<fmt>")
@read
def version_export(version_id: int, fmt: str):
    """Download a version as YAML or CSV (the import format)."""
    if fmt not in MIME:
        abort(404)
    version = version_or_404(version_id)
    name = f"{_slug(version.template.name)}-v{version.number}.{fmt}"
    return _download(files.export_template(version, fmt), name, fmt)


def version_action(version_id: int, action, success: str):
    """Run ``action(version)`` through its service, commit, and go back with ``success`` or the refusal."""
    version = version_or_404(version_id)
    try:
        result = action(version)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".version_detail", version_id=version_id))
    flash(success, "success")
    return result


@bp.post("/versions/<int:version_id>/publish")
@write
def version_publish(version_id: int):
    """Publish a draft (freezes it)."""
    form = forms.PublishForm()
    if not form.validate_on_submit():
        abort(400)

    def act(version):
        versions.publish_version(version, actor=current_user, now=utcnow(),
                                   change_note=form.change_note.data)
        return redirect(url_for(".version_detail", version_id=version.id))

    return version_action(version_id, act, "Published. Audits started from now on use this "
                                            "version; running audits keep theirs.")


@bp.post("/versions/<int:version_id>/discard")
@write
def version_discard(version_id: int):
    """Delete a draft version."""
    def act(version):
        template_id = version.template_id
        versions.discard_draft(version, actor=current_user, now=utcnow())
        return redirect(url_for(".template_detail", template_id=template_id))

    return version_action(version_id, act, "Draft discarded.")
