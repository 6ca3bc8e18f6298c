"""Anonymous requests (no credentials at all): served exactly where a bucket's public ACL grants
them, 403 AccessDenied everywhere else.

What is served (:mod:`s3proxy.acl`, issue 17): GetObject/HeadObject, ListObjects(V2),
ListObjectVersions, ListMultipartUploads and HeadBucket in a ``public-read`` or
``public-read-write`` bucket (what S3's READ grant on a bucket allows: s3:ListBucket, which
HeadBucket needs too, s3:ListBucketVersions and s3:ListBucketMultipartUploads; the uploads
listing was refused before wave 12, though S3 serves it), PutObject and DeleteObject in a
``public-read-write`` bucket (the owner's own write or delete, :data:`WRITES`; DeleteObjects
too since wave 14, each entry judged as S3 judges it),
GetObject/HeadObject of a ``public-read`` object (its record, :mod:`s3proxy.object_acl`, must
name the very object served: checked by a HEAD before and on the response's ETag and
Last-Modified after).
Never what ``authenticated-read`` grants (a bucket's or an object's): that needs a signature
(:mod:`s3proxy.granted_reads`). Nothing else: no bucket is created, listed among buckets,
deleted or configured anonymously, and an operation the gateway refuses to a signed caller is
403 here too (an anonymous caller learns nothing about the routing table). The one exception is
a browser form upload (PostObject): its signature is a field of the form, so it is refused as
not implemented (501), the same answer for every bucket; and in a ``public-read-write`` bucket
the writes S3's WRITE grant allows everyone besides PutObject (:data:`UNSERVED_WRITES`) are
501 too, since S3 would carry them out.

Whose bucket it is (:mod:`s3proxy.name_claims`): the one tenant that maps or has created the
bucket; of several that have created it, the one whose bucket (or, for GetObject/HeadObject,
object) has been public longest, so a bucket created later under a public bucket's name
neither hides nor takes it (wave 13: before, such a name was refused to everyone). An anonymous
request only ever reaches a bucket or object whose own record says it is public, inside the
tenant that owns that record.

Admission: anonymous requests have their own slots per process and bucket owner
(:func:`gates_for`, sized like one tenant's, ``server.limits``) and their own upstream connection
pool per owner; they never take a tenant's request slots, rate budget or connections, so a flood
of them cannot slow a tenant's signed requests down; they are held to the owner's rate limits in
token buckets of their own (:mod:`s3proxy.anonymous_rates`; before wave 17 to none, so a public
bucket was read and written past every rate limit), a token taken only once the request is
granted, in the owner's slot: a refused one (a private bucket) spends none. Per owner,
because one set for all (as before wave 12) let readers of one tenant's popular or slowly read
public object take every slot and pooled connection, and every other tenant's public buckets
answered 503 SlowDown. The owner is found before a slot is taken: that look-up costs no
upstream request for a name a configuration maps or the bucket index rules out, and otherwise
runs under the unsigned look-ups' own few slots (:data:`s3proxy.cors_requests.UNSIGNED_LOOKUPS`),
as it did inside the shared slots. There too a created bucket that grants nothing is refused
(:func:`_grants_nothing`, its settings read once per cache lifetime), before any owner's slot,
as a missing one is (wave 18 C); a mapped one too, its settings read under those slots. A
request that carries credentials never enters this module beyond :func:`is_anonymous`'s two
lookups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from s3proxy import expensive, object_acl
from s3proxy.acl import PUBLIC
from s3proxy.anonymous_rates import rates_for
from s3proxy.auth.dispatch import PRESIGNED_V2_PARAMS, PRESIGNED_V4_PARAMS
from s3proxy.auth.sigv2 import VerifiedSigV2
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.config.models import ServerLimits
from s3proxy.cors_requests import UNSIGNED_LOOKUPS, UNSIGNED_WAIT
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import Grant, Grants, copy_source_name
from s3proxy.handlers import HANDLERS
from s3proxy.handlers.context import RequestContext
from s3proxy.header_policy import check_request_headers
from s3proxy.limits import CURRENT_TENANT, Gate, TenantRates, declared_bytes
from s3proxy.name_claims import Claim, claim, holders
from s3proxy.operations import Operation, is_form_upload, refusal
from s3proxy.owner import check_expected_owner
from s3proxy.request import S3Request
from s3proxy.responses import S3Response

if TYPE_CHECKING:
    from s3proxy.backends.bucket_settings import BucketSettings
    from s3proxy.backends.mapped import MappedStorage
    from s3proxy.body import TimedReceive
    from s3proxy.gateway import Runtime

READS = frozenset(
    {
        Operation.GetObject,
        Operation.HeadObject,
        Operation.ListObjects,
        Operation.ListObjectsV2,
        Operation.ListObjectVersions,
        Operation.ListMultipartUploads,
        Operation.HeadBucket,
    }
)
"""What a bucket's READ grant allows: S3 maps it to s3:ListBucket (which HeadBucket needs
too), s3:ListBucketVersions and s3:ListBucketMultipartUploads, plus GetObject on its objects."""
WRITES = frozenset({Operation.PutObject, Operation.DeleteObject, Operation.DeleteObjects})
"""What S3's WRITE grant (s3:PutObject, s3:DeleteObject) lets everyone do in a
``public-read-write`` bucket that the gateway carries out anonymously: run as the owner's own
PutObject/DeleteObject/DeleteObjects, so the owner's quota and records change exactly as for
the owner. DeleteObject was 403 AccessDenied before wave 13 C2, DeleteObjects before wave 14
C. A delete naming a version (s3:DeleteObjectVersion, which WRITE grants only the bucket
owner) is 403, or for a DeleteObjects entry that entry's AccessDenied (:data:`DELETES`), and
one bypassing retention is 403 (:func:`_needs_more`)."""
DELETES = Grants((Grant.build(["delete", "read"], ["*"], None),), versions=False)
"""An anonymous DeleteObjects' grants: s3:DeleteObject on every key of the bucket its
``public-read-write`` ACL opened, never a version's delete (S3 judges each entry: a
``VersionId`` entry is answered AccessDenied and kept). And read, which an entry's ``<ETag>``
needs (S3's conditional delete needs s3:GetObject): here that bucket's objects are everyone's
to read (:data:`READS`), as an anonymous DeleteObject with ``If-Match`` is carried out there;
before wave 15 R2 every anonymous entry with an ``<ETag>`` was AccessDenied."""
NO_DELETES = Grants(())
"""An anonymous DeleteObjects' grants in a ``public-read`` bucket: S3's 200 naming AccessDenied
for every key (S3 judges each entry; a whole-request 403 before wave 14 C), as for another
tenant's there (:mod:`s3proxy.granted_reads`); the bucket is everyone's to list, so the answer
tells nothing new. A private bucket still answers 403 before any body is read."""
UNSERVED_WRITES = frozenset(
    {
        Operation.CopyObject,
        Operation.CreateMultipartUpload,
        Operation.UploadPart,
        Operation.UploadPartCopy,
        Operation.CompleteMultipartUpload,
    }
)
"""What S3's WRITE grant (s3:PutObject) also lets everyone do in a ``public-read-write``
bucket, and the gateway does not carry out anonymously: 501 NotImplemented there (403
AccessDenied before wave 13, as if S3 forbade them), 403 everywhere else. A copy would read
its source under a second bucket's grant and write under the first's; an upload's parts would
be taken from anyone into the owner's uploads (whose UploadIds the anonymous uploads listing
shows). A plain PUT is the way in. A copy whose source everyone may not read is 403, as on
S3."""
OBJECT_READS = frozenset({Operation.GetObject, Operation.HeadObject})
"""What an object's own public-read grants (s3proxy.object_acl)."""
COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
PUBLIC_OBJECT = frozenset({"public-read"})
"""The object ACL that grants anonymous reads (never authenticated-read: that needs a
signature, s3proxy.granted_reads)."""
POOL = "(anonymous)"
"""The CURRENT_TENANT of anonymous requests while their bucket's owner is looked for; then
``POOL + ":" + owner``: each owner's anonymous readers' own upstream connection pool."""
_GATES: dict[str, tuple[Gate, Gate]] = {}
"""Owner tenant → its anonymous requests' slots in this process (one pair per tenant that
owns a bucket asked for): all requests, and expensive operations (:mod:`s3proxy.expensive`)."""
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_PRESIGN_PARAMS = PRESIGNED_V4_PARAMS + PRESIGNED_V2_PARAMS


