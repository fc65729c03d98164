"""Demo organisation, dated relative to today so it never goes stale.

``seed_demo`` runs the steps in ``STEPS`` in order; every step is idempotent (get-or-create by
natural key), so running it twice adds nothing and a larger ``scale`` only adds what is missing.
Features append their own step modules to ``STEPS``.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field

#: Modules with a ``seed(ctx)`` function, in dependency order.
STEPS = (
    "audit.demo.organisation",
    "audit.demo.library",
    "audit.demo.programme",
    "audit.demo.conduct",
    "audit.demo.findings",
    "audit.demo.management",
)

DEMO_PASSWORD = "demo-audit-2026"


@dataclass
class DemoContext:
    """What the steps share: clock, scale, and the objects earlier steps made, by key."""

    now: dt.datetime
    scale: int
    users: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    units: list = field(default_factory=list)
    suppliers: dict = field(default_factory=dict)
    standards: dict = field(default_factory=dict)
    certificates: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return self.now.date()


def seed_demo(*, scale: int = 1, now: dt.datetime) -> dict:
    """Seed every step; returns counts for the CLI to print."""
    ctx = DemoContext(now=now, scale=scale)
    for module_name in STEPS:
        importlib.import_module(module_name).seed(ctx)
    return ctx.summary
