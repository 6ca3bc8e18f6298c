"""Columns added to the local store's index after its first release, added to older stores.

A store written by an earlier version opens as it is: each column below that its tables lack
is added with ``ALTER TABLE … ADD COLUMN`` and a constant default, which SQLite records in the
schema without rewriting a row, so the migration costs the same on a store of any size. Every
store, new or old, goes through the same path: the tables are created in their first form
(:data:`s3proxy.backends.local.index.SCHEMA`), then brought up to date here, in one transaction.
"""

from __future__ import annotations

import json
import sqlite3

from s3proxy.model import Tags

ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # Object tags (JSON list of [key, value]) and storage class: issue 17.
    ("objects", "storage_class", "TEXT NOT NULL DEFAULT 'STANDARD'"),
    ("objects", "tags", "TEXT NOT NULL DEFAULT '[]'"),
    ("uploads", "storage_class", "TEXT NOT NULL DEFAULT 'STANDARD'"),
    ("uploads", "tags", "TEXT NOT NULL DEFAULT '[]'"),
)


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}


def migrate(db: sqlite3.Connection) -> int:
    """Add the missing columns; how many were added."""
    missing = [
        (table, column, declaration)
        for table, column, declaration in ADDED_COLUMNS
        if column not in _columns(db, table)
    ]
    if not missing:
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in missing:
            if column not in _columns(db, table):  # another opener may have added it
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return len(missing)


def dump_tags(tags: Tags) -> str:
    """The ``tags`` column: a JSON list of [key, value], in the order given."""
    return json.dumps([list(tag) for tag in tags], separators=(",", ":"), ensure_ascii=False)


def load_tags(text: str) -> Tags:
    return tuple((str(key), str(value)) for key, value in json.loads(text))
