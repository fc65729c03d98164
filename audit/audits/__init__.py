"""Audits: the audit page, its team and its life cycle.

Other features add sections to the audit page by appending to ``AUDIT_PAGE_SECTIONS`` a function
``(audit, user) -> dict(title=..., template=..., context=dict) | None``; the page renders each
returned section in order (plan and checklist, findings, report, ...).
"""

from collections.abc import Callable

AUDIT_PAGE_SECTIONS: list[Callable] = []
