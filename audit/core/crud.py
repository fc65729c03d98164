"""List / detail / create / edit pages for simple reference data, declared once per resource.

Each resource names its form, its service functions and its list columns; this module wires
the four routes so that every resource behaves the same way: permission checks, CSRF, a
clear message on bad input with nothing stored, a trail entry for every write (via the
service), and a detail page that shows the object's trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, func, select

from audit.auth.permissions import Permission, requires
from audit.core.forms import form_values, saving
from audit.core.registry import registry
from audit.extensions import db
from audit.models import utcnow
from audit.trail.services import entries_for


@dataclass
class Column:
    """A list column: heading and a function from row to display value."""

    label: str
    value: Callable[[Any], Any]
    #: endpoint-free link to the row's detail page when True
    link: bool = False


@dataclass
class Resource:
    """Declares one kind of reference data and how to manage it."""

    name: str  #: singular, used in URLs and messages ("site")
    plural: str  #: used in URLs ("sites")
    title: str  #: heading of the list page ("Sites")
    model: type
    form: type
    create: Callable[..., Any]  #: create(values, *, actor, now) -> obj
    update: Callable[..., Any]  #: update(obj, values, *, actor, now) -> None
    columns: list[Column]
    list_query: Callable[[], Select]
    label: Callable[[Any], str]
    write_permission: Permission
    read_permission: Permission = Permission.VIEW_ORGANISATION
    #: Values to pre-fill the edit form with (defaults to the form's fields read off the object).
    form_data: Callable[[Any], dict] | None = None
    #: Extra detail rows (label, value) for the detail page.
    details: Callable[[Any], list[tuple[str, Any]]] | None = None
    intro: str = ""
    extra_actions: list[tuple[str, str]] = field(default_factory=list)
    #: A template extending ``crud/detail.html`` (block ``extra``) and its context (obj, user).
    detail_template: str = "crud/detail.html"
    detail_context: Callable[[Any, Any], dict] | None = None
    #: Rows per list page (the list query should order by a unique key for stable pages).
    page_size: int = 50


def register(bp: Blueprint, res: Resource) -> None:
    """Add list, new, detail and edit routes for ``res`` to ``bp``."""

    def list_view():
        # One page at a time: reference data grows with the organisation (issue 16), and a
        # list must cost the same whatever the number of rows.
        stmt = res.list_query()
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        pages = max((total + res.page_size - 1) // res.page_size, 1)
        # Clamped: past the last page shows the last one (and a huge number cannot overflow OFFSET).
        page = min(max(request.args.get("page", 1, type=int), 1), pages)
        # The primary key last: rows that tie on the list's own order keep their page.
        stmt = stmt.order_by(*res.model.__mapper__.primary_key)
        rows = list(db.session.scalars(stmt.offset((page - 1) * res.page_size).limit(res.page_size)).unique())
        # Each cell worked out here, once: a Jinja call per cell was most of a row's cost.
        table = [(row.id, [(col.value(row), col.link) for col in res.columns]) for row in rows]
        return render_template("crud/list.html", res=res, table=table, page=page, pages=pages, total=total)

    def new_view():
        form = res.form()
        if form.validate_on_submit():
            with saving(form) as saved:
                obj = res.create(form_values(form), actor=current_user, now=utcnow())
            if saved.ok:
                flash(f"{res.name.capitalize()} “{res.label(obj)}” created.", "success")
                return redirect(url_for(f".{res.name}_detail", obj_id=obj.id))
        status = 400 if request.method == "POST" else 200
        return render_template("crud/form.html", res=res, form=form, obj=None), status

    def detail_view(obj_id: int):
        obj = db.session.get(res.model, obj_id) or abort(404)
        details = res.details(obj) if res.details else []
        extra = res.detail_context(obj, current_user) if res.detail_context else {}
        # Other features' sections for this page (registry: "<blueprint>.<resource>").
        added = registry().detail_sections.get(f"{bp.name}.{res.name}", [])
        sections = [s for s in (section(obj, current_user) for section in added) if s]
        return render_template(
            res.detail_template, res=res, obj=obj, details=details, trail=entries_for(obj),
            sections=sections, **extra,
        )

    def edit_view(obj_id: int):
        obj = db.session.get(res.model, obj_id) or abort(404)
        if request.method == "POST":
            form = res.form()
        else:
            data = res.form_data(obj) if res.form_data else None
            form = res.form(data=data) if data is not None else res.form(obj=obj)
        form.editing = obj
        if form.validate_on_submit():
            with saving(form) as saved:
                res.update(obj, form_values(form), actor=current_user, now=utcnow())
            if saved.ok:
                flash(f"{res.name.capitalize()} “{res.label(obj)}” saved.", "success")
                return redirect(url_for(f".{res.name}_detail", obj_id=obj.id))
        status = 400 if request.method == "POST" else 200
        return render_template("crud/form.html", res=res, form=form, obj=obj), status

    read, write = requires(res.read_permission), requires(res.write_permission)
    bp.add_url_rule(f"/{res.plural}/", f"{res.name}_list", read(list_view))
    bp.add_url_rule(
        f"/{res.plural}/new", f"{res.name}_new", write(new_view), methods=["GET", "POST"]
    )
    bp.add_url_rule(f"/{res.plural}/<int:obj_id>", f"{res.name}_detail", read(detail_view))
    bp.add_url_rule(
        f"/{res.plural}/<int:obj_id>/edit",
        f"{res.name}_edit",
        write(edit_view),
        methods=["GET", "POST"],
    )
