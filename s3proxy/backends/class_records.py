"""Storage classes an S3 upstream does not offer, kept by the proxy: one record per object.

S3 reports an object's class on HEAD/GET, in ListObjects V1/V2, ListObjectVersions and
GetObjectAttributes. An S3 upstream is sent the class only when its configuration lists it
(``upstreams.NAME.storage_classes``, :mod:`s3proxy.storage_classes`); any other class is stored
there as STANDARD and the proxy keeps the class in a record in the tenant's home (README,
"Upstream layout"):

- ``home.prefix + ".buckets/.classes/" + B + "." + T + "/" + flat(K)``, where B is the client
  bucket, T the bucket's records token (below) and ``flat(K)`` the ``flat`` encoding of the
  client key (:mod:`s3proxy.keycodec`) whatever the bucket's own encoding, so records list in
  the keys' byte order on every upstream (SeaweedFS's tree order included) and one listing over
  a page's key range finds the page's records;
- its body is ``CLASS + "\\n" + ETAG`` (the object's ETag, unquoted, lower case). A listing shows
  the record's own ETag, the MD5 of that body, and its size: against the listed object's ETag
  that names the class without reading the record, and binds the record to the object it was
  written for. A record of an object since overwritten (another ETag) or deleted by a path that
  did not remove it matches nothing and is never shown. This needs an upstream whose ETag of a
  plain PUT is the body's MD5 (S3 without SSE-KMS, SeaweedFS, Ceph RGW); a record that matches
  no class is ignored, so elsewhere such objects read as STANDARD everywhere alike.

One name per key: a write replaces the record or removes it by name, DeleteObject(s) remove it
by name, without a listing. Under ``.buckets/`` no quota counts them.

What it costs: a bucket that never held a kept class pays nothing. The first kept-class write
sets ``kept_classes`` in the bucket's settings record (:mod:`.bucket_settings`) to a random
token T, read through the bucket-cache generation as its other settings: a created bucket
without settings is known to have none from the existence check every request makes. A bucket
deleted and created again gets a new token, so records its first life left behind are never
read (racing first writes agree on one token: the settings rewrite is conditional). In a
bucket with a token a HEAD/GET pays one HEAD of the record, a listing page one listing of the
records over its key range (plus one per rolled-up common prefix in that range holding
kept-class objects), a write or delete one request to replace or remove the record. The token
stays: a bucket that held a kept class once keeps paying that (dropping it would need to know
that no record is left, and a record hidden is a wrong answer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from s3proxy import keycodec
from s3proxy.backends.bucket_settings import BucketSettings
from s3proxy.backends.records import write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import MAX_KEY_BYTES
from s3proxy.listing import ListQuery, MergedPage, merge_listing
from s3proxy.model import (
    STANDARD,
    ListEntry,
    ListPage,
    ObjectInfo,
    ReadConditions,
)
from s3proxy.storage_classes import STORAGE_CLASSES, not_offered

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend
    from s3proxy.backends.mapped import MappedStorage

log = logging.getLogger("s3proxy.upstream")

RECORD_DIR = ".buckets/.classes/"
FLAG = "kept_classes"
"""The member of a bucket's settings record naming its records' token: set by the first
kept-class write, so a bucket that never had one reads no record."""
TOKEN_DIGITS = 8
_TOKEN = re.compile(r"[0-9a-f]{8}")
KEPT = tuple(sorted(STORAGE_CLASSES - {STANDARD}))


def offered_by(backend: Backend) -> frozenset[str] | None:
    """The classes besides STANDARD an S3 upstream stores itself; None: a backend that keeps
    every class itself (the local store's index)."""
    offered: frozenset[str] | None = getattr(backend, "offered_storage_classes", None)
    return offered


def kept_by_proxy(backend: Backend, storage_class: str) -> bool:
    offered = offered_by(backend)
    return offered is not None and storage_class != STANDARD and storage_class not in offered


def _may_keep(backend: Backend) -> bool:
    offered = offered_by(backend)
    return offered is not None and len(offered) < len(KEPT)


def _etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def record_body(storage_class: str, etag: str) -> bytes:
    return f"{storage_class}\n{_etag(etag)}".encode()


def class_of_record(record_etag: str, record_size: int, object_etag: str) -> str | None:
    """The class a record listed with ``record_etag`` and ``record_size`` gives the object
    whose ETag is ``object_etag``; None when it was written for another object."""
    etag, wanted = _etag(object_etag), _etag(record_etag)
    for storage_class in KEPT:
        if len(storage_class) + 1 + len(etag) != record_size:
            continue
        digest = hashlib.md5(record_body(storage_class, etag), usedforsecurity=False).hexdigest()
        if digest == wanted:
            return storage_class
    return None


def _token(settings: BucketSettings) -> str | None:
    value = settings.other.get(FLAG)
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def _with_token(token: str) -> Callable[[BucketSettings], BucketSettings]:
    def change(settings: BucketSettings) -> BucketSettings:
        if _token(settings) is not None:  # another write set one first: that one stands
            return settings
        return dataclasses.replace(settings, other={**settings.other, FLAG: token})

    return change


class ClassRecords:
    """The kept classes of one tenant's buckets (reached as ``storage.classes``)."""

    def __init__(self, storage: MappedStorage) -> None:
        self._storage = storage

    def _dir(self, bucket: str, token: str) -> tuple[Backend, str, str] | None:
        """(backend, upstream bucket, records prefix) of ``bucket``; None without a home."""
        home = self._storage.tenant.home
        if home is None:
            return None
        return (
            self._storage._backend(home.upstream),
            home.bucket,
            f"{home.prefix}{RECORD_DIR}{bucket}.{token}/",
        )

    def _name(self, prefix: str, key: str) -> str:
        return prefix + keycodec.encode(key)

    async def token(self, bucket: str, backend: Backend) -> str | None:
        """The records token of ``bucket`` (stored on ``backend``): None when it never held a
        kept-class object, or cannot (the common case, read without a request)."""
        if not _may_keep(backend) or self._storage.tenant.home is None:
            return None
        return _token(await self._storage.buckets.settings.get(bucket))

    async def upstream_class(
        self, bucket: str, key: str, backend: Backend, storage_class: str
    ) -> str:
        """The class to ask the upstream for: the one asked for where it offers it, else
        STANDARD, the bucket's token set first (before any byte is stored, so no reader misses
        a record). A class that cannot be kept (no home, a record name too long) is refused."""
        if not kept_by_proxy(backend, storage_class):
            return storage_class
        where = self._dir(bucket, "0" * TOKEN_DIGITS)
        if where is None:
            raise not_offered(storage_class)
        if len(self._name(where[2], key).encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise not_offered(storage_class)
        if await self.token(bucket, backend) is None:
            new = secrets.token_hex(TOKEN_DIGITS // 2)
            await self._storage.buckets.settings.update(bucket, _with_token(new))
        return STANDARD

    async def written(
        self, bucket: str, key: str, backend: Backend, storage_class: str, etag: str
    ) -> None:
        """After a write of (bucket, key) that asked for ``storage_class`` and stored ``etag``:
        the record of a kept class, or none (a flagged bucket's old record removed)."""
        token = await self.token(bucket, backend)
        where = self._dir(bucket, token) if token is not None else None
        if where is None:
            return  # nothing to replace: no request (a kept class set the token before)
        records, upstream_bucket, prefix = where
        name = self._name(prefix, key)
        if kept_by_proxy(backend, storage_class):
            body = record_body(storage_class, etag)
            put = await write_record(records, upstream_bucket, name, body)
            if _etag(put.etag) != hashlib.md5(body, usedforsecurity=False).hexdigest():
                log.warning("class records need MD5 ETags; this upstream's are not: %s", put.etag)
        else:
            await records.delete_object(upstream_bucket, name)

    async def removed(self, bucket: str, keys: Iterable[str], backend: Backend) -> None:
        """After (bucket, key)s were deleted: their records, best effort (a record left
        behind matches no later object but one with the same ETag written outside the proxy)."""
        keys = list(keys)
        token = await self.token(bucket, backend) if keys else None
        where = self._dir(bucket, token) if token is not None else None
        if where is None:
            return
        try:
            await where[0].delete_objects(where[1], [self._name(where[2], key) for key in keys])
        except Exception as exc:  # the client's delete has succeeded: only log
            log.warning("class records not removed: %r", exc)

    async def current(
        self, bucket: str, key: str, backend: Backend, info: ObjectInfo
    ) -> ObjectInfo:
        """``info`` with the class the proxy keeps for that object, if any."""
        if info.storage_class != STANDARD:
            return info
        token = await self.token(bucket, backend)
        where = self._dir(bucket, token) if token is not None else None
        if where is None:
            return info
        records, upstream_bucket, prefix = where
        try:
            record = await records.head_object(
                upstream_bucket, self._name(prefix, key), ReadConditions()
            )
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchKey:
                return info
            raise
        found = class_of_record(record.etag, record.size, info.etag)
        return info if found is None else dataclasses.replace(info, storage_class=found)

    async def listed(
        self, bucket: str, backend: Backend, query: ListQuery, page: MergedPage
    ) -> MergedPage:
        """``page`` with the kept classes of its objects: the records over the page's key
        range, listed as the page was (prefix, delimiter, start-after), merged in by key."""
        token = await self.token(bucket, backend) if page.entries else None
        where = self._dir(bucket, token) if token is not None else None
        if where is None:
            return page
        records, upstream_bucket, prefix = where

        async def fetch(
            within: str, start_after: str | None, max_keys: int, next_token: str | None
        ) -> ListPage:
            return await records.list_objects(
                upstream_bucket, within, None, start_after, max_keys, next_token
            )

        found: dict[str, ListEntry] = {}
        last = page.entries[-1].key
        items = len(page.entries) + len(page.prefixes)
        scan = query
        while True:
            # Records are a subset of the page's keys (stale ones aside): one listing of as many
            # items as the page has reaches its last key.
            scan = dataclasses.replace(scan, max_keys=items)
            got = await merge_listing([prefix], scan, fetch, "flat")
            found.update((entry.key, entry) for entry in got.entries)
            if not got.is_truncated or got.last is None or got.last >= last:
                break
            scan = dataclasses.replace(scan, start_after=got.last)
        if not found:
            return page
        entries = [_with_class(entry, found.get(entry.key)) for entry in page.entries]
        return dataclasses.replace(page, entries=entries)


def _with_class(entry: ListEntry, record: ListEntry | None) -> ListEntry:
    if record is None or entry.storage_class != STANDARD:
        return entry
    found = class_of_record(record.etag, record.size, entry.etag)
    return entry if found is None else dataclasses.replace(entry, storage_class=found)
