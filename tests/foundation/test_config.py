"""Configuration loading: classes, instance file, environment, production safety."""

import pytest

from audit import ConfigurationError, create_app


def test_testing_config_ignores_environment(monkeypatch, tmp_path):
    """The testing configuration never reads AUDIT_* variables or instance files."""
    monkeypatch.setenv("AUDIT_ORGANISATION_NAME", "From env")
    monkeypatch.setenv("AUDIT_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "settings.py").write_text("ORGANISATION_NAME = 'From file'\n")
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["ORGANISATION_NAME"] == "Audit Management"
    assert app.testing


def test_environment_and_instance_file_override_development(monkeypatch, tmp_path):
    """Development reads instance/settings.py, then AUDIT_* variables win."""
    monkeypatch.setenv("AUDIT_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "settings.py").write_text("ORGANISATION_NAME = 'From file'\nMAIL_PORT = 2525\n")
    monkeypatch.setenv("AUDIT_ORGANISATION_NAME", "From env")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    app = create_app("development")
    assert app.config["ORGANISATION_NAME"] == "From env"
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.db"


def test_development_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    """Without a SECRET_KEY, development makes one in instance/ and reuses it."""
    monkeypatch.setenv("AUDIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    first = create_app("development").config["SECRET_KEY"]
    second = create_app("development").config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("key", [None, "short", "change-me-please-change-me-please-xx"])
def test_production_refuses_weak_secret_key(monkeypatch, tmp_path, key):
    """Production will not start without a real SECRET_KEY."""
    monkeypatch.setenv("AUDIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.delenv("AUDIT_SECRET_KEY", raising=False)
    if key:
        monkeypatch.setenv("AUDIT_SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app("production")


def test_production_with_real_key_has_secure_cookies(monkeypatch, tmp_path):
    """A production app gets HTTPS-only cookies."""
    monkeypatch.setenv("AUDIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("AUDIT_SECRET_KEY", "k" * 20 + "9f8e7d6c5b4a39281706")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_unknown_configuration_name_is_refused():
    """A typo in AUDIT_CONFIG fails loudly instead of running with defaults."""
    with pytest.raises(ConfigurationError, match="unknown configuration"):
        create_app("prodution")


def test_the_app_answers_ensure_sync_once_per_function_and_keeps_a_bounded_number(app, monkeypatch):
    """``AuditFlask.ensure_sync`` answers as Flask's (a sync function as is, a coroutine
    function wrapped), remembers the answer, and keeps at most SYNC_ANSWERS_KEPT of them."""
    from audit import AuditFlask

    def plain():
        return "plain"

    async def coroutine():
        return "coroutine"

    wrapped = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or (lambda: "wrapped"))
    assert isinstance(app, AuditFlask)
    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    first = app.ensure_sync(coroutine)
    assert first() == "wrapped" and app.ensure_sync(coroutine) is first and wrapped == [coroutine]
    for _ in range(AuditFlask.SYNC_ANSWERS_KEPT + 50):
        app.ensure_sync(lambda: None)  # a fresh callable every call
    assert len(app._sync_answers) == AuditFlask.SYNC_ANSWERS_KEPT
    assert app.ensure_sync(lambda: 1)() == 1
