"""The local store's SQLite index: objects, their blobs, multipart uploads, reference counts.

Why SQLite (stdlib, WAL mode): one file, atomic multi-row transactions and an ordered B-tree
for listings. Keys are stored as BLOBs of their UTF-8 bytes (``surrogatepass``, so any key the
proxy accepts fits), which makes ``ORDER BY key`` memcmp order — S3's UTF-8 byte order — and
keeps every key a column value, never a path.

Every object is a list of segments (one for a plain PUT, one per part for a completed
multipart upload); a blob's ``refs`` counts the segment and upload-part rows naming it. Counts
change only inside the transaction that changes those rows, and :meth:`Index.recount` rebuilds
them from the rows at start-up, so no interrupted run can leave one wrong.

An :class:`Index` is used from one thread at a time (the store's database thread).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from s3proxy.backends.local.blobs import Segment
from s3proxy.backends.local.migrations import drop_stale_usage, dump_tags, load_tags, migrate
from s3proxy.model import STANDARD, Tags

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


def _dump(value: Mapping[str, str]) -> str:
    return json.dumps(dict(value), separators=(",", ":"), ensure_ascii=False)


def _load(text: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(text)
    return loaded


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One segment of an object (or a part of an upload) with what S3 reports about it."""

    sha256: str
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)
    etag: str = ""
    modified_ms: int = 0


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    bucket: str
    key: str
    size: int
    etag: str
    modified_ms: int
    parts_count: int
    """0 for an object stored by PutObject, N for one completed from N parts."""
    headers: Mapping[str, str]
    metadata: Mapping[str, str]
    checksums: Mapping[str, str]
    """Algorithm (``CRC32`` …) → base64 value, as declared or combined from parts."""
    segments: Sequence[StoredPart] = ()
    storage_class: str = STANDARD
    tags: Tags = ()

    def blob_segments(self) -> list[Segment]:
        return [Segment(part.sha256, part.size) for part in self.segments]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    upload_id: str
    bucket: str
    key: str
    initiated_ms: int
    headers: Mapping[str, str]
    metadata: Mapping[str, str]
    checksum_algorithm: str | None
    checksum_type: str | None
    storage_class: str = STANDARD
    tags: Tags = ()


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


