"""Jinja filters and globals: local times, navigation by capability."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from flask import Flask, request, url_for
from flask_login import current_user

from audit.auth.permissions import Permission, permissions_for
from audit.core.registry import registry


def localtime(value: dt.datetime | None, tz: str | None = None, fmt: str = "%d %b %Y %H:%M") -> str:
    """Format an aware UTC datetime in ``tz`` (default: the user's zone), with the zone's abbreviation."""
    if value is None:
        return ""
    if tz is None:
        tz = getattr(current_user, "timezone", None) or "UTC"
    local = value.astimezone(zoneinfo.ZoneInfo(tz))
    return f"{local.strftime(fmt)} {zone_label(local.tzname(), tz)}"


def viewer_today(now: dt.datetime) -> dt.date:
    """The date at ``now`` for the person viewing the page, in their own zone (UTC when
    anonymous): what a calendar marks as today and a list of many sites' audits opens at."""
    tz = getattr(current_user, "timezone", None) or "UTC"
    return now.astimezone(zoneinfo.ZoneInfo(tz)).date()


#: Abbreviations the tz database gives to more than one zone: "CST" is Chicago and Shanghai.
AMBIGUOUS_ABBREVIATIONS = frozenset({"CST", "CDT", "IST", "BST", "AST", "GST", "SST", "PST"})


def zone_label(abbreviation: str | None, zone: str) -> str:
    """The zone's abbreviation, with its city when the abbreviation alone is ambiguous."""
    if not abbreviation:
        return zone
    if abbreviation in AMBIGUOUS_ABBREVIATIONS:
        return f"{abbreviation} ({zone.rsplit('/', 1)[-1].replace('_', ' ')})"
    return abbreviation


def datefmt(value: dt.date | None, fmt: str = "%d %b %Y") -> str:
    return value.strftime(fmt) if value else ""


#: An id no real row has, put in a URL to find where ids go.
_ID_SENTINEL = 918273645546372819


def id_url(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, key=id, **values)`` for a table's many ids: the URL is built once
    and each id put in its place (an ``int`` rule part is the id's digits). A row's
    ``url_for`` was a tenth of a list page's time (issue 16)."""
    marker = str(_ID_SENTINEL)
    head, found, tail = url_for(endpoint, **{key: _ID_SENTINEL}, **values).partition(marker)
    if not found or marker in tail:  # not where a plain int goes: build each URL
        return lambda object_id: url_for(endpoint, **{key: object_id}, **values)
    return lambda object_id: f"{head}{int(object_id)}{tail}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["datefmt"] = datefmt
    app.jinja_env.globals["id_url"] = id_url

    @app.context_processor
    def _navigation():
        if not current_user.is_authenticated:
            return {"navigation": [], "user_permissions": frozenset()}
        held = permissions_for(current_user.roles)
        items = []
        exact = any(entry.endpoint == request.endpoint for entry in registry(app).navigation)
        for entry in registry(app).navigation:
            if entry.permission is None or entry.permission in held:
                # The entry of this very page, else the entry of its feature (blueprint).
                active = request.endpoint == entry.endpoint if exact else \
                    (request.endpoint or "").split(".")[0] == entry.endpoint.split(".")[0]
                items.append({"endpoint": entry.endpoint, "label": entry.label, "active": active,
                              "badge": entry.badge(current_user) if entry.badge else 0})
        return {"navigation": items, "user_permissions": held, "Permission": Permission}
