"""Library pages: standards and their clause trees, checklist templates and their builder,
preview, coverage, import and export. Reads need VIEW_ORGANISATION, writes MANAGE_LIBRARY."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.extensions import db
from audit.library import checklists, forms, services
from audit.models import (
    AnswerType,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    Standard,
    Verdict,
    utcnow,
)

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


def _version_or_404(version_id: int) -> ChecklistTemplateVersion:
    version = checklists.load_version(version_id)
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
        rows.append({"template": t, "published": published, "draft": checklists.draft_of(t),
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
            version = checklists.create_template(form.name.data, form.description.data,
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
            checklists.update_template(template, form.name.data, form.description.data,
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
    from audit.trail.services import entries_for

    return render_template("library/template.html", template=template,
                           draft=checklists.draft_of(template), trail=entries_for(template))


@bp.post("/templates/<int:template_id>/draft")
@write
def template_draft(template_id: int):
    """Open the template's draft, creating it as a copy of the latest version if needed."""
    template = db.session.get(ChecklistTemplate, template_id) or abort(404)
    version = checklists.start_draft(template, actor=current_user, now=utcnow())
    db.session.commit()
    return redirect(url_for(".version_detail", version_id=version.id))


@bp.route("/templates/import", methods=["GET", "POST"])
@write
def template_import():
    """Import a checklist template (new template or new version of an existing one)."""
    form = forms.TemplateImportForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            version = checklists.import_template(
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
    version = _version_or_404(version_id)
    can_edit = version.is_draft and Permission.MANAGE_LIBRARY in _held()
    return render_template(
        "library/version.html", version=version, can_edit=can_edit,
        section_form=forms.SectionForm(), publish_form=forms.PublishForm(),
        problems=checklists.publishing_problems(version) if version.is_draft else [],
        question_count=len(checklists.questions_of(version)),
    )


def _held():
    from audit.auth.permissions import permissions_for

    return permissions_for(current_user.roles)


@bp.get("/versions/<int:version_id>/preview")
@read
def version_preview(version_id: int):
    """The checklist as an auditor will see it (inputs are inert here)."""
    version = _version_or_404(version_id)
    return render_template("library/preview.html", version=version, AnswerType=AnswerType,
                           verdicts=list(Verdict))


@bp.get("/versions/<int:version_id>/coverage")
@read
def version_coverage(version_id: int):
    """Which clauses of a standard the version covers and which it misses."""
    version = _version_or_404(version_id)
    standards = list(db.session.scalars(select(Standard).order_by(Standard.code)))
    used = {c.standard_id for q in checklists.questions_of(version) for c in q.clauses}
    chosen = request.args.get("standard", type=int) or next(
        (s.id for s in standards if s.id in used), standards[0].id if standards else None)
    standard = next((s for s in standards if s.id == chosen), None)
    if standard is None:
        abort(404)
    equivalents = request.args.get("equivalents", "1") != "0"
    rows = checklists.coverage(version, standard, use_equivalents=equivalents)
    return render_template("library/coverage.html", version=version, standards=standards,
                           standard=standard, rows=rows, equivalents=equivalents,
                           summary=checklists.coverage_summary(rows))


@bp.get("/versions/<int:version_id>/export.<fmt>")
@read
def version_export(version_id: int, fmt: str):
    """Download a version as YAML or CSV (the import format)."""
    if fmt not in MIME:
        abort(404)
    version = _version_or_404(version_id)
    name = f"{_slug(version.template.name)}-v{version.number}.{fmt}"
    return _download(checklists.export_template(version, fmt), name, fmt)


def _version_action(version_id: int, action, success: str):
    version = _version_or_404(version_id)
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
        checklists.publish_version(version, actor=current_user, now=utcnow(),
                                   change_note=form.change_note.data)
        return redirect(url_for(".version_detail", version_id=version.id))

    return _version_action(version_id, act, "Published. Audits started from now on use this "
                                            "version; running audits keep theirs.")


@bp.post("/versions/<int:version_id>/discard")
@write
def version_discard(version_id: int):
    """Delete a draft version."""
    def act(version):
        template_id = version.template_id
        checklists.discard_draft(version, actor=current_user, now=utcnow())
        return redirect(url_for(".template_detail", template_id=template_id))

    return _version_action(version_id, act, "Draft discarded.")


@bp.post("/versions/<int:version_id>/sections")
@write
def section_new(version_id: int):
    """Append a section to a draft."""
    form = forms.SectionForm()
    if not form.validate_on_submit():
        flash("Give the section a title.", "error")
        return redirect(url_for(".version_detail", version_id=version_id))

    def act(version):
        section = checklists.add_section(version, form.title.data, actor=current_user,
                                         now=utcnow())
        return redirect(url_for(".version_detail", version_id=version.id,
                                _anchor=f"section-{section.id}"))

    return _version_action(version_id, act, "Section added.")


# --- sections ---------------------------------------------------------------------------------


def _section_or_404(section_id: int) -> ChecklistSection:
    section = db.session.scalar(
        select(ChecklistSection).where(ChecklistSection.id == section_id)
        .options(joinedload(ChecklistSection.version)
                 .joinedload(ChecklistTemplateVersion.template)))
    return section or abort(404)


def _back(version_id: int, anchor: str | None = None):
    return redirect(url_for(".version_detail", version_id=version_id, _anchor=anchor))


def _run(action, version_id: int, anchor: str | None, success: str | None = None):
    try:
        action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        if success:
            flash(success, "success")
    return _back(version_id, anchor)


@bp.route("/sections/<int:section_id>/edit", methods=["GET", "POST"])
@write
def section_edit(section_id: int):
    """Rename a section of a draft."""
    section = _section_or_404(section_id)
    form = forms.SectionForm(obj=section)
    if form.validate_on_submit():
        with saving(form) as saved:
            checklists.update_section(section, form.title.data, actor=current_user, now=utcnow())
        if saved.ok:
            return _back(section.version_id, f"section-{section.id}")
    status = 400 if request.method == "POST" else 200
    return render_template("library/form.html", form=form, title="Rename section",
                           cancel=url_for(".version_detail", version_id=section.version_id)), status


@bp.post("/sections/<int:section_id>/move")
@write
def section_move(section_id: int):
    """Move a section up or down (buttons: works on tablets without drag and drop)."""
    section = _section_or_404(section_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    return _run(lambda: checklists.move_section(section, offset, actor=current_user, now=utcnow()),
                section.version_id, f"section-{section.id}")


@bp.post("/sections/<int:section_id>/delete")
@write
def section_delete(section_id: int):
    """Remove a section and its questions from a draft."""
    section = _section_or_404(section_id)
    version_id = section.version_id
    return _run(lambda: checklists.delete_section(section, actor=current_user, now=utcnow()),
                version_id, None, "Section removed.")


# --- questions --------------------------------------------------------------------------------


def _question_form(version: ChecklistTemplateVersion, question: ChecklistQuestion | None,
                   **kwargs) -> forms.QuestionForm:
    form = forms.QuestionForm(**kwargs)
    keys = [q.key for q in checklists.questions_of(version) if q is not question]
    form.condition_key.choices = [("", "— always show —")] + [(k, k) for k in keys]
    clauses = db.session.scalars(select(Clause).join(Clause.standard)
                                 .options(joinedload(Clause.standard))
                                 .order_by(Standard.code, Standard.edition, Clause.position))
    form.clause_ids.choices = [(c.id, c) for c in clauses]
    return form


def _question_page(form, version, question, section):
    groups: dict = {}
    selected = set(form.clause_ids.data or [])
    for value, clause in form.clause_ids.choices:
        groups.setdefault(clause.standard.label, []).append((clause, value in selected))
    status = 400 if request.method == "POST" else 200
    return render_template("library/question_form.html", form=form, version=version,
                           question=question, section=section, groups=groups), status


@bp.route("/sections/<int:section_id>/questions/new", methods=["GET", "POST"])
@write
def question_new(section_id: int):
    """Add a question to a draft section."""
    section = _section_or_404(section_id)
    version = _version_or_404(section.version_id)
    form = _question_form(version, None)
    if form.validate_on_submit():
        with saving(form) as saved:
            question = checklists.add_question(section, form.values(), actor=current_user,
                                               now=utcnow())
        if saved.ok:
            flash(f"Question {question.key} added.", "success")
            return _back(version.id, f"question-{question.id}")
    return _question_page(form, version, None, section)


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@write
def question_edit(question_id: int):
    """Change a question of a draft."""
    question = db.session.get(ChecklistQuestion, question_id) or abort(404)
    version = _version_or_404(question.section.version_id)
    data = None
    if request.method == "GET":
        data = {
            "key": question.key, "text": question.text, "guidance": question.guidance,
            "answer_type": question.answer_type.value,
            "choices": "\n".join(question.choices or []),
            "min_value": "" if question.min_value is None else f"{question.min_value:g}",
            "max_value": "" if question.max_value is None else f"{question.max_value:g}",
            "evidence_required": question.evidence_required,
            "photo_required": question.photo_required,
            "weight": "" if question.weight is None else f"{question.weight:g}",
            "condition_key": question.condition_key or "",
            "condition_value": question.condition_value or "",
            "clause_ids": [c.id for c in question.clauses],
        }
    form = _question_form(version, question, data=data)
    if form.validate_on_submit():
        with saving(form) as saved:
            checklists.update_question(question, form.values(), actor=current_user, now=utcnow())
        if saved.ok:
            flash(f"Question {question.key} saved.", "success")
            return _back(version.id, f"question-{question.id}")
    return _question_page(form, version, question, question.section)


@bp.post("/questions/<int:question_id>/move")
@write
def question_move(question_id: int):
    """Move a question up or down (into the neighbouring section at the edges)."""
    question = db.session.get(ChecklistQuestion, question_id) or abort(404)
    offset = -1 if request.form.get("direction") == "up" else 1
    version_id = question.section.version_id
    return _run(lambda: checklists.move_question(question, offset, actor=current_user,
                                                 now=utcnow()),
                version_id, f"question-{question.id}")


@bp.post("/questions/<int:question_id>/delete")
@write
def question_delete(question_id: int):
    """Remove a question from a draft."""
    question = db.session.get(ChecklistQuestion, question_id) or abort(404)
    version_id = question.section.version_id
    return _run(lambda: checklists.delete_question(question, actor=current_user, now=utcnow()),
                version_id, None, "Question removed.")
