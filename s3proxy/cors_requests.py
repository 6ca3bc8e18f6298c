"""CORS on the wire: the unsigned OPTIONS preflight, and the headers of matching responses.

https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html. A preflight carries no
signature, so the bucket's tenant is found without one: the access key a presigned URL names in
its query (the browser sends the preflight to the very URL it will use), else the one tenant that
maps or has created the bucket; of several that have created it, the one anonymous reads of that
path go to (:mod:`s3proxy.name_claims`: the grant public longest), so a bucket created under a
public bucket's name does not take its browser readers' CORS away (wave 13). A name no public
grant decides (two private buckets) is refused as a bucket without CORS is (use presigned URLs
there). The answer never says whether a bucket exists: no bucket, no rule and no match all get
the same 403.

A preflight for a header-signed request (``authorization`` among its
``Access-Control-Request-Headers``) is not for an anonymous read: its request goes to the
signer's own bucket, and the preflight carries no key to tell whose. Of several buckets of the
name, the one created first answers (:func:`s3proxy.name_claims.first_created`; none when that
cannot be told: 403 as for rules that do not match). Before wave 18 K the public one answered
and two private ones were refused: any tenant broke another's header-signed browser clients by
creating a bucket of its name, and a public one's rules admitted origins the first never allowed.

Finding the tenant without a key asks only the homes whose bucket names, listed once per cache
lifetime (:mod:`s3proxy.bucket_index`), may include the bucket, and "no" is remembered like "yes"
is (same lifetime and generation, :mod:`s3proxy.backends.bucket_cache`), so unsigned requests for
made-up names cost no upstream request per tenant each. Listing the homes is still work, so these
lookups share a few slots of their own per process (:data:`UNSIGNED_LOOKUPS`): a flood of
unsigned requests waits for them and then gets 503 SlowDown, and can neither queue more upstream
requests than that nor take any tenant's request slots or upstream connections.

A request without ``Origin`` never reaches this module (the app checks the header first), and a
bucket without settings is known from the existence check it already made: neither pays anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from s3proxy.acl import PUBLIC
from s3proxy.backends.mapped import MappedStorage
from s3proxy.cors import (
    METHODS,
    actual_rule,
    preflight_headers,
    preflight_rule,
    requested_headers,
)
from s3proxy.cors import response_headers as cors_response_headers
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import Gate
from s3proxy.request import S3Request
from s3proxy.responses import S3Response

log = logging.getLogger("s3proxy")

NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 5.6.2 tchar)."""
MAX_ABSENT = 4096
_absent: dict[tuple[str, str], tuple[float, int]] = {}
"""(tenant, bucket) → cache entry of a "no such bucket" answer."""
UNSIGNED_LOOKUPS = Gate(4, "(unsigned)")
"""Slots for finding a bucket's tenant without a key (existence checks in every tenant's home)."""
UNSIGNED_WAIT = 1.0
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _access_key(request: S3Request) -> str | None:
    """The access key the request names (a presigned URL's query, or the ``Authorization``
    header of an actual request refused before its signature was accepted); "" for a header
    this cannot read (no tenant then, never one guessed from the bucket name)."""
    credential = request.query.get("X-Amz-Credential")
    if credential is not None:
        return credential.split("/", 1)[0]
    key = request.query.get("AWSAccessKeyId")
    authorization = request.header("authorization")
    if key is not None or authorization is None:
        return key
    if authorization.startswith("AWS "):
        return authorization[4:].split(":", 1)[0].strip()
    found = _CREDENTIAL.search(authorization)
    return found.group(1) if found else ""


def _header_signed(request: S3Request) -> bool:
    """Whether the preflight is for a request signed in its ``Authorization`` header: a browser
    lists that header in ``Access-Control-Request-Headers``, but sends no key with it."""
    return "authorization" in requested_headers(request.header("access-control-request-headers"))


async def _owner(
    request: S3Request,
    storages: Mapping[str, MappedStorage],
    keys: Mapping[str, tuple[str, str]],
) -> MappedStorage | None:
    """The storage of the tenant whose bucket the preflight names, if exactly one is known."""
    bucket = request.bucket
    assert bucket is not None
    access_key = _access_key(request)
    if access_key is not None:
        entry = keys.get(access_key)
        storage = storages.get(entry[0]) if entry is not None else None
        if storage is None:
            return None
        return storage if await has_bucket(storage, bucket) else None
    signed = _header_signed(request)
    if not any(bucket in s.tenant.buckets for s in storages.values()):
        await UNSIGNED_LOOKUPS.enter(UNSIGNED_WAIT)  # lookups upstream: bounded per process
        try:
            return await _claimed(request, bucket, storages, signed)
        finally:
            UNSIGNED_LOOKUPS.leave()
    return await _claimed(request, bucket, storages, signed)


