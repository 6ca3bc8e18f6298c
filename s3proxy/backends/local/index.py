"""The local store's index: objects, their blobs, multipart uploads, reference counts.

Every object is a list of segments (one for a plain PUT, one per part for a completed
multipart upload); a blob's ``refs`` counts the segment and upload-part rows naming it. Counts
change only inside the transaction that changes those rows, and :meth:`Index.recount` rebuilds
them from the rows at start-up, so no interrupted run can leave one wrong. The SQLite file and
its tables are :mod:`.schema`'s; quota counting is :mod:`.usage`'s.

An :class:`Index` is used from one thread at a time (the store's database thread).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from s3proxy.backends.local.blobs import Segment
from s3proxy.backends.local.migrations import drop_stale_usage, dump_tags, load_tags, migrate
from s3proxy.backends.local.schema import (
    DB_FILE,
    SCHEMA,
    connect,
    dump_map,
    key_bytes,
    key_text,
    load_map,
    successor,
)
from s3proxy.backends.local.usage import (
    NOT_COUNTED,
    cached_usage,
    parts_under,
    read_figures,
    usage_under,
)
from s3proxy.model import STANDARD, Tags

__all__ = [
    "DB_FILE",
    "NOT_COUNTED",
    "Index",
    "ObjectRecord",
    "StoredPart",
    "UploadRecord",
    "connect",
    "key_bytes",
    "key_text",
    "parts_under",
    "read_figures",
    "successor",
    "usage_under",
]


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One segment of an object (or a part of an upload) with what S3 reports about it."""

    sha256: str
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)
    etag: str = ""
    modified_ms: int = 0
    part_number: int = 0
    """The number it was uploaded under, in a completed object (0: not recorded)."""


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


_COUNTED = (
    "(SELECT blob, MAX(size) AS size, COUNT(*) AS refs FROM (SELECT blob, size FROM segments "
    "UNION ALL SELECT blob, size FROM parts) GROUP BY blob)"
)
"""Each referenced blob with its size and the number of rows naming it (:meth:`Index.recount`)."""


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
            self.db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) may leave the transaction open (SQLite:
            # "applications [should] respond … by explicitly issuing a ROLLBACK"); left open,
            # every later BEGIN fails and this connection reads the uncommitted rows as stored.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

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
        """Check every count against the rows, mending only those that differ; the set of
        referenced blobs. Counts change only with the rows that name them (one transaction), so
        after any stop they agree and a start writes nothing here but the few rows of the
        usage cache; it used to rewrite the whole blobs table, which on a full disk needs more
        log than the reserve holds (:mod:`.reserve`) past ~100,000 blobs (4 MiB for 50,000)."""
        with self.transaction():
            # Rows an interrupted run could not have left, but cheap to rule out.
            self.db.execute("DELETE FROM segments WHERE object_id NOT IN (SELECT id FROM objects)")
            self.db.execute("DELETE FROM parts WHERE upload_id NOT IN (SELECT id FROM uploads)")
            # Counted afresh when first asked. WHERE: without one SQLite truncates the table,
            # which writes a page even when it is empty.
            self.db.execute("DELETE FROM usage_roots WHERE true")
            self.db.execute(f"DELETE FROM blobs WHERE sha256 NOT IN (SELECT blob FROM {_COUNTED})")
            self.db.execute(
                f"INSERT INTO blobs (sha256, size, refs) SELECT * FROM {_COUNTED} WHERE true "
                "ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, refs = excluded.refs "
                "WHERE blobs.size != excluded.size OR blobs.refs != excluded.refs"
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
                StoredPart(sha, size, load_map(sums), part_number=number)
                for sha, size, sums, number in self.db.execute(
                    "SELECT blob, size, checksums, part_number FROM segments"
                    " WHERE object_id = ? ORDER BY seq",
                    (row[0],),
                )
            ]
        return ObjectRecord(
            bucket, key, row[1], row[2], row[3], row[4],
            load_map(row[5]), load_map(row[6]), load_map(row[7]), segments, row[8],
            load_tags(row[9]),
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
                record.modified_ms, record.parts_count, dump_map(record.headers),
                dump_map(record.metadata), dump_map(record.checksums), record.storage_class,
                dump_tags(record.tags),
            ),
        )  # fmt: skip
        self.db.executemany(
            "INSERT INTO segments (object_id, seq, blob, size, checksums, part_number)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    cursor.lastrowid,
                    seq,
                    part.sha256,
                    part.size,
                    dump_map(part.checksums),
                    part.part_number,
                )
                for seq, part in enumerate(record.segments, start=1)
            ],
        )
        return self._drop_refs(old)

    def usage(self, bucket: str, prefix: str) -> tuple[int, int, int]:
        """(objects, bytes) of client objects under ``prefix``, and the bytes of open uploads'
        parts there (:func:`.usage.cached_usage`)."""
        return cached_usage(self.db, bucket, prefix)

    def list_keys(
        self, bucket: str, lower: bytes, inclusive: bool, upper: bytes | None, limit: int
    ) -> Iterator[tuple[bytes, int, str, int, str]]:
        """(key, size, etag, modified_ms, storage class) of up to ``limit`` keys from ``lower``
        up to (not including) ``upper``, in byte order, read as they are taken: a listing with
        a delimiter stops at a query's first common prefix, and fetching all ``limit`` rows
        each time made a page of 1,000 common prefixes over 20 keys each 0.7-1.5 s of the
        database thread (every other request's wait) instead of 15-65 ms."""
        sql = "SELECT key, size, etag, modified_ms, storage_class FROM objects WHERE bucket = ? "
        sql += "AND key "
        sql += ">= ?" if inclusive else "> ?"
        params: list[object] = [bucket, lower]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        return ((bytes(r[0]), r[1], r[2], r[3], r[4]) for r in self.db.execute(sql, params))

    # -- uploads -----------------------------------------------------------------------------

    def create_upload(self, upload: UploadRecord) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO uploads (id, bucket, key, initiated_ms, headers, metadata,"
                " checksum_algorithm, checksum_type, storage_class, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.upload_id, upload.bucket, key_bytes(upload.key), upload.initiated_ms,
                    dump_map(upload.headers), dump_map(upload.metadata),
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
            row[0], row[1], key_text(row[2]), row[3], load_map(row[4]), load_map(row[5]),
            row[6], row[7], row[8], load_tags(row[9]),
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
                dump_map(part.checksums),
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
        return [(r[0], StoredPart(r[1], r[2], load_map(r[3]), r[4], r[5])) for r in rows]

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
