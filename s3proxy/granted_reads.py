"""Reads signed by another tenant's key (issue 17.3): ``authenticated-read`` and the public ACLs
as they apply to a signed caller that does not own the bucket.

On AWS, ``authenticated-read`` grants READ to any signed AWS caller, and ``public-read`` (AllUsers)
includes them. Here the signed callers are this gateway's tenants, each with its own bucket
namespace. So a request signed by tenant B's valid key, for a bucket name B does not have, is
served read-only exactly where the owner's ACL grants it:

- GetObject/HeadObject, ListObjects(V2), ListObjectVersions, ListMultipartUploads and
  HeadBucket (S3's READ grant on a bucket: the owner's uploads listed exactly as the owner
  sees them, UploadIds included, which no write here accepts from the caller) in a bucket
  whose ACL is ``public-read``, ``public-read-write`` or ``authenticated-read``;
- GetObject/HeadObject of an object whose own record (:mod:`s3proxy.object_acl`) says
  ``public-read`` or ``authenticated-read`` and names the very object served (checked by a HEAD
  before and on the response's ETag and Last-Modified after, as the anonymous path does);
- the source of a CopyObject or UploadPartCopy into the caller's own bucket, in a bucket of
  the first kind (:func:`_copy`; wave 12, NoSuchBucket before), or an object of the second
  (wave 14: read through the gateway as the very object its record names,
  :mod:`s3proxy.pinned_source`): the write is the caller's. The source's tags are not the
  caller's (S3 copies them only with s3:GetObjectTagging, which no ACL grants): a copy with
  the tagging directive COPY of a tagged source is 403 AccessDenied (wave 15,
  :func:`s3proxy.handlers.object_copy.foreign_tags`), and no GET or HEAD served here answers
  ``x-amz-tagging-count`` (:func:`s3proxy.anonymous.without_tag_count`).

Nothing else, and never a write into another tenant's bucket. A signed PUT into another
tenant's ``public-read-write`` bucket is refused with 403 AccessDenied saying so (that bucket's
existence is public already: anyone can list it): not carried out, because the anonymous
PUT's guarantees do not carry over as they stand — the caller's own storage has already taken
the request (and maybe part of its body) when its NoSuchBucket sends it here, S3 would make
the writer the object's owner, which one-owner buckets here cannot say, and the write would
take the owner's quota from the caller's slots. An unsigned PUT is the way in.

When this path runs: only after the caller's own storage answered NoSuchBucket or AccessDenied
(another tenant's mapped bucket), so every other request pays nothing, and the caller's own
buckets always win. Everything that is not granted in a bucket whose ACL grants the caller
READ is 403 AccessDenied, S3's answer (:func:`_not_granted`; NoSuchBucket before wave 13): the
caller may list that bucket, so its existence is no secret; and so is every other operation on
an object whose own ACL grants the caller its GET (wave 16). Anywhere else it re-raises that
very answer: a foreign tenant learns nothing it could not learn before (no new existence
leak). A name that two other tenants use goes to the one whose grant has stood longest
(:mod:`s3proxy.name_claims`), as for anonymous requests: a private bucket of the same name
never hides a granting one. ``server.allow_public_acls: false`` turns the path off.

What stays the caller's: authentication (header-signed, presigned, SigV2 or V4), the scoped
key's grants (checked on the bucket name before any handler runs, so a key limited to some
buckets never reaches others' through here), its rate limits and request slot (this runs
inside them), its upstream connection pool (``CURRENT_TENANT``), its name in the access log
(``tenant``; the owner is logged as ``bucket_owner``). ``response-*`` overrides are allowed,
as S3 allows them on any signed GET. An ``x-amz-expected-bucket-owner`` is checked against the
caller first (the request pipeline's check), then against the owner here: so a request that
sends one is never served another tenant's bucket (one naming the owner is refused 403, where
AWS would serve it: a known gap). CORS headers are those of the caller's buckets, so a foreign
read carries none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from s3proxy import expensive
from s3proxy.acl import GRANTING, OBJECT_ACLS
from s3proxy.anonymous import OBJECT_READS, READS, WRITES, header, without_tag_count
from s3proxy.backends.buckets import ABSENT
from s3proxy.bucket_index import INDEX
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import Grants
from s3proxy.handlers import HANDLERS
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object_copy import copy_source
from s3proxy.name_claims import Claim, claim, holders
from s3proxy.operations import Operation
from s3proxy.owner import SOURCE_EXPECTED_OWNER, check_expected_owner
from s3proxy.pinned_source import pinned
from s3proxy.responses import S3Response

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage
    from s3proxy.gateway import Runtime

TRIGGERS = frozenset({S3ErrorCode.NoSuchBucket, S3ErrorCode.AccessDenied})
"""The caller's own storage's answers after which a granted foreign read is looked for."""
NO_GRANTS = Grants(())
"""A key allowed nothing: another tenant's DeleteObjects is answered key by key with it."""
COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
"""Whose source may be read in another tenant's bucket that grants READ (:func:`_copy`)."""