class Index:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
        drop_stale_usage(self.db)
        self.db.executescript(SCHEMA)
        migrate(self.db)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: the write lock is taken before any check is read, so a
        conditional write's check and its write are one atomic step."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reference counts --------------------------------------------------------------------

    def _add_refs(self, parts: Sequence[StoredPart]) -> None:
        self.db.executemany(
            "INSERT INTO blobs (sha256, size, refs) VALUES (?, ?, 1) "
            "ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1",
            [(part.sha256, part.size) for part in parts],
        )

    def _drop_refs(self, shas: Sequence[str]) -> list[str]:
        """Decrement; the blobs whose last reference went (their rows are deleted)."""
        self.db.executemany(
            "UPDATE blobs SET refs = refs - 1 WHERE sha256 = ?", [(s,) for s in shas]
        )
        freed: list[str] = []
        for sha in dict.fromkeys(shas):
            row = self.db.execute(
                "DELETE FROM blobs WHERE sha256 = ? AND refs <= 0 RETURNING sha256", (sha,)
            ).fetchone()
            if row is not None:
                freed.append(row[0])
        return freed

    def blob_known(self, sha256: str) -> bool:
        row = self.db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def recount(self) -> set[str]:
        """Rebuild every count from the rows; the set of referenced blobs."""
        with self.transaction():
            # Rows an interrupted run could not have left, but cheap to rule out.
            self.db.execute("DELETE FROM segments WHERE object_id NOT IN (SELECT id FROM objects)")
            self.db.execute("DELETE FROM parts WHERE upload_id NOT IN (SELECT id FROM uploads)")
            self.db.execute("DELETE FROM blobs")
            self.db.execute("DELETE FROM usage_roots")  # counted afresh when first asked
            self.db.execute(
                "INSERT INTO blobs (sha256, size, refs) SELECT blob, MAX(size), COUNT(*) FROM "
                "(SELECT blob, size FROM segments UNION ALL SELECT blob, size FROM parts) "
                "GROUP BY blob"
            )
        return {row[0] for row in self.db.execute("SELECT sha256 FROM blobs")}

    # -- objects -----------------------------------------------------------------------------

    def find_object(self, bucket: str, key: str, with_segments: bool = True) -> ObjectRecord | None:
        row = self.db.execute(
            "SELECT id, size, etag, modified_ms, parts_count, headers, metadata, checksums,"
            " storage_class, tags FROM objects WHERE bucket = ? AND key = ?",
            (bucket, key_bytes(key)),
        ).fetchone()
        if row is None:
            return None
        segments: list[StoredPart] = []
        if with_segments:
            segments = [
                StoredPart(sha, size, _load(sums))
                for sha, size, sums in self.db.execute(
                    "SELECT blob, size, checksums FROM segments WHERE object_id = ? ORDER BY seq",
                    (row[0],),
                )
            ]
        return ObjectRecord(
            bucket, key, row[1], row[2], row[3], row[4],
            _load(row[5]), _load(row[6]), _load(row[7]), segments, row[8], load_tags(row[9]),
        )  # fmt: skip

    def delete_object(self, bucket: str, key: str) -> list[str]:
        """Remove the row (if any); the blobs freed by it."""
        row = self.db.execute(
            "DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING id",
            (bucket, key_bytes(key)),
        ).fetchone()
        if row is None:
            return []
        shas = [
            sha
            for (sha,) in self.db.execute(
                "DELETE FROM segments WHERE object_id = ? RETURNING blob", (row[0],)
            ).fetchall()
        ]
        return self._drop_refs(shas)

    def put_object(self, record: ObjectRecord) -> list[str]:
        """Insert ``record`` in place of any object under its key; the blobs freed.

        References are added before the old ones are dropped, so a blob shared by the old and
        the new object (an overwrite with the same bytes) never reaches zero."""
        self._add_refs(record.segments)
        previous = self.db.execute(
            "DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING id",
            (record.bucket, key_bytes(record.key)),
        ).fetchone()
        old: list[str] = []
        if previous is not None:
            old = [
                sha
                for (sha,) in self.db.execute(
                    "DELETE FROM segments WHERE object_id = ? RETURNING blob", (previous[0],)
                ).fetchall()
            ]
        cursor = self.db.execute(
            "INSERT INTO objects (bucket, key, size, etag, modified_ms, parts_count, headers,"
            " metadata, checksums, storage_class, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.bucket, key_bytes(record.key), record.size, record.etag,
                record.modified_ms, record.parts_count, _dump(record.headers),
                _dump(record.metadata), _dump(record.checksums), record.storage_class,
                dump_tags(record.tags),
            ),
        )  # fmt: skip
        self.db.executemany(
            "INSERT INTO segments (object_id, seq, blob, size, checksums) VALUES (?, ?, ?, ?, ?)",
            [
                (cursor.lastrowid, seq, part.sha256, part.size, _dump(part.checksums))
                for seq, part in enumerate(record.segments, start=1)
            ],
        )
        return self._drop_refs(old)

    def usage(self, bucket: str, prefix: str) -> tuple[int, int]:
        """(objects, bytes) of client objects under ``prefix``: counters kept by triggers in
        the transaction of every write, so reading them is one lookup. A root is counted by a
        scan the first time it is asked for (after each start-up: :meth:`recount` drops them)."""
        lower = key_bytes(prefix)
        row = self.db.execute(
            "SELECT objects, bytes FROM usage_roots WHERE bucket = ? AND prefix = ?",
            (bucket, lower),
        ).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        objects, size = usage_under(self.db, bucket, prefix)
        markers = key_bytes(prefix + NOT_COUNTED[0])
        uploads = key_bytes(prefix + NOT_COUNTED[2])
        self.db.execute(
            "INSERT INTO usage_roots (bucket, prefix, upper, markers, markers_upper,"
            " layout_marker, uploads, uploads_upper, objects, bytes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                bucket, lower, successor(lower), markers, successor(markers),
                key_bytes(prefix + NOT_COUNTED[1]), uploads, successor(uploads), objects, size,
            ),
        )  # fmt: skip
        return objects, size

    def list_keys(
        self, bucket: str, lower: bytes, inclusive: bool, upper: bytes | None, limit: int
    ) -> list[tuple[bytes, int, str, int, str]]:
        """(key, size, etag, modified_ms, storage class) of up to ``limit`` keys from ``lower``
        up to (not including) ``upper``, in byte order."""
        sql = "SELECT key, size, etag, modified_ms, storage_class FROM objects WHERE bucket = ? "
        sql += "AND key "
        sql += ">= ?" if inclusive else "> ?"
        params: list[object] = [bucket, lower]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return [(bytes(r[0]), r[1], r[2], r[3], r[4]) for r in self.db.execute(sql, params)]

    # -- uploads -----------------------------------------------------------------------------

    def create_upload(self, upload: UploadRecord) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO uploads (id, bucket, key, initiated_ms, headers, metadata,"
                " checksum_algorithm, checksum_type, storage_class, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.upload_id, upload.bucket, key_bytes(upload.key), upload.initiated_ms,
                    _dump(upload.headers), _dump(upload.metadata),
                    upload.checksum_algorithm, upload.checksum_type, upload.storage_class,
                    dump_tags(upload.tags),
                ),
            )  # fmt: skip

    def find_upload(self, upload_id: str) -> UploadRecord | None:
        row = self.db.execute(
            "SELECT id, bucket, key, initiated_ms, headers, metadata, checksum_algorithm,"
            " checksum_type, storage_class, tags FROM uploads WHERE id = ?",
            (upload_id,),
        ).fetchone()
        if row is None:
            return None
        return UploadRecord(
            row[0], row[1], key_text(row[2]), row[3], _load(row[4]), _load(row[5]), row[6], row[7],
            row[8], load_tags(row[9]),
        )  # fmt: skip

    def delete_upload(self, upload_id: str) -> list[str]:
        """Remove the upload and its parts; the blobs freed."""
        self.db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        shas = [
            sha
            for (sha,) in self.db.execute(
                "DELETE FROM parts WHERE upload_id = ? RETURNING blob", (upload_id,)
            ).fetchall()
        ]
        return self._drop_refs(shas)

    def put_part(self, upload_id: str, part_number: int, part: StoredPart) -> list[str]:
        """Store (or replace) one part; the blobs freed by a replaced part."""
        self._add_refs([part])
        old = self.db.execute(
            "DELETE FROM parts WHERE upload_id = ? AND part_number = ? RETURNING blob",
            (upload_id, part_number),
        ).fetchone()
        self.db.execute(
            "INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                upload_id, part_number, part.sha256, part.size, part.etag, part.modified_ms,
                _dump(part.checksums),
            ),
        )  # fmt: skip
        return self._drop_refs([old[0]]) if old is not None else []

    def parts(
        self, upload_id: str, after: int = 0, limit: int = -1
    ) -> list[tuple[int, StoredPart]]:
        rows = self.db.execute(
            "SELECT part_number, blob, size, checksums, etag, modified_ms FROM parts "
            "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
            (upload_id, after, limit),
        )
        return [(r[0], StoredPart(r[1], r[2], _load(r[3]), r[4], r[5])) for r in rows]

    def uploads_after(
        self, bucket: str, cursor: tuple[bytes, int, str], upper: bytes | None, limit: int
    ) -> list[tuple[bytes, str, int, str, str | None, str | None]]:
        """(key, upload id, initiated_ms, storage class, checksum algorithm, checksum type)
        after ``cursor`` in (key, initiation, id) order."""
        sql = (
            "SELECT key, id, initiated_ms, storage_class, checksum_algorithm, checksum_type"
            " FROM uploads WHERE bucket = ? AND "
            "(key, initiated_ms, id) > (?, ?, ?)"
        )
        params: list[object] = [bucket, *cursor]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key, initiated_ms, id LIMIT ?"
        params.append(limit)
        return [(bytes(r[0]), *r[1:]) for r in self.db.execute(sql, params)]

    def has_uploads(self, bucket: str, prefix: bytes, upper: bytes | None) -> bool:
        return bool(self.uploads_after(bucket, (prefix, -1, ""), upper, 1))


