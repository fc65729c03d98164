"""Demo step: the clause library with its cross-standard equivalence and the three published
default checklists (ISO 9001 internal audit, supplier audit, surveillance audit).

Sets ``ctx.extra["checklists"] = {"internal_9001", "supplier", "surveillance"}`` → published
ChecklistTemplateVersion, for the programme and audit steps. Idempotent: a second run finds
the published versions and creates nothing.
"""

from __future__ import annotations

from audit.library.checklists.files import ensure_default_checklists
from audit.library.services import load_library_file


def seed(ctx) -> None:
    """Load the library (a no-op if current) and publish the default checklists once."""
    load_library_file(now=ctx.now)
    checklists = ensure_default_checklists(actor=ctx.users.get("coordinator"), now=ctx.now)
    ctx.extra["checklists"] = checklists
    ctx.summary["published checklists"] = len(checklists)
