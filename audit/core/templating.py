"""Jinja filters and globals: local times, navigation by capability."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import Flask, request
from flask_login import current_user

from audit.auth.permissions import Permission, permissions_for

#: (endpoint, label, capability needed). Features append their own entries at import.
NAVIGATION: list[tuple[str, str, Permission | None]] = [
    ("home.index", "Home", None),
    ("organisation.site_list", "Organisation", Permission.VIEW_ORGANISATION),
    ("people.user_list", "People", Permission.VIEW_ORGANISATION),
    ("trail.index", "Trail", Permission.VIEW_TRAIL),
    ("programme.index", "Programme", Permission.VIEW_ORGANISATION),
    ("audits.audit_list", "Audits", Permission.VIEW_ORGANISATION),
    ("findings.index", "Findings", Permission.VIEW_ORGANISATION),
    ("scar.index", "My SCARs", Permission.RESPOND_SCAR),
    ("reports.index", "Reports", Permission.VIEW_REPORTS),
    ("notifications.outbox", "Outbox", Permission.VIEW_OUTBOX),
]


def localtime(value: dt.datetime | None, tz: str | None = None, fmt: str = "%d %b %Y %H:%M") -> str:
    """Format an aware UTC datetime in ``tz`` (default: the user's zone), with the zone's abbreviation."""
    if value is None:
        return ""
    if tz is None:
        tz = getattr(current_user, "timezone", None) or "UTC"
    local = value.astimezone(zoneinfo.ZoneInfo(tz))
    return f"{local.strftime(fmt)} {local.tzname()}"


def datefmt(value: dt.date | None, fmt: str = "%d %b %Y") -> str:
    return value.strftime(fmt) if value else ""


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["datefmt"] = datefmt

    @app.context_processor
    def _navigation():
        if not current_user.is_authenticated:
            return {"navigation": [], "user_permissions": frozenset()}
        held = permissions_for(current_user.roles)
        items = []
        for endpoint, label, needed in NAVIGATION:
            if endpoint not in app.view_functions:
                continue
            if needed is None or needed in held:
                active = (request.endpoint or "").split(".")[0] == endpoint.split(".")[0]
                items.append({"endpoint": endpoint, "label": label, "active": active})
        return {"navigation": items, "user_permissions": held, "Permission": Permission}
