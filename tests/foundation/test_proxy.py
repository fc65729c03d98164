"""Behind a TLS-terminating proxy: TRUSTED_PROXIES decides whether X-Forwarded-* is believed."""

from __future__ import annotations

import pytest
from flask import request, url_for

from audit import ConfigurationError, create_app
from audit.extensions import db

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}


@pytest.fixture
def app_with_proxies(db_url):
    """Build an app with a given TRUSTED_PROXIES that records what each request believed."""
    built = []

    def _build(hops):
        app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": db_url, "TRUSTED_PROXIES": hops})
        app.seen = []

        @app.after_request
        def _remember(response):
            app.seen.append({"login_url": url_for("auth.login", _external=True),
                             "remote_addr": request.remote_addr})
            return response

        built.append(app)
        return app

    yield _build
    for app in built:
        with app.app_context():
            db.engine.dispose()


def test_one_trusted_proxy_makes_https_requests_https(app_with_proxies):
    """With TRUSTED_PROXIES=1 and X-Forwarded-Proto https: HSTS, https links, the client's address."""
    app = app_with_proxies(1)
    response = app.test_client().get("/login", headers=FORWARDED)
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert app.seen[-1]["login_url"] == "https://localhost/login"
    assert app.seen[-1]["remote_addr"] == "198.51.100.23"


def test_a_plain_request_through_the_proxy_gets_no_hsts(app_with_proxies):
    """A request the proxy forwarded as plain http is not told to use HTTPS."""
    app = app_with_proxies(1)
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in response.headers
    assert app.seen[-1]["login_url"] == "http://localhost/login"


def test_without_trusted_proxies_the_headers_are_ignored(app_with_proxies):
    """With the default 0 any client could send X-Forwarded-*, so nothing is believed."""
    app = app_with_proxies(0)
    assert app.config["TRUSTED_PROXIES"] == 0
    response = app.test_client().get("/login", headers=FORWARDED)
    assert "Strict-Transport-Security" not in response.headers
    assert app.seen[-1]["login_url"] == "http://localhost/login"
    assert app.seen[-1]["remote_addr"] == "127.0.0.1"


def test_with_one_proxy_only_the_last_hop_is_believed(app_with_proxies):
    """A client that sends its own X-Forwarded-For cannot choose the address the app sees."""
    app = app_with_proxies(1)
    app.test_client().get("/login", headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.23"})
    assert app.seen[-1]["remote_addr"] == "198.51.100.23"


def test_a_direct_https_request_gets_hsts(app_with_proxies):
    """HTTPS served by the app itself (no proxy) carries HSTS too."""
    app = app_with_proxies(0)
    response = app.test_client().get("/login", base_url="https://localhost")
    assert "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize("value", [-1, 11, "two", 1.5, True])
def test_a_bad_trusted_proxies_setting_stops_the_start(db_url, value):
    """A number of proxies that is not a whole number from 0 to 10 is refused at start-up."""
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        create_app("testing", {"SQLALCHEMY_DATABASE_URI": db_url, "TRUSTED_PROXIES": value})