def is_anonymous(request: S3Request) -> bool:
    """No credentials in any form authentication knows (s3proxy.auth.dispatch)."""
    if "authorization" in request.header_map:
        return False
    query = request.query
    return not query or not any(name in query for name in _PRESIGN_PARAMS)


def _denied() -> S3Error:
    return S3Error(S3ErrorCode.AccessDenied)


def gates_for(owner: str, limits: ServerLimits) -> tuple[Gate, Gate]:
    """The slots of anonymous requests for ``owner``'s buckets, sized as one tenant's by
    default (``server.limits``): requests (``max_concurrent_requests``), and of those the
    expensive operations, listings above all (``max_concurrent_expensive``). Without the
    second, anonymous listings merging every shard were bounded only by the request slots."""
    gates = _GATES.get(owner)
    if gates is None:
        name = f"{POOL}:{owner}"
        gates = _GATES[owner] = (
            Gate(limits.max_concurrent_requests, name),
            Gate(limits.max_concurrent_expensive, name, "max_concurrent_expensive", patient=True),
        )
    gates[0].limit = limits.max_concurrent_requests
    gates[1].limit = limits.max_concurrent_expensive
    return gates


def granted(acl: str | None, operation: Operation) -> bool:
    """Whether a bucket's ACL grants everyone ``operation``."""
    if acl not in PUBLIC:
        return False
    return operation in READS or (acl == "public-read-write" and operation in WRITES)


