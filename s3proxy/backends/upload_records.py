"""Checksum records of multipart uploads, kept upstream for S3 upstreams that do not report them.

S3 (2025) reports an upload's ChecksumAlgorithm and ChecksumType, and each part's checksum, in
ListParts (and the first two in ListMultipartUploads); CompleteMultipartUpload compares the part
checksums a client lists with the stored ones and answers the object's checksum. SeaweedFS 4.48
keeps part checksums but lists none of this; Ceph RGW 16 keeps no checksums at all. The proxy
verifies every part's checksum on UploadPart, so it records what it verified, in the tenant's
home (README, "Upstream layout"):

- ``home.prefix + ".uploads/" + B + "/" + D + "." + ALG + "." + TYPE + "/upload"``, an empty
  object written at CreateMultipartUpload, only for an upload that names a checksum algorithm;
- ``… + "/p" + NNNNN + "." + E + "." + V`` for each part uploaded with that algorithm's checksum,

where B is the client bucket, D the first 32 hex digits of SHA-256(client key, NUL, upstream
upload id), NNNNN the part number (five digits), E the first 32 hex digits of SHA-256 of the
part's ETag (without quotes, lower case) and V the checksum's digest in hex. Everything is in
the names, so one listing reads an upload's records. A part is recorded with its ETag, so a
re-sent part (or two replicas racing on one part number) adds a record and never overwrites
one: the record that counts is the one whose ETag is the part's. Records go after the part is
stored and are removed after Complete or Abort; a crash between leaves a part without its
checksum or stale records of a finished upload, which nothing matches; ListMultipartUploads
drops those when it lists a whole bucket (:func:`s3proxy.backends.upload_listing.sweep_stale`).

Two more records, beside those directories, mark an upload's other per-upload needs:

- ``home.prefix + ".uploads/" + B + "/" + D + ".tags"``, holding the ``x-amz-tagging`` of
  CreateMultipartUpload (URL-encoded, as the header): Ceph RGW 16 drops tags given on Create,
  so the proxy sets them with PutObjectTagging at Complete, before it answers. Complete
  writes it again just before the upstream Complete, and the sweep keeps a tags record that
  young for a day (:data:`~s3proxy.backends.upload_listing.TAGS_GRACE`): a Complete whose
  tagging failed leaves the upload gone upstream and the tags to its retry;
- ``… + D + ".sse-c"``, empty: the upload was created with an SSE-C key, so every UploadPart
  must carry one (SeaweedFS 4.48 stores a part sent without it, in the clear);
- ``… + D + ".sse-s3"``, empty: the upload was created with SSE-S3, which S3 reports on its
  UploadPart, UploadPartCopy and Complete; the UploadId says so (its ``e`` flag), and this mark
  lets ListMultipartUploads issue that same UploadId;
- ``… + D + ".class." + CLASS``, empty: the upload was created with storage class CLASS (not
  STANDARD), which ListParts and ListMultipartUploads report (SeaweedFS 4.48 stores the class
  with the completed object but lists every upload as STANDARD);
- ``… + D + ".acl." + ACL``, empty: the upload was created with the public canned ACL ACL
  (``public-read`` or ``authenticated-read``), whose record (:mod:`s3proxy.object_acl`)
  Complete writes for the completed object. Kept on every lane, the local store's too, in the
  tenant's home (a public object ACL needs one anyway).

Uploads without a checksum algorithm, tags, SSE-C or SSE-S3, a class other than STANDARD or a
public ACL pay nothing:
the client's UploadId says whether records exist (:mod:`s3proxy.handlers.multipart`), so only
ListMultipartUploads, which must issue the same UploadId as CreateMultipartUpload, lists the
records of the bucket — and only when it has uploads to show. A tenant without a home keeps no
records: what an upload cannot carry without them is refused at Create
(:func:`refuse_unrecorded`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing
from urllib.parse import parse_qsl, urlencode

from s3proxy import sse
from s3proxy.backends.base import Backend
from s3proxy.backends.recorded_completion import RecordedCompletion as RecordedCompletion
from s3proxy.backends.recorded_completion import part_with as part_with
from s3proxy.backends.records import read_record, write_record
from s3proxy.backends.upload_record_values import BucketRecords as BucketRecords
from s3proxy.backends.upload_record_values import UploadChecksum as UploadChecksum
from s3proxy.backends.upload_record_values import UploadMarks as UploadMarks
from s3proxy.backends.upload_record_values import etag_digest as etag_digest
from s3proxy.backends.upload_record_values import upload_digest as upload_digest
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamRoot
from s3proxy.model import STANDARD, CreateMultipartInput, Tags
from s3proxy.storage_classes import STORAGE_CLASSES

log = logging.getLogger("s3proxy.upstream")

RECORD_DIR = ".uploads/"
UPLOAD_MARKER = "upload"
LIST_PAGE = 1000
DELETE_BATCH = 1000
TAGS_RECORD = ".tags"
CUSTOMER_KEY_RECORD = ".sse-c"
SSE_S3_RECORD = ".sse-s3"
CLASS_RECORD = ".class."
ACL_RECORD = ".acl."
PUBLIC_UPLOAD_ACLS = frozenset({"public-read", "authenticated-read"})
"""The public ACLs an upload may carry to Complete (as an object may have)."""
MAX_TAGS_RECORD = 64 * 1024
"""Ten tags of S3's longest keys and values, URL-encoded, take under 12 KiB."""