async def _claimed(
    request: S3Request,
    bucket: str,
    storages: Mapping[str, MappedStorage],
    signed: bool = False,
) -> MappedStorage | None:
    """The one tenant that has ``bucket`` or, of several, the one whose public grant of it (for
    this path) has stood longest, or for the preflight of a header-signed request (``signed``)
    the one that created it first; None when none does."""
    # Imported here: both modules import this one (has_bucket, the unsigned look-up slots).
    from s3proxy.anonymous import PUBLIC_OBJECT
    from s3proxy.name_claims import claim, first_created, holders

    found = await holders(bucket, storages.values())
    if len(found) <= 1 and found.listed_before is None:
        return found[0] if found else None
    if signed:
        # Its request goes to its signer's bucket, unknown here: the first bucket of the name
        # answers, never a later one, whatever its ACL (wave 18 K: a public one took them).
        return await first_created(bucket, found, storages.values())
    # With a home left out by its last names, one holder's grant is checked against them too
    # (503 SlowDown when it is younger, s3proxy.name_claims); a private one keeps its rules.
    granted = await claim(bucket, request.key, found, PUBLIC, PUBLIC_OBJECT)
    if granted is None and len(found) == 1:
        return found[0]
    return granted.storage if granted is not None else None


async def has_bucket(storage: MappedStorage, bucket: str) -> bool:
    """Whether ``storage``'s tenant has created ``bucket``; an absence is cached per process
    (the bucket cache's generation), so made-up names do not turn into upstream requests.

    A check the upstream fails (503, a timeout) is raised, never taken as an absence: a name
    two tenants have goes to the grant public longest, and one failed HEAD of the first
    owner's marker handed its readers the other tenant's bucket for a cache lifetime (until
    wave 17 R2)."""
    key = (storage.tenant.name, bucket)
    cache = storage.buckets.cache  # the tenant's generation: its own creations invalidate
    if cache.trusted(_absent.get(key)):
        return False
    generation = cache.generation.current()
    try:
        if await storage.buckets.exists(bucket):
            return True
    except S3Error as error:
        if error.code is not S3ErrorCode.AccessDenied:  # not an answer: never an absence
            raise
        # someone else's mapped bucket: not this tenant's
    entry = cache.entry(generation)
    if entry is not None:
        if len(_absent) >= MAX_ABSENT:
            _absent.clear()
        _absent[key] = entry
    return False


def _forbidden(request: S3Request, method: str, message: str | None = None) -> S3Error:
    target = "OBJECT" if request.key is not None else "BUCKET"
    return S3Error(S3ErrorCode.AccessForbidden, message, Method=method, ResourceType=target)


def _check_preflight(method: str, requested: str | None) -> None:
    """S3's 400 for a preflight no rule could ever allow: a method outside the five a rule may
    name (case-sensitive: ``get`` too), or a requested header name that is not an HTTP token
    (RFC 9110 5.6.2). Checked before any bucket is looked up, so the answer still says nothing
    of the bucket (versitygw's PreflightOPTIONS_invalid_request_method and _headers)."""
    if method not in METHODS:
        raise S3Error(S3ErrorCode.BadRequest, f"Invalid Access-Control-Request-Method: {method}")
    for name in (requested or "").split(","):
        name = name.strip(" \t")
        if name and not _TOKEN.fullmatch(name):
            raise S3Error(
                S3ErrorCode.BadRequest,
                f'Access-Control-Request-Headers "{name}" contains invalid character.',
            )


async def preflight(
    request: S3Request,
    storages: Mapping[str, MappedStorage],
    keys: Mapping[str, tuple[str, str]],
) -> S3Response:
    """Answer an OPTIONS request: 200 with the matching rule's headers, or S3's refusal."""
    origin = request.header("origin")
    if not origin:
        raise S3Error(S3ErrorCode.BadRequest)
    method = request.header("access-control-request-method")
    if not method:
        raise S3Error(S3ErrorCode.BadRequest, "Invalid Access-Control-Request-Method: null")
    requested = request.header("access-control-request-headers")
    _check_preflight(method, requested)
    if request.bucket is None:
        raise _forbidden(request, method, NOT_ENABLED)
    storage = await _owner(request, storages, keys)
    settings = await storage.buckets.settings.get(request.bucket) if storage else None
    if settings is None or settings.cors is None:
        raise _forbidden(request, method, NOT_ENABLED)
    headers = requested_headers(requested)
    rule = preflight_rule(settings.cors, origin, method, headers)
    if rule is None:
        raise _forbidden(request, method)
    return S3Response(headers=preflight_headers(rule, origin, headers))


async def add_response_headers(
    response: S3Response,
    request: S3Request,
    storages: Mapping[str, MappedStorage],
    keys: Mapping[str, tuple[str, str]],
    tenant: str | None,
) -> None:
    """Add the CORS headers of the rule a cross-origin request matches, if any, so that a page
    can read the answer — a refusal too (an expired presigned URL, a bad signature: ``tenant``
    None, found then as a preflight finds it). Never fails the request: a response already
    decided is not turned into an error by its CORS headers."""
    origin = request.header("origin")
    bucket = request.bucket
    if not origin or bucket is None:
        return
    try:
        storage = storages.get(tenant) if tenant else await _owner(request, storages, keys)
        if storage is None:
            return
        settings = await storage.buckets.settings.get(bucket)
    except S3Error:
        return
    except Exception:
        log.exception("reading CORS settings of a bucket failed")
        return
    if settings.cors is None:
        return
    rule = actual_rule(settings.cors, origin, request.method)
    if rule is not None:
        response.headers.extend(cors_response_headers(rule, origin))