async def holders_of(
    bucket: str, storages: Mapping[str, MappedStorage], caller: str
) -> list[MappedStorage]:
    """The storages of the tenants other than ``caller`` that have ``bucket``
    (:func:`s3proxy.name_claims.holders`: the one that maps it, else those that created it).

    A name no configuration maps is looked up in the other tenants' bucket names, each home's
    listed once per cache lifetime (:mod:`s3proxy.bucket_index`); only a home whose names
    include it is asked (one HEAD, or none when cached). Asking every home with a HEAD cost a
    signed GET of a made-up bucket name 21 upstream requests with 20 tenants, for every new
    name (waves 11 H, L). When two or more homes must be listed (or, with the cache off,
    asked), the asking holds one of the caller's expensive-operation slots
    (:mod:`s3proxy.expensive`), so a tenant reading made-up names in a loop has at most that
    many such fan-outs running."""
    others = [storage for name, storage in storages.items() if name != caller]
    mapped = any(bucket in storage.tenant.buckets for storage in others)
    async with expensive.held_if(not mapped and INDEX.to_list(others) > 1):
        return await holders(bucket, others)


async def _own(ctx: RequestContext, bucket: str) -> bool:
    """Whether the caller has ``bucket`` itself (or cannot tell): then its answer stands.

    When the handler's own existence check just found it absent (:data:`ABSENT`), that is the
    answer: asking the caller's home again cost a second upstream HEAD (absences are not
    cached)."""
    registry = ctx.storage.buckets
    if ABSENT.get() == (registry, bucket):
        return False
    try:
        return await registry.exists(bucket)
    except S3Error as error:  # another tenant's mapped bucket, or a caller without a home
        return error.code not in TRIGGERS


async def _foreign(
    bucket: str, key: str | None, runtime: Runtime, caller: str, refused: S3Error
) -> Claim:
    """What grants the caller ``bucket`` (with ``key``: that object too, for GetObject and
    HeadObject) among the other tenants that have it; or ``refused`` again when nothing does,
    two grants tie, or the bucket was deleted meanwhile or is unreadable."""
    found = await holders_of(bucket, runtime.storages, caller)
    granted = await claim(bucket, key, found, GRANTING, OBJECT_ACLS)
    if granted is None:
        raise refused
    return granted


async def serve(
    ctx: RequestContext, refused: S3Error, runtime: Runtime, entry: dict[str, Any]
) -> S3Response:
    """The granted read of another tenant's bucket, or ``refused`` (the caller's own answer)
    raised again unchanged."""
    if ctx.operation in COPIES:
        return await _copy(ctx, refused, runtime)
    bucket = ctx.request.bucket
    if (
        refused.code not in TRIGGERS
        or bucket is None
        or not ctx.server.allow_public_acls
        or await _own(ctx, bucket)
    ):
        raise refused
    if ctx.operation is Operation.DeleteObjects:
        return await _denied_deletes(ctx, bucket, runtime, refused, entry)
    if ctx.operation not in READS:
        raise await _not_granted(ctx, bucket, runtime, refused)
    key = ctx.request.key if ctx.operation in OBJECT_READS else None
    found = await _foreign(bucket, key, runtime, ctx.tenant, refused)
    storage, record = found.storage, found.record
    owner = storage.tenant.name
    # The caller's x-amz-expected-bucket-owner was checked against the caller (so one naming the
    # owner never gets here): a request that says "my bucket" is never served another's.
    check_expected_owner(ctx.request, ctx.operation, runtime.owners[owner].id)
    entry["bucket_owner"] = owner
    shown = runtime.owners[owner].unnamed()  # the owner's name is not the caller's to see
    granted = dataclasses.replace(ctx, storage=storage, owner=shown, tenant=owner)
    response = await HANDLERS[ctx.operation](granted)
    if record is not None and not record.matches(
        header(response, "etag"), header(response, "last-modified")
    ):  # replaced since the HEAD: this object's grant is not the one checked
        if response.close is not None:
            await response.close()
        del entry["bucket_owner"]  # the caller's own refusal: never the owner's CORS headers
        raise refused
    return without_tag_count(response)


async def _denied_deletes(
    ctx: RequestContext, bucket: str, runtime: Runtime, refused: S3Error, entry: dict[str, Any]
) -> S3Response:
    """DeleteObjects in another tenant's bucket whose ACL grants the caller READ but not
    WRITE: S3's 200 naming AccessDenied for every key (a DeleteObjects is judged key by key:
    s3:DeleteObject on each), with the body read and checked (Content-MD5, MalformedXML …)
    as for any DeleteObjects; nothing is deleted. A whole-request 403 before wave 13 C2,
    which SDKs report as a failed request, not as the keys left in place. The owner's
    DeleteObjects handler runs with a key that holds no grant (:data:`NO_GRANTS`), as a
    scoped key's refused entries are answered, so the answer is built by the same code. In a
    ``public-read-write`` bucket (where S3 would delete) and in a bucket that grants the caller
    nothing, the answer stays :func:`_not_granted`'s."""
    found = await _reader_claim(ctx, bucket, runtime)
    if found is None or found.settings.acl == "public-read-write":
        raise _refusal(ctx, found, refused)
    owner = found.storage.tenant.name
    check_expected_owner(ctx.request, ctx.operation, runtime.owners[owner].id)
    entry["bucket_owner"] = owner
    denied = dataclasses.replace(
        ctx, storage=found.storage, owner=runtime.owners[owner], tenant=owner, grants=NO_GRANTS
    )
    return await HANDLERS[ctx.operation](denied)


