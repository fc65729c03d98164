"""Login everywhere by default, security headers, trusted proxies and the Flask-Login user loader."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_login import current_user
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm.util import identity_key
from werkzeug.middleware.proxy_fix import ProxyFix

from audit.auth.permissions import Permission, permissions_for, public
from audit.core.problems import problem
from audit.extensions import db, login_manager
from audit.models import User, UserRole

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; worker-src 'self'; manifest-src 'self'"
)


#: The session's user with its roles as one aggregated column, one statement built once: a
#: statement object keeps its cache key, where ``session.get`` builds and keys a new one on
#: every request; joined ``UserRole`` objects cost more than the user itself (issue 16).
_SESSION_USER = select(
    User,
    select(func.aggregate_strings(UserRole.role, ",")).where(UserRole.user_id == User.id).scalar_subquery(),
).where(User.id == bindparam("user_id", type_=Integer))

#: Set on every response unless the view set them itself.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Permissions-Policy", "camera=(self), geolocation=(), microphone=()"),
)
_SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS)


def load_session_user(user_id: str):
    """The user of a session cookie, or None when the cookie no longer opens a session.

    The id is ``"<user id>:<session_version>"`` (``User.get_id``): a cookie issued before the
    user logged out, changed password, was deactivated or lost a role carries an old version
    and is refused, however long its signature stays valid.
    """

    key, _, version = user_id.partition(":")
    if not (key.isascii() and key.isdigit() and version.isascii() and version.isdigit()):
        return None  # includes bare ids from cookies issued before versions existed
    if len(key) > 10 or len(version) > 10:
        return None
    # Roles in the same statement: every request checks them.
    session = db.session()
    # A request's session starts empty: the identity map is looked up only when it holds rows.
    if session.identity_map and identity_key(User, int(key)) in session.identity_map:
        # Already in the session (a shared test session): as session.get, no statement.
        user = session.get(User, int(key))
    else:
        row = session.execute(_SESSION_USER, {"user_id": int(key)}).one_or_none()
        user = None
        if row is not None:
            user, stored_roles = row
            user.remember_roles(stored_roles)
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def trust_proxies(app: Flask) -> None:
    """Believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from ``TRUSTED_PROXIES`` hops.

    Behind a TLS-terminating proxy the app otherwise sees plain http: no HSTS, and
    ``url_for(_external=True)`` builds http links. With 0 (the default) the headers are
    ignored, since any client can send them. Host and prefix are left alone: the proxy passes
    the ``Host`` header through, and trusting ``X-Forwarded-Host`` from a proxy that does not
    overwrite it would let clients choose the host of generated links.
    """
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0,
                                x_prefix=0)


def is_background_fetch() -> bool:
    """Whether this request is a script's or service worker's fetch, not a navigation.

    Browsers send ``Sec-Fetch-Mode`` on every request; clients that do not (older browsers,
    scripts, the test client) count as navigations and keep the login redirect.
    """
    return request.headers.get("Sec-Fetch-Mode", "navigate") not in ("navigate", "nested-navigate")


def init_app(app: Flask) -> None:
    """Install the proxy handling, the login gate and response headers."""
    trust_proxies(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    # "basic", not "strong": a tablet moving between Wi-Fi and mobile data changes its client
    # address, and "strong" then drops the session for good (saves answer 401, issue 15),
    # without stopping a thief on the same network. Revocation comes from the server-side
    # session_version instead (load_session_user); "basic" only marks such sessions not fresh.
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)

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
            if is_background_fetch():
                # Not a page the person opened: the login redirect would flash a message, and the
                # login page a CSRF token, each writing a new session cookie over the one a login
                # form on the same tablet was just rendered with, so that login fails (400).
                return Response("Log in first.", status=401, mimetype="text/plain")
            return login_manager.unauthorized()
        # Default deny for supplier contacts: a view that declares no capability is internal.
        if not hasattr(view, "required_permissions") and (
            Permission.VIEW_ORGANISATION not in permissions_for(current_user.roles)
        ):
            abort(403)
        return None

    @app.after_request
    def _security_headers(response):
        # As headers.setdefault for each, with one pass over the headers instead of one a name.
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for key, name, value in _SECURITY_HEADERS:
            if key not in present:
                headers.add(name, value)
        if request.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", "max-age=31536000")
        if current_user.is_authenticated and "cache-control" not in present:
            headers.add("Cache-Control", "private, no-store")
        return response

    @app.route("/healthz")
    @public
    def healthz():
        """Liveness probe for load balancers: the database answers."""
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

