"""The local store's SQLite file: its tables, how it is opened, and how keys are stored.

Why SQLite (stdlib, WAL mode): one file, atomic multi-row transactions and an ordered B-tree
for listings. Keys are stored as BLOBs of their UTF-8 bytes (``surrogatepass``, so any key the
proxy accepts fits), which makes ``ORDER BY key`` memcmp order — S3's UTF-8 byte order — and
keeps every key a column value, never a path. Tables are created here in their first form;
columns added since are added by :mod:`.migrations`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

DB_FILE = "index.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    parts_count INTEGER NOT NULL,
    headers TEXT NOT NULL,
    metadata TEXT NOT NULL,
    checksums TEXT NOT NULL,
    UNIQUE (bucket, key)
);
CREATE TABLE IF NOT EXISTS segments (
    object_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    PRIMARY KEY (object_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    initiated_ms INTEGER NOT NULL,
    headers TEXT NOT NULL,
    metadata TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated_ms, id);
CREATE TABLE IF NOT EXISTS usage_roots (
    bucket TEXT NOT NULL,
    prefix BLOB NOT NULL,
    upper BLOB,
    markers BLOB NOT NULL,
    markers_upper BLOB,
    layout_marker BLOB NOT NULL,
    uploads BLOB NOT NULL,
    uploads_upper BLOB,
    objects INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    parts_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, prefix)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS usage_added AFTER INSERT ON objects BEGIN
    UPDATE usage_roots SET objects = objects + 1, bytes = bytes + NEW.size
    WHERE bucket = NEW.bucket AND NEW.key >= prefix AND (upper IS NULL OR NEW.key < upper)
    AND NOT (NEW.key >= markers AND (markers_upper IS NULL OR NEW.key < markers_upper))
    AND NOT (NEW.key >= uploads AND (uploads_upper IS NULL OR NEW.key < uploads_upper))
    AND NEW.key != layout_marker;
END;
CREATE TRIGGER IF NOT EXISTS usage_removed AFTER DELETE ON objects BEGIN
    UPDATE usage_roots SET objects = objects - 1, bytes = bytes - OLD.size
    WHERE bucket = OLD.bucket AND OLD.key >= prefix AND (upper IS NULL OR OLD.key < upper)
    AND NOT (OLD.key >= markers AND (markers_upper IS NULL OR OLD.key < markers_upper))
    AND NOT (OLD.key >= uploads AND (uploads_upper IS NULL OR OLD.key < uploads_upper))
    AND OLD.key != layout_marker;
END;
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS usage_part_added AFTER INSERT ON parts BEGIN
    UPDATE usage_roots SET parts_bytes = parts_bytes + NEW.size
    WHERE EXISTS (SELECT 1 FROM uploads AS u WHERE u.id = NEW.upload_id
        AND u.bucket = usage_roots.bucket AND u.key >= usage_roots.prefix
        AND (usage_roots.upper IS NULL OR u.key < usage_roots.upper));
END;
CREATE TRIGGER IF NOT EXISTS usage_part_removed AFTER DELETE ON parts BEGIN
    UPDATE usage_roots SET parts_bytes = parts_bytes - OLD.size
    WHERE EXISTS (SELECT 1 FROM uploads AS u WHERE u.id = OLD.upload_id
        AND u.bucket = usage_roots.bucket AND u.key >= usage_roots.prefix
        AND (usage_roots.upper IS NULL OR u.key < usage_roots.upper));
END;
CREATE TRIGGER IF NOT EXISTS usage_upload_removed AFTER DELETE ON uploads BEGIN
    UPDATE usage_roots SET parts_bytes = parts_bytes
        - (SELECT COALESCE(SUM(size), 0) FROM parts WHERE upload_id = OLD.id)
    WHERE bucket = OLD.bucket AND OLD.key >= prefix AND (upper IS NULL OR OLD.key < upper);
END;
"""


def key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def key_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix`` (None:
    there is none), where a listing resumes after a common prefix."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def dump_map(value: Mapping[str, str]) -> str:
    """A header, metadata or checksum map as the compact JSON text its column holds."""
    return json.dumps(dict(value), separators=(",", ":"), ensure_ascii=False)


def load_map(text: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(text)
    return loaded


def connect(root: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit ``BEGIN IMMEDIATE``."""
    path = root / DB_FILE
    if read_only:
        # A file URI must be absolute; `stats --data-dir s3proxy-data` gives a relative root.
        connection = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        # Owner-only, like the blobs: key names and metadata are the tenants' data too (SQLite
        # gives its -wal and -shm files the database file's mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed PutObject survives power loss, as S3's 200 promises.
        connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=10000")
    return connection