def _sets_acl_or_tags(request: S3Request) -> bool:
    """A bucket ACL's WRITE grants s3:PutObject only: a PutObject that also sets the object's
    ACL or tags needs s3:PutObjectAcl / s3:PutObjectTagging, which no ACL grants everyone.
    Without this an anonymous writer's ``x-amz-acl: public-read`` object would stay public
    after the owner made the bucket private."""
    return any(
        name == "x-amz-acl" or name == "x-amz-tagging" or name.startswith("x-amz-grant-")
        for name in request.header_map
    )


def _needs_more(request: S3Request, operation: Operation) -> bool:
    """A DeleteObject(s) that S3 would judge by more than s3:DeleteObject: ``versionId``
    (s3:DeleteObjectVersion) or ``x-amz-bypass-governance-retention``
    (s3:BypassGovernanceRetention). No ACL grants those to everyone."""
    bypass = "x-amz-bypass-governance-retention" in request.header_map
    if operation is Operation.DeleteObjects:
        return bypass  # a version named in the body is refused entry by entry (DELETES)
    return operation is Operation.DeleteObject and ("versionId" in request.query or bypass)


def _payload_hash(request: S3Request) -> str:
    """What stands in for the signed payload hash: a literal SHA-256 the client sent is still
    verified against the body; aws-chunked framing needs a signature to mean anything."""
    value = request.header("x-amz-content-sha256")
    if value is None or value == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    if _SHA256_RE.fullmatch(value):
        return value.lower()
    raise S3Error(
        S3ErrorCode.NotImplemented,
        "Anonymous uploads take a plain body (no aws-chunked framing).",
        Header="x-amz-content-sha256",
    )


