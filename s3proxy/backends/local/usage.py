"""Quota figures of the local store: objects and bytes under a layout root (with the bytes of
open uploads' parts there), and store totals.

Counting by scan is exact but grows with the root, so :class:`Index` keeps per-root counters
(the ``usage_roots`` table, updated by triggers in every write's transaction) and scans a root
once, the first time it is asked for; ``s3proxy stats`` reads the totals in one transaction.
"""

from __future__ import annotations

import sqlite3

from s3proxy.backends.local.schema import key_bytes, successor

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


def parts_under(db: sqlite3.Connection, bucket: str, prefix: str) -> int:
    """Bytes of the parts of open uploads whose keys lie under ``prefix`` of ``bucket``, which
    a quota counts from the moment each is stored (s3proxy.quotas): a range scan of the
    uploads' key index and their parts."""
    lower = key_bytes(prefix)
    upper = successor(lower)
    sql = (
        "SELECT COALESCE(SUM(p.size), 0) FROM uploads AS u JOIN parts AS p"
        " ON p.upload_id = u.id WHERE u.bucket = ? AND u.key >= ?"
    )
    params: list[object] = [bucket, lower]
    if upper is not None:
        sql += " AND u.key < ?"
        params.append(upper)
    (size,) = db.execute(sql, params).fetchone()
    return int(size)


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


def cached_usage(db: sqlite3.Connection, bucket: str, prefix: str) -> tuple[int, int, int]:
    """(objects, bytes) of client objects under ``prefix``, and the bytes of open uploads'
    parts there: counters kept by triggers in the transaction of every write, so reading them
    is one lookup. A root is counted by a scan the first time it is asked for (after each
    start-up: ``Index.recount`` drops them)."""
    lower = key_bytes(prefix)
    row = db.execute(
        "SELECT objects, bytes, parts_bytes FROM usage_roots WHERE bucket = ? AND prefix = ?",
        (bucket, lower),
    ).fetchone()
    if row is not None:
        return int(row[0]), int(row[1]), int(row[2])
    objects, size = usage_under(db, bucket, prefix)
    parts = parts_under(db, bucket, prefix)
    markers = key_bytes(prefix + NOT_COUNTED[0])
    uploads = key_bytes(prefix + NOT_COUNTED[2])
    db.execute(
        "INSERT INTO usage_roots (bucket, prefix, upper, markers, markers_upper,"
        " layout_marker, uploads, uploads_upper, objects, bytes, parts_bytes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bucket, lower, successor(lower), markers, successor(markers),
            key_bytes(prefix + NOT_COUNTED[1]), uploads, successor(uploads), objects, size,
            parts,
        ),
    )  # fmt: skip
    return objects, size, parts
