"""The home page: the panels features registered (``registry(app).add_home_panel``)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from audit.auth.permissions import Permission, requires
from audit.core.registry import registry

bp = Blueprint("home", __name__)

@bp.get("/")
@requires(Permission.OWN_ACCOUNT)
def index():
    """What needs the logged-in person now."""
    panels = [p for p in (panel(current_user) for panel in registry().home_panels) if p]
    return render_template("home/index.html", panels=panels)