async def serve(
    request: S3Request,
    operation: Operation,
    runtime: Runtime,
    receive: TimedReceive,
    entry: dict[str, Any],
    request_id: str,
) -> tuple[S3Response, Gate]:
    """Serve an anonymous request an ACL grants, or raise 403 AccessDenied. The returned gate
    is held until the response is sent (the caller leaves it)."""
    entry["auth"] = "anonymous"
    if operation is Operation.Unsupported and is_form_upload(request):
        # A browser form carries its credentials (policy and signature) in the body, where
        # is_anonymous does not look: not an anonymous request, and never served. The same
        # answer for every bucket, so it says nothing about which exist.
        raise refusal(request, operation)
    server = runtime.settings.server
    bucket = request.bucket
    if (
        not server.allow_public_acls
        or bucket is None
        or (operation not in READS and operation not in WRITES and operation not in UNSERVED_WRITES)
        or (operation not in READS and _sets_acl_or_tags(request))
        or _needs_more(request, operation)
    ):
        raise _denied()
    CURRENT_TENANT.set(POOL)
    storages: Mapping[str, Any] = runtime.storages
    if any(bucket in s.tenant.buckets for s in storages.values()):
        found = await holders(bucket, storages.values())
        resolved = None
        if found:  # a mapped private bucket too is refused before the owner's slots (503)
            known = found[0].buckets.settings.cached(bucket)
            if known is not None:  # its readers never wait for the shared look-up slots
                private = _settings_grant_nothing(known, operation)
            else:
                await UNSIGNED_LOOKUPS.enter(UNSIGNED_WAIT)
                try:
                    private = await _grants_nothing(found[0], bucket, operation)
                finally:
                    UNSIGNED_LOOKUPS.leave()
            if private:
                raise _denied()
    else:  # look-ups upstream: bounded per process, as the CORS preflight's are
        await UNSIGNED_LOOKUPS.enter(UNSIGNED_WAIT)
        try:
            found = await holders(bucket, storages.values())
            # A name several tenants have: its claims are read here, before any owner's slot.
            resolved = await _claim(request, operation, found) if len(found) > 1 else None
            if len(found) == 1 and await _grants_nothing(found[0], bucket, operation):
                raise _denied()
        finally:
            UNSIGNED_LOOKUPS.leave()
        if len(found) > 1 and resolved is None:
            raise _denied()
    if not found:
        raise _denied()
    storage = resolved.storage if resolved is not None else found[0]
    owner = storage.tenant.name
    CURRENT_TENANT.set(f"{POOL}:{owner}")
    rates = rates_for(owner, f"{POOL}:{owner}", runtime.settings)
    gate, costly = gates_for(owner, server.limits)
    await gate.enter(server.limits.max_wait)
    expensive.CURRENT.set((costly, server.limits.max_wait))
    try:
        response = await _handle(
            request,
            operation,
            runtime,
            resolved or await _claim(request, operation, [storage]),
            receive,
            entry,
            request_id,
            rates,
        )
    except BaseException:
        gate.leave()
        raise
    return response, gate


async def _grants_nothing(storage: MappedStorage, bucket: str, operation: Operation) -> bool:
    """Whether ``storage``'s ``bucket`` grants this request nothing, known from its settings
    alone (cached, or its empty marker: no upstream request but a first settings read): no
    public ACL, and no object ACL ever set in it where one could grant. Such a request is
    refused before it waits for one of the owner's anonymous slots, as a name nobody has is:
    waiting there, it got 503 SlowDown while the owner's slots were full (readers of its
    public objects, or anyone reading one slowly) where a missing bucket got 403, and so told
    anyone who tried names the owner's private bucket names (wave 18 C). What :func:`_claim`
    would decide, less the object ACL reads, which stay within the owner's slot."""
    try:
        settings = await storage.buckets.settings.get(bucket)
    except S3Error:  # deleted meanwhile, or unreadable: the claim grants nothing either
        return True
    return _settings_grant_nothing(settings, operation)


def _settings_grant_nothing(settings: BucketSettings, operation: Operation) -> bool:
    """:func:`_grants_nothing`'s answer from settings at hand."""
    if settings.acl in PUBLIC:
        return False
    return operation not in OBJECT_READS or not settings.other.get(object_acl.FLAG)


async def _readable_source(request: S3Request, runtime: Runtime) -> bool:
    """Whether the copy source (``x-amz-copy-source``) is readable by everyone: only then
    would S3 carry out an anonymous copy (so only then is it 501 here, not 403)."""
    bucket, key = copy_source_name(request.header("x-amz-copy-source") or "")
    if not bucket or not key:
        return False
    found = await holders(bucket, runtime.storages.values())
    return await claim(bucket, key, found, PUBLIC, PUBLIC_OBJECT) is not None


async def _claim(
    request: S3Request, operation: Operation, found: list[MappedStorage]
) -> Claim | None:
    """What grants this request among the buckets ``found`` of its name: a public bucket, or
    for GetObject/HeadObject a public-read object (:func:`s3proxy.name_claims.claim`)."""
    bucket = request.bucket
    assert bucket is not None
    key = request.key if operation in OBJECT_READS else None
    return await claim(bucket, key, found, PUBLIC, PUBLIC_OBJECT)