class UploadRecords:
    """The records of one tenant's uploads, in its home (``home``) on ``backend``."""

    def __init__(self, backend: Backend, home: UpstreamRoot) -> None:
        self._backend = backend
        self._home = home

    def _bucket_dir(self, bucket: str) -> str:
        return f"{self._home.prefix}{RECORD_DIR}{bucket}/"

    def _dir(self, bucket: str, key: str, upload_id: str, checksum: UploadChecksum) -> str:
        return f"{self._bucket_dir(bucket)}{upload_digest(key, upload_id)}.{checksum.token()}/"

    async def _put(self, name: str, body: bytes = b"") -> None:
        await write_record(self._backend, self._home.bucket, name, body)

    def _mark(self, bucket: str, key: str, upload_id: str, suffix: str) -> str:
        return f"{self._bucket_dir(bucket)}{upload_digest(key, upload_id)}{suffix}"

    async def _names(
        self, prefix: str, start_after: str | None = None
    ) -> AsyncGenerator[str, None]:
        token: str | None = None
        while True:
            page = await self._backend.list_objects(
                self._home.bucket, prefix, None, start_after, LIST_PAGE, token
            )
            for entry in page.entries:
                if entry.key.startswith(prefix):  # never trust an upstream's prefix filter
                    yield entry.key[len(prefix) :]
            token = page.next_token
            if token is None:
                return

    async def create(self, bucket: str, key: str, upload_id: str, checksum: UploadChecksum) -> None:
        await self._put(self._dir(bucket, key, upload_id, checksum) + UPLOAD_MARKER)

    async def add_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        checksum: UploadChecksum,
        part_number: int,
        etag: str,
        value_b64: str,
    ) -> None:
        digest = base64.b64decode(value_b64).hex()
        name = f"p{part_number:05d}.{etag_digest(etag)}.{digest}"
        await self._put(self._dir(bucket, key, upload_id, checksum) + name)

    async def part_checksums(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        checksum: UploadChecksum,
        first: int = 1,
        last: int = 10000,
    ) -> dict[tuple[int, str], str]:
        """(part number, :func:`etag_digest`) → base64 checksum, for parts ``first``..``last``."""
        prefix = self._dir(bucket, key, upload_id, checksum) + "p"
        found: dict[tuple[int, str], str] = {}
        async with aclosing(self._names(prefix, f"{prefix}{first - 1:05d}~")) as names:
            async for name in names:
                number, _, rest = name.partition(".")
                etag, _, value = rest.partition(".")
                if not number.isdigit():
                    continue
                if int(number) > last:
                    break
                try:
                    found[(int(number), etag)] = base64.b64encode(bytes.fromhex(value)).decode()
                except (ValueError, binascii.Error):
                    continue
        return found

    async def checksums_of(self, bucket: str) -> dict[str, UploadChecksum]:
        """:func:`upload_digest` → checksum, for every recorded upload of ``bucket``."""
        return (await self.read(bucket)).checksums

    async def records_of(
        self, bucket: str
    ) -> tuple[dict[str, UploadChecksum], dict[str, UploadMarks]]:
        """:func:`upload_digest` → checksum, and → marks, for the recorded uploads of
        ``bucket`` (:meth:`read`)."""
        found = await self.read(bucket)
        return found.checksums, found.marks

    async def read(self, bucket: str) -> BucketRecords:
        """The records of ``bucket``'s uploads: one listing (the marks are objects, the
        checksums directories)."""
        prefix = self._bucket_dir(bucket)
        found: dict[str, UploadChecksum] = {}
        tagged: dict[str, str] = {}
        keyed: set[str] = set()
        encrypted: set[str] = set()
        classes: dict[str, str] = {}
        acls: dict[str, str] = {}
        token: str | None = None
        while True:
            page = await self._backend.list_objects(
                self._home.bucket, prefix, "/", None, LIST_PAGE, token
            )
            for common in page.prefixes:
                digest, _, spec = common[len(prefix) :].rstrip("/").partition(".")
                checksum = UploadChecksum.from_token(spec)
                if common.startswith(prefix) and checksum is not None:
                    found[digest] = checksum
            for entry in page.entries:
                name = entry.key[len(prefix) :] if entry.key.startswith(prefix) else ""
                if name.endswith(TAGS_RECORD):
                    tagged[name[: -len(TAGS_RECORD)]] = entry.last_modified
                elif name.endswith(CUSTOMER_KEY_RECORD):
                    keyed.add(name[: -len(CUSTOMER_KEY_RECORD)])
                elif name.endswith(SSE_S3_RECORD):
                    encrypted.add(name[: -len(SSE_S3_RECORD)])
                elif CLASS_RECORD in name:
                    digest, _, storage_class = name.partition(CLASS_RECORD)
                    if storage_class in STORAGE_CLASSES and storage_class != STANDARD:
                        classes[digest] = storage_class
                elif ACL_RECORD in name:
                    digest, _, acl = name.partition(ACL_RECORD)
                    if acl in PUBLIC_UPLOAD_ACLS:
                        acls[digest] = acl
            token = page.next_token
            if token is None:
                break
        marks = {
            digest: UploadMarks(
                digest in tagged,
                digest in keyed,
                classes.get(digest),
                acls.get(digest),
                digest in encrypted,
            )
            for digest in tagged.keys() | keyed | encrypted | classes.keys() | acls.keys()
        }
        return BucketRecords(found, marks, tagged)

    async def create_marks(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        tags: Tags,
        customer_key: bool,
        storage_class: str = STANDARD,
        acl: str | None = None,
        sse_s3: bool = False,
    ) -> UploadMarks:
        """The records of an upload's tags (if any), SSE-C key use (if so), storage class
        (unless STANDARD), public ACL (if any) and SSE-S3 (if so)."""
        if tags:
            body = urlencode(tags).encode()
            await self._put(self._mark(bucket, key, upload_id, TAGS_RECORD), body)
        if customer_key:
            await self._put(self._mark(bucket, key, upload_id, CUSTOMER_KEY_RECORD))
        kept = None if storage_class == STANDARD else storage_class
        if kept is not None:
            await self._put(self._mark(bucket, key, upload_id, CLASS_RECORD + kept))
        if acl is not None:
            await self._put(self._mark(bucket, key, upload_id, ACL_RECORD + acl))
        if sse_s3:
            await self._put(self._mark(bucket, key, upload_id, SSE_S3_RECORD))
        return UploadMarks(bool(tags), customer_key, kept, acl, sse_s3)

    async def tags(self, bucket: str, key: str, upload_id: str) -> Tags | None:
        """The tags recorded at Create; None when the record is gone (a Complete retried
        after the tags were set and the record removed)."""
        name = self._mark(bucket, key, upload_id, TAGS_RECORD)
        found = await read_record(self._backend, self._home.bucket, name, MAX_TAGS_RECORD)
        if found is None:
            return None
        return tuple(parse_qsl(found[0].decode(), keep_blank_values=True))

    async def refresh_tags(self, bucket: str, key: str, upload_id: str, tags: Tags) -> None:
        """Write the tags record again, just before the upstream Complete: from then on the
        upload is gone upstream while its object may still need the tags (a failed tagging,
        a crash), and :func:`~s3proxy.backends.upload_listing.sweep_stale` keeps a tags record
        written within its grace period for the retry."""
        body = urlencode(tags).encode()
        await self._put(self._mark(bucket, key, upload_id, TAGS_RECORD), body)

    async def remove_marks(self, bucket: str, key: str, upload_id: str, marks: UploadMarks) -> None:
        """Best effort, after the upload is gone, as :meth:`remove`."""
        names = [self._mark(bucket, key, upload_id, suffix) for suffix in _mark_suffixes(marks)]
        if not names:
            return
        try:
            await self._backend.delete_objects(self._home.bucket, names)
        except Exception as exc:  # the client's request has succeeded: only log
            log.warning("upload records not removed: %r", exc)

    async def drop(
        self,
        bucket: str,
        digests: Iterable[str],
        known: Mapping[str, UploadChecksum],
        marks: Mapping[str, UploadMarks],
    ) -> None:
        """Best effort: every record of the uploads ``digests`` (:func:`upload_digest`) names,
        as :meth:`records_of` found them — uploads the upstream no longer has."""
        folder = self._bucket_dir(bucket)
        try:
            names: list[str] = []
            for digest in digests:
                mark = marks.get(digest, UploadMarks())
                names += [folder + digest + suffix for suffix in _mark_suffixes(mark)]
                if digest in known:
                    prefix = f"{folder}{digest}.{known[digest].token()}/"
                    names += [prefix + name async for name in self._names(prefix)]
            for start in range(0, len(names), DELETE_BATCH):
                batch = names[start : start + DELETE_BATCH]
                await self._backend.delete_objects(self._home.bucket, batch)
        except Exception as exc:  # the listing has its answer: only log
            log.warning("stale upload records not removed: %r", exc)

    async def remove(self, bucket: str, key: str, upload_id: str, checksum: UploadChecksum) -> None:
        """Best effort, after the upload is gone: a record left behind matches nothing."""
        prefix = self._dir(bucket, key, upload_id, checksum)
        try:
            names = [prefix + name async for name in self._names(prefix)]
            for start in range(0, len(names), DELETE_BATCH):
                batch = names[start : start + DELETE_BATCH]
                await self._backend.delete_objects(self._home.bucket, batch)
        except Exception as exc:  # the client's request has succeeded: only log
            log.warning("upload records not removed: %r", exc)


