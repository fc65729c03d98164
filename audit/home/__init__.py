"""Home: what needs me now. Other features add panels through ``registry(app).add_home_panel``."""

from __future__ import annotations

from flask import Flask

from audit.core.registry import registry


def init_app(app: Flask) -> None:
    """Register the blueprint and the navigation entry."""
    # Views are imported when the feature is installed, not when the package is imported, so
    # services and jobs can import this package without loading views (nothing imports views).
    from audit.home import views

    app.register_blueprint(views.bp)
    registry(app).add_navigation("home.index", "Home")
