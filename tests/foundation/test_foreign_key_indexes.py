"""Every foreign key has an index that starts with it (issue 16 item 3).

A foreign key is what pages filter on (a site's units, a programme's rules, an audit's
findings) and what the database scans when a parent row is deleted or its key checked.
Without an index both cost a scan of the whole child table: the sites list at demo scale 50
spent 2.8 of its 3.5 ms of SQL counting each site's units by scanning all 600. The few
columns left without one are written on every save, never filtered on, and point at rows
that are never deleted (users are deactivated, audits cancelled); each says why below.
"""

from __future__ import annotations

from audit.extensions import db

#: (table, column) → why it has no index of its own.
UNINDEXED = {
    ("trail_entries", "actor_id"): "one row per change; the trail is read per object, never per actor",
    ("applied_mutations", "audit_id"): "one row per save; looked up by mutation id, pruned by date",
    ("applied_mutations", "user_id"): "one row per save; looked up by mutation id, pruned by date",
    ("checklist_answers", "answered_by_id"): "rewritten by every save; answers are read per audit",
}


def _leading_columns(table) -> set[str]:
    """Columns that start an index, a unique constraint or the primary key of ``table``."""
    found = {index.columns[0].name for index in table.indexes if index.columns}
    found |= {c.columns[0].name for c in table.constraints if hasattr(c, "columns") and len(c.columns)
              and c.__class__.__name__ in ("UniqueConstraint", "PrimaryKeyConstraint")}
    return found


def test_every_foreign_key_starts_an_index():
    missing = []
    for table in db.metadata.sorted_tables:
        leading = _leading_columns(table)
        for fk in table.foreign_keys:
            key = (table.name, fk.parent.name)
            if fk.parent.name not in leading and key not in UNINDEXED:
                missing.append(".".join(key))
    assert sorted(missing) == [], f"foreign keys without an index: {sorted(missing)}"


def test_the_unindexed_list_holds_only_foreign_keys_without_an_index():
    """A column that gains an index, or stops being a foreign key, leaves the list."""
    tables = {t.name: t for t in db.metadata.sorted_tables}
    for table_name, column in UNINDEXED:
        table = tables[table_name]
        assert column in {fk.parent.name for fk in table.foreign_keys}
        assert column not in _leading_columns(table)
