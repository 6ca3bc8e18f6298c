"""What S3 (as README describes the gateway's grants) would store and grant, for the wave 14 I
model-based fuzz (tests/unit/test_w14i_stateful.py, tests/integration/test_w14i_seaweed.py).

Two tenants, ``a`` and ``b``, each may create buckets of the same few names (bucket names are
per tenant); ``as`` is a scoped key of ``a``'s (read, list, write and delete in ``nm1`` under
``p/`` only); ``anon`` sends no credentials. :func:`access` says which bucket a party's request
reaches and what it may do there, or the exact refusal; where README leaves the answer to the
order of grants the clocks decide (an object's grant has whole seconds), every candidate is
accepted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

TENANTS = ("a", "b")
PARTIES = ("a", "as", "b", "anon")
NAMES = ("nm1", "nm2")
SCOPED_BUCKET = "nm1"
SCOPED_PREFIX = "p/"
PUBLIC = frozenset({"public-read", "public-read-write"})
GRANTING = PUBLIC | {"authenticated-read"}
OBJECT_PUBLIC = frozenset({"public-read"})
OBJECT_GRANTING = frozenset({"public-read", "authenticated-read"})
MIN_PART = 5 * 1024 * 1024

# Operation kinds, as README's grant tables sort them.
READ = "read"  # GetObject, HeadObject
LIST = "list"  # ListObjects(V2), ListMultipartUploads, HeadBucket
WRITE = "write"  # PutObject, copy destination, multipart
DELETE = "delete"  # DeleteObject
DELETE_MANY = "delete-many"  # DeleteObjects
ADMIN = "admin"  # bucket ACL, DeleteBucket; PutObjectAcl/GetObjectAcl are the owner's too
OBJECT_ACL = "object-acl"


@dataclass
class Obj:
    body: bytes
    acl: str = "private"
    granted_at: int = 0
    """The model's step at which its ACL began to grant (ranks object claims)."""
    completed_etag: str | None = None
    """A completed upload's ETag (MD5 of its parts' MD5s, and their count)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Its tags (wave 15 I: PutObjectTagging, ``x-amz-tagging``, copies with ``COPY``)."""

    @property
    def etag(self) -> str:
        return self.completed_etag or '"' + hashlib.md5(self.body).hexdigest() + '"'


@dataclass
class Upload:
    tenant: str
    name: str
    key: str
    upload_id: str
    acl: str
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    """Part number → (bytes, ETag as UploadPart answered it)."""


@dataclass
class Bucket:
    tenant: str
    name: str
    acl: str = "private"
    objects: dict[str, Obj] = field(default_factory=dict)
    public_since: int | None = None
    granted_since: int | None = None
    tags: dict[str, str] | None = None
    """PutBucketTagging's set (wave 15 I); None: GetBucketTagging is 404 NoSuchTagSet."""

    def set_acl(self, acl: str, step: int) -> None:
        """As bucket_settings.stamped keeps the times its ACL grants since."""
        if acl in PUBLIC and self.acl not in PUBLIC:
            self.public_since = step
        elif acl not in PUBLIC:
            self.public_since = None
        if acl in GRANTING and self.acl not in GRANTING:
            self.granted_since = step
        elif acl not in GRANTING:
            self.granted_since = None
        self.acl = acl


@dataclass(frozen=True)
class Refused:
    status: int
    code: str | None


NO_SUCH_BUCKET = Refused(404, "NoSuchBucket")
DENIED = Refused(403, "AccessDenied")


@dataclass(frozen=True)
class Reach:
    """The bucket a request reaches: ``own`` (the caller's tenant), else granted by the bucket's
    ACL (``by_object`` False) or by the object's own ACL."""

    bucket: Bucket
    own: bool
    by_object: bool = False


Outcome = Reach | Refused


@dataclass
class Model:
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    step: int = 0

    def tick(self) -> int:
        self.step += 1
        return self.step

    def bucket(self, tenant: str, name: str) -> Bucket | None:
        return self.buckets.get((tenant, name))

    def uploads_of(self, bucket: Bucket) -> list[Upload]:
        return [
            u for u in self.uploads.values() if (u.tenant, u.name) == (bucket.tenant, bucket.name)
        ]


