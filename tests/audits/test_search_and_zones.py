"""Audit search and filters, and unambiguous zone labels (issue 14, Found 9 and 10)."""

from __future__ import annotations

import datetime as dt

from audit.core.templating import localtime
from audit.models import Role


def test_cst_names_its_city():
    """CST is both Chicago and Shanghai: the label says which; an unambiguous CET stays short."""
    winter = dt.datetime(2027, 1, 12, 15, 0, tzinfo=dt.UTC)
    assert localtime(winter, "America/Chicago") == "12 Jan 2027 09:00 CST (Chicago)"
    assert localtime(winter, "Asia/Shanghai") == "12 Jan 2027 23:00 CST (Shanghai)"
    assert localtime(winter, "Europe/Berlin") == "12 Jan 2027 16:00 CET"


def test_audit_list_searches_reference_and_title_and_filters_by_standard(make, login):
    """A search matches the reference or the title (literally: % is not a wildcard); the
    standard filter keeps only audits with that standard in scope."""
    q, e = make.standard("ISO 9001"), make.standard("ISO 14001")
    make.audit(reference="IA-2027-001", title="Welding cell", standards=[q])
    make.audit(reference="IA-2027-002", title="Paint shop 100% check", standards=[e])
    make.audit(reference="IA-2027-003", title="Warehouse", standards=[q, e])
    client = login(make.user(roles=(Role.COORDINATOR,)))

    def refs(query):
        page = client.get(f"/audits/?{query}").get_data(as_text=True)
        return {r for r in ("IA-2027-001", "IA-2027-002", "IA-2027-003") if r in page}

    assert refs("q=weld") == {"IA-2027-001"}
    assert refs("q=2027-00") == {"IA-2027-001", "IA-2027-002", "IA-2027-003"}
    assert refs("q=100%25") == {"IA-2027-002"}
    assert refs("q=%25") == {"IA-2027-002"}
    assert refs(f"standard={e.id}") == {"IA-2027-002", "IA-2027-003"}
    assert refs(f"standard={q.id}&q=ware") == {"IA-2027-003"}
