"""What features contribute to places they do not own, registered explicitly per application.

Each feature package exposes ``init_app(app)``; ``create_app`` calls them in the order of
``audit.FEATURES``, and each adds its blueprint(s) and, through ``registry(app)``, its navigation
entries, home panels, audit-page sections, scheduler jobs, notification kinds, e-mail
attachments and the sources of "waiting for me" (``core.todo``). Nothing is
registered as a side effect of importing a module: the registry lives in ``app.extensions``, so
two applications (tests, the scheduler process) never share or double their entries.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask, current_app

from audit.auth.permissions import Permission

_KEY = "audit.registry"

#: The audit page's sections, top to bottom: what the auditor works with first (plan,
#: checklist), then its results (findings, report), then context (certification cycle, stage-2 major
#: NC deadlines, why the audit was triggered, the rule that generated it)
#: and the calendar download. A section registers under one of these slots.
AUDIT_PAGE_SLOTS = ("plan", "checklist", "indicators", "findings", "report", "cycle", "stage2", "triggers", "rule",
                    "calendar")

#: ``(audit, user) -> dict(title=..., template=..., context=dict) | None``; an optional
#: ``head_link=dict(label=..., url=...)`` adds a button at the top of the audit page.
AuditSection = Callable[..., dict | None]
#: ``(user) -> dict(title=..., template=..., context=dict) | None``
HomePanel = Callable[..., dict | None]


class RegistrationError(RuntimeError):
    """A feature registered something twice, or into a place that does not exist."""


@dataclass(frozen=True)
class NavItem:
    """A top navigation entry, shown to users holding ``permission`` (None: everyone)."""

    endpoint: str
    label: str
    permission: Permission | None = None
    #: ``badge(user) -> int``: a count shown next to the label (0: none), e.g. items waiting.
    badge: Callable[..., int] | None = None


@dataclass(frozen=True)
class Job:
    """A fixed periodic job: ``function(app, now)`` every ``interval`` seconds (see scheduling)."""

    id: str
    function: Callable[[Flask, dt.datetime], object]
    interval: int  #: seconds between runs


@dataclass
class Registry:
    """One application's contributions, in registration order."""

    navigation: list[NavItem] = field(default_factory=list)
    home_panels: list[HomePanel] = field(default_factory=list)
    audit_sections: dict[str, AuditSection] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    notification_kinds: dict[str, str] = field(default_factory=dict)
    #: kind → ``provider(notification) -> [(filename, data, maintype, subtype[, params])]`` attached
    #: to that kind's e-mails (``params``: Content-Type parameters such as ``{"method": "REQUEST"}``);
    #: files are built at sending time so the outbox row stays small.
    email_attachments: dict[str, Callable] = field(default_factory=dict)
    #: ``"<blueprint>.<resource>"`` → sections other features add to a ``core.crud`` detail page
    #: (e.g. a unit's process indicators on ``organisation.unit``), ``(obj, user) -> dict | None``.
    detail_sections: dict[str, list[Callable]] = field(default_factory=dict)
    #: name → ``source(user, now) -> list[core.todo.ToDo]``: what each feature waits for from a
    #: person (findings, reports to sign, review actions...), gathered by ``core.todo.waiting_for``.
    waiting_sources: dict[str, Callable] = field(default_factory=dict)

    def add_navigation(self, endpoint: str, label: str, permission: Permission | None = None,
                       *, badge: Callable[..., int] | None = None) -> None:
        """Add a navigation entry after those registered before it (``badge``: see NavItem)."""
        if any(item.endpoint == endpoint for item in self.navigation):
            raise RegistrationError(f"navigation entry {endpoint!r} registered twice")
        self.navigation.append(NavItem(endpoint, label, permission, badge))

    def add_home_panel(self, panel: HomePanel) -> None:
        """Add a home panel after those registered before it."""
        if panel in self.home_panels:
            raise RegistrationError(f"home panel {panel.__name__} registered twice")
        self.home_panels.append(panel)

    def add_audit_section(self, slot: str, section: AuditSection) -> None:
        """Fill one of ``AUDIT_PAGE_SLOTS``; the page renders slots in that order."""
        if slot not in AUDIT_PAGE_SLOTS:
            raise RegistrationError(f"unknown audit page slot {slot!r}; choose from {AUDIT_PAGE_SLOTS}")
        if slot in self.audit_sections:
            raise RegistrationError(f"audit page slot {slot!r} is taken")
        self.audit_sections[slot] = section

    def ordered_audit_sections(self) -> list[AuditSection]:
        """The registered sections in page order."""
        return [self.audit_sections[slot] for slot in AUDIT_PAGE_SLOTS if slot in self.audit_sections]

    def add_job(self, job_id: str, function: Callable[[Flask, dt.datetime], object], interval: int) -> None:
        """Add a periodic job; ids are stable because ``job_runs`` rows are keyed by them."""
        if any(job.id == job_id for job in self.jobs):
            raise RegistrationError(f"job {job_id!r} registered twice")
        self.jobs.append(Job(job_id, function, interval))

    def add_notification_kinds(self, kinds: dict[str, str]) -> None:
        """Add notification kinds (kind → label on the preferences page)."""
        taken = set(kinds) & set(self.notification_kinds)
        if taken:
            raise RegistrationError(f"notification kinds registered twice: {sorted(taken)}")
        self.notification_kinds.update(kinds)

    def add_detail_section(self, page: str, section: Callable) -> None:
        """Add a section to the ``core.crud`` detail page ``page`` ("<blueprint>.<resource>")."""
        sections = self.detail_sections.setdefault(page, [])
        if section in sections:
            raise RegistrationError(f"detail section {section.__name__} registered twice on {page!r}")
        sections.append(section)

    def add_email_attachments(self, kind: str, provider: Callable) -> None:
        """Attach ``provider(notification)``'s files to e-mails of ``kind``."""
        if kind in self.email_attachments:
            raise RegistrationError(f"e-mail attachments for {kind!r} registered twice")
        self.email_attachments[kind] = provider


    def add_waiting_source(self, name: str, source: Callable) -> None:
        """Add a source of "waiting for me" items (see ``core.todo``)."""
        if name in self.waiting_sources:
            raise RegistrationError(f"waiting source {name!r} registered twice")
        self.waiting_sources[name] = source


def init_app(app: Flask) -> Registry:
    """Give ``app`` an empty registry; features fill it from their ``init_app``."""
    if _KEY in app.extensions:
        raise RegistrationError("the registry was initialised twice")
    app.extensions[_KEY] = Registry()
    return app.extensions[_KEY]


def registry(app: Flask | None = None) -> Registry:
    """The registry of ``app`` (default: the current application)."""
    return (app or current_app).extensions[_KEY]


def install(app: Flask, features: Iterable[str]) -> None:
    """Call ``init_app(app)`` of each feature package, in the given order."""
    for name in features:
        importlib.import_module(name).init_app(app)
