"""The audit management application package: ``create_app`` is the only entry point."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import Flask

from config import CONFIGS

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Feature packages, each with ``init_app(app)``, installed in this order. The order is the
#: navigation's order; audit-page sections have their own fixed slots (``AUDIT_PAGE_SLOTS``).
FEATURES = (
    "audit.auth",
    "audit.home",
    "audit.organisation",
    "audit.people",
    "audit.trail",
    "audit.programme",
    "audit.audits",
    "audit.findings",
    "audit.reports",
    "audit.management",
    "audit.calendar",
    "audit.library",
    "audit.conduct",
    "audit.notifications",
    "audit.scheduling",
)


class ConfigurationError(RuntimeError):
    """The application cannot start with the configuration it was given."""


class AuditFlask(Flask):
    """Flask, remembering per function whether it must be wrapped to run synchronously.

    Flask asks ``ensure_sync`` of every hook, view and teardown on every request (about twenty
    times an answer save), and each answer walks ``inspect.iscoroutinefunction``. A function's
    kind never changes, so the answer is kept; at most ``SYNC_ANSWERS_KEPT`` functions, so
    callables made afresh per call cannot grow a worker.
    """

    SYNC_ANSWERS_KEPT = 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_answers: dict = {}

    def ensure_sync(self, func):
        """As ``Flask.ensure_sync``, answered once per function."""
        try:
            return self._sync_answers[func]
        except KeyError:
            answer = super().ensure_sync(func)
            if len(self._sync_answers) < self.SYNC_ANSWERS_KEPT:
                self._sync_answers[func] = answer
            return answer
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the Flask application.

    ``config_name`` selects a class from ``config.CONFIGS`` (default: ``AUDIT_CONFIG`` or
    ``development``). Outside testing, ``instance/settings.py`` and ``AUDIT_*`` / ``DATABASE_URL``
    environment variables override it; ``overrides`` wins over everything.
    """
    config_name = config_name or os.environ.get("AUDIT_CONFIG", "development")
    if config_name not in CONFIGS:
        raise ConfigurationError(
            f"unknown configuration {config_name!r}; choose one of {', '.join(CONFIGS)}"
        )
    app = AuditFlask(
        __name__,
        instance_path=os.environ.get("AUDIT_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(CONFIGS[config_name])
    app.config["CONFIG_NAME"] = config_name
    if not app.config.get("TESTING"):
        app.config.from_pyfile(os.path.join(app.instance_path, "settings.py"), silent=True)
        app.config.from_prefixed_env(prefix="AUDIT")
        if os.environ.get("DATABASE_URL"):
            app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if overrides:
        app.config.update(overrides)

    _finish_config(app)

    from audit import extensions
    from audit.core import assets, compression, database, hygiene, lengths, registry, routing, security, todo
    from audit.storage import images

    extensions.db.init_app(app)
    lengths.init_app(extensions.db.session)
    if app.config.get("TESTING") or click.get_current_context(silent=True) is not None:
        # Imported here, only for the `flask` CLI and tests: Flask-Migrate pulls in Alembic and
        # Mako (~10 MB per web worker, issue 16) that no web request uses.
        from flask_migrate import Migrate

        Migrate(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    hygiene.init_app(app)  # before CSRF: a malformed body must not reach its parser
    compression.init_app(app)  # before CSRF (unmasks its token) and every other after_request
    extensions.csrf.init_app(app)
    assets.init_app(app)
    routing.init_app(app)  # before any route is added
    database.configure_engines(app)
    security.init_app(app)
    images.init_app(app)

    registry.init_app(app)
    todo.init_app(app)
    registry.install(app, FEATURES)

    from audit.cli import register_cli
    from audit.core import errors, forms, templating

    errors.init_app(app)
    forms.init_app(app)
    templating.init_app(app)
    register_cli(app)
    return app


def _finish_config(app: Flask) -> None:
    """Fill derived settings and refuse unsafe production settings."""
    cfg = app.config
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path) / "audit.db")
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):  # Heroku-style URLs
        uri = "postgresql+psycopg://" + uri[len("postgres://") :]
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    cfg["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)

    proxies = cfg.get("TRUSTED_PROXIES", 0)
    if isinstance(proxies, str) and proxies.strip().isdigit():
        proxies = int(proxies)  # from instance/settings.py written as text
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
        raise ConfigurationError(
            f"TRUSTED_PROXIES must be a whole number of proxies from 0 to 10, not {proxies!r}"
        )
    cfg["TRUSTED_PROXIES"] = proxies

    key = cfg.get("SECRET_KEY")
    if cfg["CONFIG_NAME"] == "production":
        if not key or len(key) < 32 or key.lower().startswith(("change", "dev", "secret")):
            raise ConfigurationError(
                "production needs a real SECRET_KEY (32+ random characters): set AUDIT_SECRET_KEY"
            )
    elif not key:
        cfg["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(instance: Path) -> str:
    """A random key kept in instance/ so development sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
