"""Form helpers shared by features."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from flask import abort, flash, has_request_context, redirect, request
from flask_wtf import FlaskForm
from markupsafe import escape
from sqlalchemy import select
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import ValidationError

from audit.core.errors import DomainError, NotAllowed
from audit.core.text import INT32_MAX, INT32_MIN, LINE_BREAK_RE, YEAR_MESSAGE, year_in_range
from audit.extensions import db


def single_line(_form, field) -> None:
    """WTForms validator: no line breaks (the value becomes a title, an e-mail header, a
    calendar SUMMARY or a table cell, where a line break splits or injects)."""
    if isinstance(field.data, str) and LINE_BREAK_RE.search(field.data):
        raise ValidationError("Keep this on one line: line breaks are not allowed here.")


def within_range(_form, field) -> None:
    """WTForms validator: dates within the accepted years, whole numbers within an INTEGER
    column (an id of 2^31 or more is a 500 on PostgreSQL, beyond 2^63 on SQLite)."""
    data = field.data
    for value in data if isinstance(data, list | tuple) else (data,):
        if isinstance(value, dt.date) and not year_in_range(value.year):
            raise ValidationError(YEAR_MESSAGE)
        if isinstance(value, int) and not isinstance(value, bool) and not INT32_MIN <= value <= INT32_MAX:
            raise ValidationError("This number is too large.")


class AppForm(FlaskForm):
    """Base of every form: adds the type-aware input rules the request edge cannot know.

    Single-line text (``StringField`` and its kin, except ``TextAreaField``) refuses line
    breaks; every field refuses dates outside the accepted years and integers beyond the
    column range. Added when a field is bound, so no form can forget them.
    """

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = unbound_field.bind(form=form, **options)
            extra = [within_range]
            if isinstance(field, StringField) and not isinstance(field, TextAreaField):
                extra.append(single_line)
            field.validators = [*field.validators, *extra]
            return field

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            _mark_refused()
        return ok


_REFUSED = "audit.form_refused"


def _mark_refused() -> None:
    # Kept in the request's environ, not ``g``: an app context (and its ``g``) may outlive a
    # request, e.g. in tests, and the mark must never leak into the next request.
    if has_request_context() and request.method != "GET":
        request.environ[_REFUSED] = True


def init_app(app) -> None:
    """A write whose form is shown again with errors answers 422, not 200, so clients, tests
    and monitoring see that nothing was stored (views need not remember the status)."""

    @app.after_request
    def _refused_forms_are_422(response):
        if request.environ.get(_REFUSED) and response.status_code == 200:
            response.status_code = 422
        return response


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def timezone_choices() -> list[tuple[str, str]]:
    """IANA zone names, for a select box."""
    return [(z, z.replace("_", " ")) for z in _zones()]


def is_valid_timezone(name: str | None) -> bool:
    """True for a known IANA zone name."""
    return bool(name) and name in _zones()


def validate_timezone(_form, field) -> None:
    """WTForms validator: the value must be an IANA zone such as Europe/Berlin."""
    if not is_valid_timezone(field.data):
        raise ValidationError("Choose a time zone from the list (e.g. Europe/Berlin).")


class FastSelect(widgets.Select):
    """WTForms' ``<select>``, with its plain options written directly: the same HTML, in about
    a third of the time (a filter bar of four facets was ~0.6 ms of every list page; issue 16).

    An option with extra attributes (``render_kw``) goes through WTForms' own code.
    """

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        label = escape(choice.label or choice.value)
        # WTForms sorts attributes by name: "selected" comes before "value".
        selected = "selected " if choice.selected else ""
        return f'<option {selected}value="{escape(value)}">{label}</option>'


class FastSelectField(SelectField):
    """A SelectField rendered by ``FastSelect``."""

    widget = FastSelect()


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes for a many-to-many choice (touch-friendly, unlike <select multiple>)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def model_choices(query, order=None, *, blank: str | None = "—",
                  label=lambda o: o.name) -> list[tuple[int, str]]:
    """``(id, label)`` select choices from a model (ordered by ``order``) or a ready select
    statement, led by ``(0, blank)`` unless ``blank`` is None (0 means "none" in our forms)."""
    stmt = select(query).order_by(order) if isinstance(query, type) else query
    choices = [(o.id, label(o)) for o in db.session.scalars(stmt)]
    return [(0, blank)] + choices if blank is not None else choices


def form_values(form) -> dict:
    """The submitted values of ``form`` without CSRF and submit fields."""
    return {
        name: field.data
        for name, field in form._fields.items()
        if name not in ("csrf_token", "submit")
    }


def attach_error(form, exc) -> None:
    """Show a service's DomainError on its field, or on the form as a whole."""
    _mark_refused()
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)


@dataclass
class SaveOutcome:
    """What ``saving`` / ``flashing`` did: ``ok`` once the block's changes are committed."""

    ok: bool = False
    #: ``flashing``: the success message, when the block knows it only at the end.
    message: str = ""


@contextlib.contextmanager
def saving(form, *, forbidden_aborts: bool = False):
    """Commit what the block changes through services; on a DomainError roll back and show its
    message on ``form`` (its field, else the form), so the page re-renders with the user's input
    and nothing is stored::

        with saving(form) as saved:
            audit = services.create_audit(form.values(), actor=current_user, now=utcnow())
        if saved.ok:
            return redirect(...)

    ``forbidden_aborts`` turns a ``NotAllowed`` into a 403 page instead of a form message.
    """
    outcome = SaveOutcome()
    try:
        yield outcome
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if forbidden_aborts and isinstance(exc, NotAllowed):
            abort(403)
        attach_error(form, exc)
    else:
        outcome.ok = True


@contextlib.contextmanager
def flashing(success: str = ""):
    """Commit what the block changes for a one-button form (no fields to show errors on): a
    ``NotAllowed`` is a 403 page, any other DomainError rolls back and is flashed as an error,
    success flashes ``success`` (or ``outcome.message`` set by the block)::

        with flashing("Report signed."):
            report.sign_report(audit, actor=current_user, now=utcnow())
        return redirect(...)
    """
    outcome = SaveOutcome()
    try:
        yield outcome
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        outcome.ok = True
        flash(outcome.message or success, "success")


def post_form(form, change, *, message: str, to: str, refused):
    """The usual POST of a page's form: when ``form`` is valid, ``change()`` through the services
    (``saving``: a DomainError lands on the form, ``NotAllowed`` is a 403), then ``message`` and a
    redirect to ``to``; otherwise ``refused()`` — the page again with the form's input (422)."""
    if form.validate_on_submit():
        with saving(form, forbidden_aborts=True) as saved:
            change()
        if saved.ok:
            flash(message, "success")
            return redirect(to)
    return refused()
