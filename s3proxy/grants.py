"""Scoped keys: what one access key may do inside its tenant (``keys[].allow``).

A key without ``allow`` may do everything its tenant owns and costs nothing here: the gateway
keeps :class:`Grants` only for keys that carry ``allow``. A key with ``allow`` is checked once,
right after authentication and before any body is read or any upstream request is made, against
the one table :data:`NEEDS` that names the action every served operation needs.

Globs know two wildcards, as IAM resource patterns do: ``*`` (any run of characters, '/'
included) and ``?`` (one character); every other character is literal. A bucket glob matches
the whole bucket name. A prefix glob matches the start of a key: ``reports/`` admits
``reports/2024.csv``, ``users/*/public/`` admits ``users/bob/public/a.png``. A listing (or
ListMultipartUploads) is allowed only when its ``prefix`` is itself inside a prefix glob, so
that every key it can show is inside the grant; a list without a prefix needs a grant without
``prefixes``. This is how an IAM policy with an ``s3:prefix`` condition answers, and it never
has to filter (and so never has to page around) the listing.

Two deliberate exceptions to "one action per operation", both about naming buckets only:
ListBuckets is open to every key and shows only the buckets some grant of the key names; the
bucket probes (HeadBucket, GetBucketLocation, GetBucketVersioning) need any grant on the
bucket, so an upload-only key can still check that its bucket exists.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.request import S3Request, decode_component


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    LIST = "list"
    ADMIN = "admin"


class Scope(enum.Enum):
    """What of the request a grant is matched against."""

    SERVICE = "service"
    """Nothing: always allowed, the answer is filtered (ListBuckets)."""
    BUCKET = "bucket"
    """The bucket name."""
    OBJECT = "object"
    """The bucket and the object key."""
    LISTING = "listing"
    """The bucket and the ``prefix`` parameter."""


@dataclass(frozen=True, slots=True)
class Need:
    action: Action | None
    """None: any action on the bucket will do."""
    scope: Scope


_O = Operation
NEEDS: dict[Operation, Need] = {
    _O.ListBuckets: Need(None, Scope.SERVICE),
    _O.HeadBucket: Need(None, Scope.BUCKET),
    _O.GetBucketLocation: Need(None, Scope.BUCKET),
    _O.GetBucketVersioning: Need(None, Scope.BUCKET),
    _O.CreateBucket: Need(Action.ADMIN, Scope.BUCKET),
    _O.DeleteBucket: Need(Action.ADMIN, Scope.BUCKET),
    _O.PutBucketVersioning: Need(Action.ADMIN, Scope.BUCKET),
    # Bucket settings (s3proxy.handlers.bucket_settings): reading them is administration too.
    _O.PutBucketCors: Need(Action.ADMIN, Scope.BUCKET),
    _O.GetBucketCors: Need(Action.ADMIN, Scope.BUCKET),
    _O.DeleteBucketCors: Need(Action.ADMIN, Scope.BUCKET),
    _O.PutBucketTagging: Need(Action.ADMIN, Scope.BUCKET),
    _O.GetBucketTagging: Need(Action.ADMIN, Scope.BUCKET),
    _O.DeleteBucketTagging: Need(Action.ADMIN, Scope.BUCKET),
    _O.PutBucketAcl: Need(Action.ADMIN, Scope.BUCKET),  # s3proxy.handlers.acl
    _O.GetBucketAcl: Need(Action.ADMIN, Scope.BUCKET),
    _O.GetObjectLockConfiguration: Need(Action.ADMIN, Scope.BUCKET),  # handlers.lock_ownership
    _O.PutObjectLockConfiguration: Need(Action.ADMIN, Scope.BUCKET),
    _O.GetBucketOwnershipControls: Need(Action.ADMIN, Scope.BUCKET),
    _O.PutBucketOwnershipControls: Need(Action.ADMIN, Scope.BUCKET),
    _O.DeleteBucketOwnershipControls: Need(Action.ADMIN, Scope.BUCKET),
    _O.GetBucketDefaultStorageClass: Need(Action.ADMIN, Scope.BUCKET),  # default_storage_class
    _O.PutBucketDefaultStorageClass: Need(Action.ADMIN, Scope.BUCKET),
    _O.ListObjects: Need(Action.LIST, Scope.LISTING),
    _O.ListObjectsV2: Need(Action.LIST, Scope.LISTING),
    _O.ListObjectVersions: Need(Action.LIST, Scope.LISTING),
    _O.ListMultipartUploads: Need(Action.LIST, Scope.LISTING),
    # Each entry is checked again by the handler (per-entry AccessDenied in the result); the
    # request itself needs delete somewhere in the bucket, so a key that can delete nothing
    # there is refused before its body is read.
    _O.DeleteObjects: Need(Action.DELETE, Scope.BUCKET),
    _O.GetObject: Need(Action.READ, Scope.OBJECT),
    _O.HeadObject: Need(Action.READ, Scope.OBJECT),
    _O.GetObjectAttributes: Need(Action.READ, Scope.OBJECT),
    _O.PutObject: Need(Action.WRITE, Scope.OBJECT),
    # Copies: the destination here; the source needs READ (checked where it is parsed).
    _O.CopyObject: Need(Action.WRITE, Scope.OBJECT),
    _O.UploadPartCopy: Need(Action.WRITE, Scope.OBJECT),
    _O.DeleteObject: Need(Action.DELETE, Scope.OBJECT),
    _O.GetObjectTagging: Need(Action.READ, Scope.OBJECT),
    _O.PutObjectTagging: Need(Action.WRITE, Scope.OBJECT),
    _O.DeleteObjectTagging: Need(Action.WRITE, Scope.OBJECT),
    _O.GetObjectAcl: Need(Action.READ, Scope.OBJECT),
    _O.PutObjectAcl: Need(Action.WRITE, Scope.OBJECT),
    _O.GetObjectRetention: Need(Action.READ, Scope.OBJECT),
    _O.PutObjectRetention: Need(Action.WRITE, Scope.OBJECT),
    _O.GetObjectLegalHold: Need(Action.READ, Scope.OBJECT),
    _O.PutObjectLegalHold: Need(Action.WRITE, Scope.OBJECT),
    _O.CreateMultipartUpload: Need(Action.WRITE, Scope.OBJECT),
    _O.UploadPart: Need(Action.WRITE, Scope.OBJECT),
    _O.CompleteMultipartUpload: Need(Action.WRITE, Scope.OBJECT),
    _O.AbortMultipartUpload: Need(Action.WRITE, Scope.OBJECT),
    _O.ListParts: Need(Action.WRITE, Scope.OBJECT),
}
del _O

ALSO_NEEDS: dict[Operation, Action] = {Operation.PutObjectAcl: Action.READ}
"""A second action some operations need on the same key. PutObjectAcl decides who may read
the object: with write alone, a key could make an object it may not read public-read and fetch
it anonymously (or grant its bytes to another tenant), so it needs read there too."""


def _piece(text: str) -> re.Pattern[str]:
    """A glob piece without ``*``: fixed length, ``?`` any one character, the rest literal."""
    return re.compile(".".join(re.escape(part) for part in text.split("?")), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Glob:
    """A ``*``/``?`` glob, matched without backtracking over ``*``.

    The glob is cut at its stars into fixed-length pieces: the first must match at the start,
    the last at the end, the ones between at their leftmost place after the previous one
    (leftmost is never worse). So a key of n characters costs O(n × glob length) whatever the
    glob, where a translated regular expression can take O(n^stars) on a key that
    nearly matches: keys are the client's, and must not be able to stall a worker.
    """

    pieces: tuple[re.Pattern[str], ...]
    lengths: tuple[int, ...]

    @classmethod
    def parse(cls, pattern: str) -> Glob:
        parts = pattern.split("*")
        return cls(tuple(_piece(p) for p in parts), tuple(len(p) for p in parts))

    def fullmatch(self, text: str) -> bool:
        pieces, lengths = self.pieces, self.lengths
        if len(pieces) == 1:
            return pieces[0].fullmatch(text) is not None
        tail = len(text) - lengths[-1]
        if tail < lengths[0] or pieces[0].match(text) is None:
            return False
        position = lengths[0]
        for piece in pieces[1:-1]:
            found = piece.search(text, position, tail)
            if found is None:
                return False
            position = found.end()
        return pieces[-1].match(text, tail) is not None


@dataclass(frozen=True, slots=True)
class Grant:
    actions: frozenset[Action]
    buckets: tuple[Glob, ...]
    """Matched against the whole bucket name."""
    prefixes: tuple[Glob, ...] | None
    """Matched against the start of a key (each glob with a ``*`` appended); None: every key."""

    @classmethod
    def build(
        cls, actions: Iterable[str], buckets: Iterable[str], prefixes: Iterable[str] | None
    ) -> Grant:
        return cls(
            actions=frozenset(Action(a) for a in actions),
            buckets=tuple(Glob.parse(b) for b in buckets),
            prefixes=None if prefixes is None else tuple(Glob.parse(p + "*") for p in prefixes),
        )

    def names(self, bucket: str) -> bool:
        return any(glob.fullmatch(bucket) for glob in self.buckets)

    def admits(self, key: str) -> bool:
        """Whether ``key`` (or every key starting with it, for a listing prefix) is inside."""
        return self.prefixes is None or any(glob.fullmatch(key) for glob in self.prefixes)


@dataclass(frozen=True, slots=True)
class Grants:
    """The grants of one key: a request is allowed when one grant allows all of it."""

    grants: tuple[Grant, ...]
    versions: bool = True
    """Whether the deletes allowed may name a version (s3:DeleteObjectVersion): False for an
    anonymous DeleteObjects, whose bucket's WRITE grant gives everyone s3:DeleteObject only
    (:mod:`s3proxy.anonymous`); a scoped key's delete grant covers both."""

    def reaches(self, bucket: str) -> bool:
        """Whether any grant names ``bucket`` (ListBuckets shows it; bucket probes answer)."""
        return any(grant.names(bucket) for grant in self.grants)

    def allows(self, action: Action, bucket: str, key: str | None = None) -> bool:
        """``action`` on ``bucket``; with ``key``, on that key (or every key under that prefix).
        Without ``key``: anywhere in the bucket, for some prefix."""
        for grant in self.grants:  # a loop, not any(): this runs on every scoped request
            if (
                action in grant.actions
                and grant.names(bucket)
                and (key is None or grant.admits(key))
            ):
                return True
        return False

    def allow(self, operation: Operation, bucket: str | None, key: str | None) -> bool:
        """The pure decision: may this key perform ``operation`` on ``bucket`` and ``key`` (for
        a listing, ``key`` is its prefix)? Operations missing from :data:`NEEDS` are refused."""
        need = NEEDS.get(operation)
        if need is None:
            return False
        if need.scope is Scope.SERVICE:
            return True
        if bucket is None:
            return False
        if need.action is None:
            return self.reaches(bucket)
        if need.scope is Scope.BUCKET:
            return self.allows(need.action, bucket)
        also = ALSO_NEEDS.get(operation)
        if also is not None and not self.allows(also, bucket, key or ""):
            return False
        return self.allows(need.action, bucket, key or "")


