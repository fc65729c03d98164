"""Library pages, continued: the draft checklist builder — sections and questions added, edited,
moved and deleted on a draft version. Routes on the library blueprint (installed by
``audit.library.init_app``)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.extensions import db
from audit.library import forms
from audit.library.checklists import builder, versions
from audit.library.views import bp, version_action, version_or_404, write
from audit.models import (
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplateVersion,
    Clause,
    Standard,
    utcnow,
)


@bp.post("/versions/<int:version_id>/sections")
@write
def section_new(version_id: int):
    """Append a section to a draft."""
    form = forms.SectionForm()
    if not form.validate_on_submit():
        flash("Give the section a title.", "error")
        return redirect(url_for(".version_detail", version_id=version_id))

    def act(version):
        section = builder.add_section(version, form.title.data, actor=current_user,
                                         now=utcnow())
        return redirect(url_for(".version_detail", version_id=version.id,
                                _anchor=f"section-{section.id}"))

    return version_action(version_id, act, "Section added.")


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
            builder.update_section(section, form.title.data, actor=current_user, now=utcnow())
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
    return _run(lambda: builder.move_section(section, offset, actor=current_user, now=utcnow()),
                section.version_id, f"section-{section.id}")


@bp.post("/sections/<int:section_id>/delete")
@write
def section_delete(section_id: int):
    """Remove a section and its questions from a draft."""
    section = _section_or_404(section_id)
    version_id = section.version_id
    return _run(lambda: builder.delete_section(section, actor=current_user, now=utcnow()),
                version_id, None, "Section removed.")


# --- questions --------------------------------------------------------------------------------


def _question_form(version: ChecklistTemplateVersion, question: ChecklistQuestion | None,
                   **kwargs) -> forms.QuestionForm:
    form = forms.QuestionForm(**kwargs)
    keys = [q.key for q in versions.questions_of(version) if q is not question]
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
    version = version_or_404(section.version_id)
    form = _question_form(version, None)
    if form.validate_on_submit():
        with saving(form) as saved:
            question = builder.add_question(section, form.values(), actor=current_user,
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
    version = version_or_404(question.section.version_id)
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
            builder.update_question(question, form.values(), actor=current_user, now=utcnow())
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
    return _run(lambda: builder.move_question(question, offset, actor=current_user,
                                                 now=utcnow()),
                version_id, f"question-{question.id}")


@bp.post("/questions/<int:question_id>/delete")
@write
def question_delete(question_id: int):
    """Remove a question from a draft."""
    question = db.session.get(ChecklistQuestion, question_id) or abort(404)
    version_id = question.section.version_id
    return _run(lambda: builder.delete_question(question, actor=current_user, now=utcnow()),
                version_id, None, "Question removed.")