def _mark_suffixes(marks: UploadMarks) -> list[str]:
    """The names, after the upload's digest, of the mark records ``marks`` says exist."""
    return [
        suffix
        for suffix, present in (
            (TAGS_RECORD, marks.tagged),
            (CUSTOMER_KEY_RECORD, marks.customer_key),
            (CLASS_RECORD + (marks.storage_class or ""), marks.storage_class is not None),
            (ACL_RECORD + (marks.acl or ""), marks.acl is not None),
            (SSE_S3_RECORD, marks.sse_s3),
        )
        if present
    ]


def refuse_unrecorded(request: CreateMultipartInput) -> None:
    """What an upload cannot carry without its records (a tenant without a home on an S3
    upstream) is refused before it starts: tags, kept until Complete (an upstream may drop
    them), and encryption, which the UploadId must name for every later call — an SSE-C
    upload refuses a part without the key (SeaweedFS 4.48 would store it in the clear), an
    SSE-S3 one says so on each answer — while ListMultipartUploads could name neither."""
    if request.tags:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Tags on CreateMultipartUpload need the tenant's home on this storage: tag "
            "the object once it is complete.",
            Header="x-amz-tagging",
        )
    encryption = request.encryption
    if encryption is None:
        return
    customer = encryption.customer_key is not None
    raise S3Error(
        S3ErrorCode.NotImplemented,
        f"{'SSE-C' if customer else 'SSE-S3'} on CreateMultipartUpload needs the tenant's home "
        "on this storage, where the gateway records the upload's encryption.",
        Header=sse.CUSTOMER + "algorithm" if customer else sse.SSE,
    )