NOT_COUNTED = (".buckets/", ".s3proxy-layout", ".uploads/")
"""What the gateway keeps under a root besides client objects (bucket markers, the key encoding
marker, the marks of open multipart uploads: s3proxy.backends.buckets,
s3proxy.backends.key_encoding, s3proxy.backends.upload_records); no quota counts them."""


def usage_under(db: sqlite3.Connection, bucket: str, prefix: str) -> tuple[int, int]:
    """(objects, bytes) of client objects under ``prefix`` of ``bucket``: a range scan of the
    key index, leaving out the gateway's own markers."""
    lower = key_bytes(prefix)
    upper = successor(lower)
    markers = key_bytes(prefix + NOT_COUNTED[0])
    uploads = key_bytes(prefix + NOT_COUNTED[2])
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE bucket = ? AND key >= ?"
        " AND NOT (key >= ? AND key < ?) AND NOT (key >= ? AND key < ?) AND key != ?"
    )
    params: list[object] = [
        bucket,
        lower,
        markers,
        successor(markers),
        uploads,
        successor(uploads),
        key_bytes(prefix + NOT_COUNTED[1]),
    ]
    if upper is not None:
        sql += " AND key < ?"
        params.append(upper)
    objects, size = db.execute(sql, params).fetchone()
    return int(objects), int(size)


def read_figures(db: sqlite3.Connection) -> tuple[int, int, int, int]:
    """(objects, logical bytes, blobs, physical bytes), in one read transaction."""
    db.execute("BEGIN")
    try:
        objects, logical = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects"
        ).fetchone()
        blobs, physical = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs"
        ).fetchone()
    finally:
        db.execute("COMMIT")
    return int(objects), int(logical), int(blobs), int(physical)