def tenant_of(party: str) -> str | None:
    return None if party == "anon" else party[0]


def scoped_allows(kind: str, name: str | None, key_or_prefix: str | None) -> bool:
    """Whether ``as``'s grants admit the operation (README "Scoped keys")."""
    if kind in (ADMIN,):
        return False
    if name != SCOPED_BUCKET:
        return False
    if kind == LIST:
        return key_or_prefix is not None and key_or_prefix.startswith(SCOPED_PREFIX)
    if kind == DELETE_MANY:
        return True  # judged key by key
    return key_or_prefix is not None and key_or_prefix.startswith(SCOPED_PREFIX)


def access(model: Model, party: str, name: str, kind: str, key: str | None = None) -> list[Outcome]:
    """Every answer README allows for ``party``'s ``kind`` of request in bucket ``name``
    (``key``: the object of a read/write, or a listing's prefix); one, except where only the
    gateways' clocks would tell (then the caller accepts any of them)."""
    tenant = tenant_of(party)
    if party == "as" and not scoped_allows(kind, name, key):
        return [DENIED]
    if tenant is not None:
        own = model.bucket(tenant, name)
        if own is not None:
            return [Reach(own, True)]
        other = model.bucket("b" if tenant == "a" else "a", name)
        if other is None:
            return [NO_SUCH_BUCKET]
        if other.acl in GRANTING:
            if kind in (READ, LIST):
                return [Reach(other, False)]
            if kind == DELETE_MANY and other.acl != "public-read-write":
                return [Reach(other, False)]  # 200 naming AccessDenied for every key
            return [DENIED]
        named = kind not in (LIST, DELETE_MANY, ADMIN)  # ``key`` names an object
        obj = other.objects.get(key or "") if named else None
        if obj is not None and obj.acl in OBJECT_GRANTING:
            # Its own ACL grants the GET; anything else on that key is S3's 403 (wave 16 B).
            return [Reach(other, False, by_object=True)] if kind == READ else [DENIED]
        return [NO_SUCH_BUCKET]
    return _anonymous(model, name, kind, key)


def _anonymous(model: Model, name: str, kind: str, key: str | None) -> list[Outcome]:
    holders = [b for t in TENANTS if (b := model.bucket(t, name)) is not None]
    by_bucket = sorted((b for b in holders if b.acl in PUBLIC), key=lambda b: b.public_since or 0)
    by_object: list[Bucket] = []
    if kind == READ:
        for b in holders:
            obj = b.objects.get(key or "")
            if b not in by_bucket and obj is not None and obj.acl in OBJECT_PUBLIC:
                by_object.append(b)
    outcomes: list[Outcome] = []
    if by_object and (by_bucket or len(by_object) > 1):
        # Object grants rank by whole seconds: any candidate (or none, on a tie) may win.
        outcomes = [Reach(b, False) for b in by_bucket] + [
            Reach(b, False, by_object=True) for b in by_object
        ]
        outcomes.append(DENIED)
    elif by_object:
        outcomes = [Reach(by_object[0], False, by_object=True)]
    elif by_bucket:
        outcomes = [Reach(by_bucket[0], False)]
    else:
        return [DENIED]
    result: list[Outcome] = []
    for outcome in outcomes:
        if isinstance(outcome, Reach) and not _anonymous_may(outcome.bucket, kind):
            result.append(DENIED)
        else:
            result.append(outcome)
    return result


def _anonymous_may(bucket: Bucket, kind: str) -> bool:
    if kind in (READ, LIST, DELETE_MANY):
        return True  # DeleteObjects: judged key by key (s3:DeleteObject, WRITE's alone)
    return kind in (WRITE, DELETE) and bucket.acl == "public-read-write"


def listed(keys: list[str], prefix: str, delimiter: str | None) -> tuple[list[str], list[str]]:
    """A complete listing's keys and common prefixes."""
    contents: list[str] = []
    prefixes: set[str] = set()
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest[: rest.index(delimiter) + len(delimiter)])
        else:
            contents.append(key)
    return contents, sorted(prefixes, key=lambda p: p.encode())


def multipart_etag(etags: list[str]) -> str:
    digests = b"".join(bytes.fromhex(e.strip('"')) for e in etags)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(etags)}"'