def denied(action: Action | str, resource: str) -> S3Error:
    """403 AccessDenied naming what the key may not do (the caller's own request, no secret)."""
    name = action.value if isinstance(action, Action) else action
    return S3Error(
        S3ErrorCode.AccessDenied,
        f"Access Denied: this key's grants do not allow {name} on {resource}.",
    )


COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
"""The operations that read a source named by ``x-amz-copy-source`` (READ there)."""


def copy_source_name(raw: str) -> tuple[str, str]:
    """The bucket and key ``x-amz-copy-source`` names (``/bucket/key`` or ``bucket/key``,
    URL-encoded, a literal ``+`` a space as S3 decodes it, any ``?versionId=`` cut off); either
    may be empty. Split at the first ``/`` sent, then decoded, as S3 reads it: an encoded
    ``%2F`` in the bucket part stays in the bucket name (S3: "Invalid copy source bucket name";
    decoded first, ``buck%2Fet/key`` copied key ``et/key`` of bucket ``buck``). Invalid escapes
    are InvalidURI."""
    bucket, _, key = raw.partition("?")[0].lstrip("/").partition("/")
    return decode_component(bucket.replace("+", "%20")), decode_component(key.replace("+", "%20"))


def source_denied(grants: Grants, bucket: str, key: str) -> S3Error | None:
    """The refusal of a copy source ``bucket``/``key`` outside the key's READ grants."""
    if grants.allows(Action.READ, bucket, key):
        return None
    return denied(Action.READ, f"the copy source {bucket}/{key}")


