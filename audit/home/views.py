"""The home page. Features add panels through ``HOME_PANELS``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, render_template
from flask_login import current_user

from audit.auth.permissions import Permission, requires

bp = Blueprint("home", __name__)

#: Functions (user) -> dict(title, template, context) or None; features register their panels.
HOME_PANELS: list[Callable] = []


@bp.get("/")
@requires(Permission.OWN_ACCOUNT)
def index():
    """What needs the logged-in person now."""
    panels = [p for p in (panel(current_user) for panel in HOME_PANELS) if p]
    return render_template("home/index.html", panels=panels)