async def _not_granted(
    ctx: RequestContext, bucket: str, runtime: Runtime, refused: S3Error
) -> S3Error:
    """The answer to what no grant covers in another tenant's ``bucket``: S3's 403
    AccessDenied where the bucket's own ACL grants the caller READ (the caller may list it, so
    its existence is no secret to it; NoSuchBucket before wave 13, where S3 says
    AccessDenied), or, for a request naming a key, where that very object's own ACL grants it
    READ (GetObjectAcl, GetObjectTagging, GetObjectAttributes, writes … of an object the
    caller may GET: an ACL's READ is s3:GetObject alone, so S3 refuses the rest 403; the
    caller reads that object, so neither its key nor its grant is news to it; NoSuchBucket
    before wave 16); else ``refused``, the caller's own answer: nothing learnt about a bucket
    that grants it nothing, nor about its other keys."""
    found = await holders_of(bucket, runtime.storages, ctx.tenant)
    key = ctx.request.key or None  # "" is the bucket itself ("/bucket/")
    return _refusal(ctx, await claim(bucket, key, found, GRANTING, OBJECT_ACLS), refused)


async def _reader_claim(ctx: RequestContext, bucket: str, runtime: Runtime) -> Claim | None:
    """The other tenant's ``bucket`` whose own ACL grants the caller READ, if any."""
    found = await holders_of(bucket, runtime.storages, ctx.tenant)
    return await claim(bucket, None, found, GRANTING, OBJECT_ACLS)


def _refusal(ctx: RequestContext, found: Claim | None, refused: S3Error) -> S3Error:
    """:func:`_not_granted`'s answer once the bucket granting READ is known (or None)."""
    if found is None:
        return refused
    if ctx.operation in WRITES and found.settings.acl == "public-read-write":
        return S3Error(
            S3ErrorCode.AccessDenied,
            "Writes signed by another tenant are not carried out: send the PUT or DELETE "
            "into this public-read-write bucket unsigned.",
        )
    return S3Error(S3ErrorCode.AccessDenied)


async def _copy(ctx: RequestContext, refused: S3Error, runtime: Runtime) -> S3Response:
    """CopyObject (or UploadPartCopy) into the caller's bucket (or upload) from another
    tenant's bucket whose ACL grants the caller READ (``public-read``, ``public-read-write``,
    ``authenticated-read``), as S3 copies it; or ``refused`` again. The copy is run again with
    the owner's storage as the source only: the source is read (server-side on a shared
    upstream, else streamed through here, with its conditions, range and the metadata and
    tagging directives as for any copy), the write is the caller's, in its quota, slots and
    rates. A source whose object alone is granted (``public-read``/``authenticated-read``
    object, NoSuchBucket before wave 14) is copied through the gateway, read only as the very
    object its record names (:mod:`s3proxy.pinned_source`). Not served: a request naming
    ``x-amz-source-expected-bucket-owner`` (checked against the caller, so it says "my
    bucket"). Only on this failure path: copies within a tenant pay nothing."""
    try:
        source_bucket, source_key = copy_source(ctx)
    except S3Error as error:
        # A scoped key's refusal of the source stands: it is the answer without an ACL
        # header, and the caller's NoSuchBucket (its ACL check reads the bucket first) hid it.
        raise (error if error.code is S3ErrorCode.AccessDenied else refused) from None
    bucket = ctx.request.bucket
    if (
        refused.code in TRIGGERS
        and bucket is not None
        and ctx.server.allow_public_acls
        and not await _own(ctx, bucket)
    ):  # into another tenant's bucket: never carried out
        raise await _not_granted(ctx, bucket, runtime, refused)
    if (
        refused.code not in TRIGGERS
        or ctx.source_storage is not None
        or not ctx.server.allow_public_acls
        or ctx.request.header(SOURCE_EXPECTED_OWNER) is not None
        or any(name.lower() == SOURCE_EXPECTED_OWNER for name in ctx.request.query)
        or await _own(ctx, source_bucket)
    ):
        raise refused
    found = await _foreign(source_bucket, source_key, runtime, ctx.tenant, refused)
    source = found.storage
    if found.record is not None:  # the object's own ACL alone: only that very object is read
        source = pinned(source, found.record, refused)
    return await HANDLERS[ctx.operation](dataclasses.replace(ctx, source_storage=source))