async def _handle(
    request: S3Request,
    operation: Operation,
    runtime: Runtime,
    found: Claim | None,
    receive: TimedReceive,
    entry: dict[str, Any],
    request_id: str,
    rates: TenantRates | None,
) -> S3Response:
    if found is None:  # nothing public, or deleted meanwhile, or an invalid name
        raise _denied()
    if operation in WRITES and found.record is None:
        found = await _as_stored(found, request.bucket or "")
    storage, record = found.storage, found.record
    deletes = None  # a DeleteObjects' grants, judged key by key (:data:`DELETES`)
    if operation is Operation.DeleteObjects:
        deletes = DELETES if granted(found.settings.acl, operation) else NO_DELETES
    if record is None and not granted(found.settings.acl, operation) and deletes is None:
        if found.settings.acl == "public-read-write" and operation in UNSERVED_WRITES:
            if operation in COPIES and not await _readable_source(request, runtime):
                raise _denied()  # S3's answer too: the source is not everyone's to read
            raise S3Error(
                S3ErrorCode.NotImplemented,
                "Anonymous copies and multipart uploads are not implemented: send a plain PUT.",
            )
        raise _denied()  # e.g. a PUT into a public-read bucket
    if any(name.startswith("response-") for name in request.query):
        # S3's rule: overriding response headers (Content-Type …) needs a signature, so an
        # anonymous link cannot make a public object render as something else.
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests.",
        )
    tenant = storage.tenant.name
    entry["tenant"] = tenant
    server = runtime.settings.server
    owner = runtime.owners[tenant].unnamed()  # listings show no tenant name to anyone
    check_expected_owner(request, operation, owner.id)
    check_request_headers(request, operation, ignore_unknown=server.ignore_unknown_headers)
    if rates is not None:  # the owner's rates, once granted (a refusal spends no token, so
        # unsigned probes of a private bucket neither drain them nor tell it from a missing
        # one: wave 17 R2) and before any body byte
        declared = declared_bytes(
            request.method, request.header("content-length"), request.header("range")
        )
        receive.meter = await rates.wait_admitted(server.limits.max_wait, operation, declared)
    context = RequestContext(
        request=request,
        operation=operation,
        tenant=tenant,
        auth=VerifiedSigV2(access_key="", payload_hash=_payload_hash(request)),
        owner=owner,
        storage=storage,
        receive=receive,
        request_id=request_id,
        server=server,
        grants=deletes,
    )
    response = await HANDLERS[operation](context)
    if record is not None and not record.matches(
        header(response, "etag"), header(response, "last-modified")
    ):  # replaced since the HEAD: this object's grant is not the one checked
        if response.close is not None:
            await response.close()
        raise _denied()
    return without_tag_count(response)


async def _as_stored(found: Claim, bucket: str) -> Claim:
    """``found`` judged by its bucket's ACL as stored now: a write or delete is granted by
    the ACL the owner has, never by one another replica cached (up to
    ``server.bucket_cache_seconds`` old; a bucket made private through another replica took
    anonymous PUTs and DELETEs for that long before wave 15). One record read per write."""
    try:
        settings = await found.storage.buckets.settings.stored(bucket)
    except S3Error:  # deleted meanwhile, or unreadable: nothing granted
        raise _denied() from None
    if settings.acl not in PUBLIC:  # private now: not even DeleteObjects' 200 (NO_DELETES)
        raise _denied()
    if settings.public_since != found.settings.public_since:
        raise _denied()  # made private and public again since: ranked as a new claim
    return Claim(found.storage, settings, None)


def header(response: S3Response, name: str) -> str | None:
    return next((v for n, v in response.headers if n.lower() == name), None)


def without_tag_count(response: S3Response) -> S3Response:
    """``response`` to a reader who is not the owner (anonymous, or another tenant:
    :mod:`s3proxy.granted_reads`) without ``x-amz-tagging-count``: S3 answers an object's
    tag count only to a caller allowed to read its tags (s3:GetObjectTagging), which no ACL
    grant gives, and such a reader's GetObjectTagging is refused here too. Before wave 15 a
    GET or HEAD told it how many tags the object has."""
    if any(name.lower() == "x-amz-tagging-count" for name, _ in response.headers):
        response.headers = [h for h in response.headers if h[0].lower() != "x-amz-tagging-count"]
    return response
