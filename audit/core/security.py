"""Login everywhere by default, security headers, and the Flask-Login user loader."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_login import current_user

from audit.auth.permissions import Permission, permissions_for, public
from audit.core.problems import problem
from audit.extensions import db, login_manager

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; worker-src 'self'; manifest-src 'self'"
)


def init_app(app: Flask) -> None:
    """Install the login gate and response headers."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    # "basic", not "strong": a tablet moving between Wi-Fi and mobile data changes its client
    # address, and "strong" then drops the session for good (saves answer 401, issue 15). The
    # signed session cookie still authenticates; "basic" only marks such a session not fresh.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_user(user_id: str):
        from audit.models import User

        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None

    @app.before_request
    def _login_gate():
        """Every endpoint needs a login unless its view is marked @public."""
        if request.endpoint is None or request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "is_public", False):
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                return problem("unauthorized", "Log in first: this API uses the session of a logged-in user.")
            return login_manager.unauthorized()
        # Default deny for supplier contacts: a view that declares no capability is internal.
        if not hasattr(view, "required_permissions") and (
            Permission.VIEW_ORGANISATION not in permissions_for(current_user.roles)
        ):
            abort(403)
        return None

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user.is_authenticated and "Cache-Control" not in headers:
            headers["Cache-Control"] = "private, no-store"
        return response

    @app.route("/healthz")
    @public
    def healthz():
        """Liveness probe for load balancers: the database answers."""
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

