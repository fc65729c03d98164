"""The clause library and checklist templates."""

from __future__ import annotations

from flask import Flask

from audit.auth.permissions import Permission
from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint and the navigation entry."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.library import builder_views, views  # noqa: F401  (both add routes to the library blueprint)

    app.register_blueprint(views.bp)
    registry(app).add_navigation("library.index", "Library", Permission.VIEW_ORGANISATION)
