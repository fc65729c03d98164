"""Fixtures for the conduct tests: an audit with a team, a checklist and clauses; the live server
and headless Chromium of the browser tests."""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from audit import create_app
from audit.extensions import db
from audit.models import (
    AnswerType,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    Clause,
    Role,
    TeamRole,
    VersionStatus,
)


@dataclass
class ConductSetup:
    audit: object
    lead: object
    auditor: object
    trainee: object
    observer: object
    auditee: object
    outsider: object
    coordinator: object
    supplier_contact: object
    questions: dict
    clauses: dict


def build_checklist_version(name: str, *, questions_per_section: int = 3, sections: int = 2,
                            clauses=None, status=VersionStatus.PUBLISHED) -> tuple[ChecklistTemplateVersion, dict]:
    """A checklist (published unless told): verdict questions, one photo-required, one
    conditional, one number."""
    template = ChecklistTemplate(name=name)
    version = ChecklistTemplateVersion(template=template, number=1, status=status)
    db.session.add_all([template, version])
    questions = {}
    for s in range(sections):
        section = ChecklistSection(version=version, title=f"Section {s + 1}", position=s)
        db.session.add(section)
        for i in range(questions_per_section):
            key = f"S{s + 1}Q{i + 1}"
            q = ChecklistQuestion(section=section, key=key, position=i, text=f"Question {key}?",
                                  guidance=f"Look at records for {key}.")
            if clauses:
                q.clauses = [clauses[(s * questions_per_section + i) % len(clauses)]]
            questions[key] = q
            db.session.add(q)
    first = questions["S1Q1"]
    questions["S1Q2"].photo_required = True
    if questions_per_section >= 3:
        questions["S1Q3"].condition_key = first.key
        questions["S1Q3"].condition_value = "minor_nc"
    if sections >= 2:
        questions["S2Q1"].answer_type = AnswerType.NUMBER
        questions["S2Q1"].min_value = 0
        questions["S2Q1"].max_value = 100
    db.session.flush()
    return version, questions


@pytest.fixture
def setup(app, make, now) -> ConductSetup:
    """An audit in the past week with lead, auditor, trainee, observer and an auditee owner."""
    std = make.standard()
    clauses = {}
    for pos, (number, title) in enumerate([("7.5", "Documented information"),
                                           ("8.5", "Production and service provision"),
                                           ("9.2", "Internal audit")]):
        c = Clause(standard=std, number=number, title=title, position=pos, depth=1)
        db.session.add(c)
        clauses[number] = c
    db.session.flush()
    version, questions = build_checklist_version("Production checklist", clauses=list(clauses.values()))
    lead = make.user(name="Lena Lead")
    auditor = make.user(name="Arne Auditor")
    trainee = make.user(name="Tina Trainee")
    observer = make.user(name="Olga Observer")
    auditee = make.user(roles=(Role.AUDITEE,), name="Otto Owner")
    outsider = make.user(roles=(Role.AUDITOR,), name="Other Auditor")
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    supplier = make.supplier()
    supplier_contact = make.user(roles=(Role.SUPPLIER,), name="Sam Supplier", supplier_id=supplier.id)
    unit = make.unit(name="Assembly", owner=auditee)
    audit = make.audit(
        team=[(lead, TeamRole.LEAD), (auditor, TeamRole.AUDITOR), (trainee, TeamRole.TRAINEE),
              (observer, TeamRole.OBSERVER)],
        units=[unit], site=unit.site, checklist_version_id=version.id,
        starts_at=now - dt.timedelta(hours=2), ends_at=now + dt.timedelta(hours=6),
        objectives="Check assembly conforms", scope="Assembly line 1", audit_client="Top management",
        criteria="ISO 9001:2015 clauses 7-9",
    )
    audit.clauses = list(clauses.values())
    audit.standards = [std]
    db.session.commit()
    return ConductSetup(audit, lead, auditor, trainee, observer, auditee, outsider, coordinator,
                        supplier_contact, questions, clauses)


def jpeg_bytes(size=(640, 480), color=(200, 30, 30)) -> bytes:
    """A real JPEG photo."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (50, 40), (0, 120, 0)).save(out, "PNG")
    return out.getvalue()


# --- browser tests (test_browser*.py): the app served live, and headless Chromium ------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class LiveServer:
    """The app served on 127.0.0.1; ``stop``/``start`` simulate losing and regaining the network."""

    def __init__(self, app):
        self.app = app
        self.port = 0
        self.server = None
        self.thread = None

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def live_config() -> dict:
    """Extra configuration of the live server (a test parametrizes ``live_config`` to change it)."""
    return {}


@pytest.fixture
def live(db_url, tmp_path, app, api_contract, live_config):
    """A second app instance on the same database (CSRF on, as in production), served live.
    Every /api/ response it sends the browser is checked against the OpenAPI document.

    The test thread only reads while the server writes: a deferred BEGIN keeps SQLite's write
    lock free for the server (outside requests every transaction otherwise declares writing).
    """
    from audit.core.database import write_intent

    token = write_intent.set(False)
    live_app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": db_url,
                                      "STORAGE_PATH": app.config["STORAGE_PATH"],
                                      "WTF_CSRF_ENABLED": True, **live_config})
    violations = api_contract.watch(live_app)
    server = LiveServer(live_app)
    server.start()
    try:
        yield server
        assert not violations, violations
    finally:
        if server.server is not None:
            server.stop()
        with live_app.app_context():
            db.session.remove()
            db.engine.dispose()
        write_intent.reset(token)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
