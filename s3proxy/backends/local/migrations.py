"""Columns added to the local store's index after its first release, added to older stores.

A store written by an earlier version opens as it is: each column below that its tables lack
is added with ``ALTER TABLE … ADD COLUMN`` and a constant default, which SQLite records in the
schema without rewriting a row, so the migration costs the same on a store of any size. Every
store, new or old, goes through the same path: the tables are created in their first form
(:data:`s3proxy.backends.local.schema.SCHEMA`), then brought up to date here, in one transaction.
The one exception is ``usage_roots``, a cache of counts: an older shape is dropped with its
triggers before the schema runs (:func:`drop_stale_usage`), and created in its current form.
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
    # The part number a completed object's segment was uploaded under (0: not recorded, a
    # segment written by an earlier version, or a plain object's): sparse numbers are refused reads.
    ("segments", "part_number", "INTEGER NOT NULL DEFAULT 0"),
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


USAGE_COLUMN = "parts_bytes"
"""The newest column of ``usage_roots`` (the bytes of open uploads' parts, which quotas count
since wave 13; kept by their own triggers, so a release before it, which reads only
``objects`` and ``bytes``, still counts right on a store this one opened)."""


def drop_stale_usage(db: sqlite3.Connection) -> bool:
    """Drop ``usage_roots`` and its triggers when they predate :data:`USAGE_COLUMN`; the
    schema then creates them afresh. Nothing is lost: the table only caches counts, emptied
    at every start-up and recounted by a scan when first asked for (a trigger cannot be
    altered, and the old ones would count the upload marks). Whether it dropped them."""
    if not _columns(db, "usage_roots") or USAGE_COLUMN in _columns(db, "usage_roots"):
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        stale = USAGE_COLUMN not in _columns(db, "usage_roots")  # another opener may have
        if stale:
            db.execute("DROP TRIGGER IF EXISTS usage_added")
            db.execute("DROP TRIGGER IF EXISTS usage_removed")
            for trigger in ("usage_part_added", "usage_part_removed", "usage_upload_removed"):
                db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            db.execute("DROP TABLE usage_roots")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return stale


def dump_tags(tags: Tags) -> str:
    """The ``tags`` column: a JSON list of [key, value], in the order given."""
    return json.dumps([list(tag) for tag in tags], separators=(",", ":"), ensure_ascii=False)


def load_tags(text: str) -> Tags:
    return tuple((str(key), str(value)) for key, value in json.loads(text))
