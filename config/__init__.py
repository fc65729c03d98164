"""Settings classes: pure data, no I/O at import.

``audit.create_app`` picks a class by name (``development``, ``testing``, ``production``),
then overlays ``instance/settings.py`` (if present) and ``AUDIT_*`` environment variables.
"""

from __future__ import annotations


class BaseConfig:
    """Settings shared by every environment."""

    #: Flask's signing key. Development gets a per-instance random key from create_app.
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None = instance/audit.db (SQLite)
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_RECORD_QUERIES = False

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # tablets stay on one page for hours; the session bounds it

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12  # seconds: one working day

    #: Login throttling: after this many failures the account waits LOGIN_LOCK_SECONDS.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_SECONDS = 15 * 60

    #: Reverse proxies in front of the app whose X-Forwarded-For / X-Forwarded-Proto are
    #: believed (0 = none: the headers are ignored, as any client can send them).
    TRUSTED_PROXIES = 0

    #: Run the APScheduler sweeps inside the web process (single-process demo only).
    SCHEDULER_IN_PROCESS = False

    #: Outgoing mail. MAIL_SERVER None = mail is logged and stored, not sent.
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_SENDER = "audits@localhost"

    #: Public base URL used in e-mails and calendar feeds (no trailing slash).
    BASE_URL = "http://127.0.0.1:5000"

    #: Where uploaded evidence lives when the storage backend is the file system.
    STORAGE_BACKEND = "filesystem"
    #: Folder of the file-system storage backend (None = instance/storage).
    STORAGE_PATH: str | None = None
    #: Largest evidence file accepted (photos from tablets are 2-8 MB).
    EVIDENCE_MAX_BYTES = 12 * 1024 * 1024
    #: Photos are resized on the tablet before upload: longest edge in pixels, JPEG quality
    #: (0-1). The re-encode also drops EXIF metadata such as the location.
    PHOTO_LONG_EDGE = 2048
    PHOTO_JPEG_QUALITY = 0.85
    #: Largest original photo the tablet will try to resize (and the server accept as declared
    #: original size): a bigger file is refused with its size before anything decodes it.
    PHOTO_ORIGINAL_MAX_BYTES = 40 * 1024 * 1024
    #: Days a tablet may stay offline and still replay its queue: mutation ids are kept that long.
    OFFLINE_WINDOW_DAYS = 30
    #: The navigation's "Waiting for me" count is kept in the person's session this long
    #: (seconds) instead of being worked out on every page; anything the person changes drops it,
    #: and the home panel and the to-do page always compute the list (0: every page computes).
    WAITING_BADGE_MAX_AGE = 60
    #: Most pages a tablet keeps for offline use (the oldest are dropped first; the start page stays).
    OFFLINE_MAX_PAGES = 300
    #: Default report due date: this many days after the audit's last day.
    REPORT_DUE_DAYS = 14
    #: Confidentiality statement printed on every audit report (page, print and PDF).
    REPORT_CONFIDENTIALITY = (
        "Confidential: this report is for the audit client, the auditee and the people on its "
        "distribution list. Do not pass it on without the audit client's consent."
    )
    #: Reminder lead times in days, per audit kind and stage, overriding the defaults in
    #: audit/audits/reminders.py, e.g. {"internal": {"prepare": 10, "plan": 5, "day_before": 1}}.
    #: Kinds: internal, second_party, third_party.
    REMINDER_LEAD_DAYS: dict = {}
    #: A complaint, incident, significant change or major NC asks for an audit within this many
    #: days (DOMAIN.md §2).
    TRIGGER_AUDIT_DAYS = 60
    #: Where a root cause may lie: value → label (default: the Ishikawa 6M).
    ROOT_CAUSE_CATEGORIES: dict = {
        "man": "People (skills, workload, shifts)", "machine": "Machine (equipment, tools, software)",
        "method": "Method (procedures, instructions)", "material": "Material",
        "measurement": "Measurement (gauges, calibration, inspection)",
        "environment": "Environment (temperature, light, layout)",
    }
    #: The organisation's base currency (ISO 4217): costs are converted into it at a dated rate.
    BASE_CURRENCY = "EUR"
    #: The largest single cost of poor quality accepted, in the base currency.
    COST_MAX_AMOUNT = 10_000_000
    #: Audit-days per auditor and month: the planner never proposes past it, the workload page
    #: highlights a month over it, a manual change past it is warned about (audits.workload).
    WORKLOAD_DAYS_PER_MONTH = 6
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    #: Organisation name shown in the header and reports.
    ORGANISATION_NAME = "Audit Management"


class DevelopmentConfig(BaseConfig):
    """Local development: SQLite in instance/, in-process scheduler allowed."""

    DEBUG = False
    SCHEDULER_IN_PROCESS = True


class TestingConfig(BaseConfig):
    """The test suite: never reads the developer's environment or instance files."""

    TESTING = True
    SECRET_KEY = "testing-only-not-secret"
    WTF_CSRF_ENABLED = False  # tests that prove CSRF switch it back on
    LOGIN_LOCK_SECONDS = 60
    SERVER_NAME = None
    #: Tests see every page's badge worked out (query counts compare like with like);
    #: tests/foundation/test_todo.py switches the kept count on to test it.
    WAITING_BADGE_MAX_AGE = 0


class ProductionConfig(BaseConfig):
    """Production: a real SECRET_KEY is mandatory and cookies are HTTPS-only."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
