"""The global trail page (who changed what, newest first)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission, requires
from audit.extensions import db
from audit.models import TrailEntry

bp = Blueprint("trail", __name__, url_prefix="/trail")


@bp.get("/")
@requires(Permission.VIEW_TRAIL)
def index():
    """Latest trail entries, optionally for one object type."""
    object_type = request.args.get("type") or None
    stmt = select(TrailEntry).options(joinedload(TrailEntry.actor)).order_by(TrailEntry.id.desc())
    if object_type:
        stmt = stmt.where(TrailEntry.object_type == object_type)
    entries = list(db.session.scalars(stmt.limit(300)))
    return render_template("trail/index.html", entries=entries, object_type=object_type)