def _check_copy_source(grants: Grants, request: S3Request) -> None:
    """A copy's source is refused here with the request, before any header check, body or
    upstream request: an ACL header's bucket read or its 501 came first before wave 15 (S3
    judges access before the request's validity). A header that names no source, an ARN,
    or fails to decode is left to the handler's own refusal."""
    raw = request.header("x-amz-copy-source")
    if not raw:
        return
    try:
        bucket, key = copy_source_name(raw)
    except S3Error:
        return
    if bucket and key and not bucket.startswith("arn:"):
        error = source_denied(grants, bucket, key)
        if error is not None:
            raise error


def check_request(grants: Grants, request: S3Request, operation: Operation) -> None:
    """Refuse with 403 AccessDenied a request outside the key's grants, a copy's source
    included (DeleteObjects entries are checked by their handler, where they are parsed)."""
    if operation in COPIES:
        _check_copy_source(grants, request)
    need = NEEDS.get(operation)
    listing = need is not None and need.scope is Scope.LISTING
    key = request.query.get("prefix", "") if listing else request.key
    if grants.allow(operation, request.bucket, key):
        return
    action: Action | str = "any action"
    if need is not None and need.action is not None:
        action = need.action
        also = ALSO_NEEDS.get(operation)
        bucket = request.bucket
        if also is not None and bucket is not None and not grants.allows(also, bucket, key or ""):
            action = also
    resource = request.bucket or "this server"
    if listing:
        resource = f"{resource} with prefix '{key}'"
    elif need is not None and need.scope is Scope.OBJECT:
        resource = f"{resource}/{key}"
    raise denied(action, resource)
