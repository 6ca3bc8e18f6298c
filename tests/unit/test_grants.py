"""Scoped keys: every served operation against every grant shape (the decision is pure).

The expected answers below restate the README's table ("Scoped keys") by hand, operation group
by operation group; they do not read s3proxy.grants.NEEDS.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import NEEDS, Glob, Grant, Grants, check_request
from s3proxy.handlers import HANDLERS
from s3proxy.operations import Operation
from s3proxy.request import S3Request

O = Operation  # noqa: E741 — the matrix reads better with one-letter groups
SERVICE = {O.ListBuckets}
PROBES = {O.HeadBucket, O.GetBucketLocation, O.GetBucketVersioning}
ADMIN = {O.CreateBucket, O.DeleteBucket, O.PutBucketVersioning}
ADMIN |= {  # bucket settings (s3proxy.handlers.bucket_settings)
    O.PutBucketCors, O.GetBucketCors, O.DeleteBucketCors,
    O.PutBucketTagging, O.GetBucketTagging, O.DeleteBucketTagging,
    O.PutBucketAcl, O.GetBucketAcl,
    O.GetObjectLockConfiguration, O.PutObjectLockConfiguration,  # s3proxy.handlers.lock_ownership
    O.GetBucketOwnershipControls, O.PutBucketOwnershipControls, O.DeleteBucketOwnershipControls,
    O.GetBucketDefaultStorageClass, O.PutBucketDefaultStorageClass,  # default_storage_class
}  # fmt: skip
LIST = {O.ListObjects, O.ListObjectsV2, O.ListMultipartUploads, O.ListObjectVersions}
READ = {O.GetObject, O.HeadObject, O.GetObjectAttributes, O.GetObjectTagging, O.GetObjectAcl}
READ |= {O.GetObjectRetention, O.GetObjectLegalHold}
WRITE = {
    O.PutObject, O.CopyObject, O.UploadPartCopy, O.CreateMultipartUpload, O.UploadPart,
    O.CompleteMultipartUpload, O.AbortMultipartUpload, O.ListParts, O.PutObjectTagging,
    O.DeleteObjectTagging, O.PutObjectRetention, O.PutObjectLegalHold,
}  # fmt: skip
READ_WRITE = {O.PutObjectAcl}  # an ACL decides who may read: read and write on the key
DELETE = {O.DeleteObject}
DELETE_BATCH = {O.DeleteObjects}  # the request; its entries are checked one by one (handler)
SERVED = SERVICE | PROBES | ADMIN | LIST | READ | WRITE | READ_WRITE | DELETE | DELETE_BATCH
NOTHING: set[Operation] = set()

# Targets: (bucket, object key, listing prefix).
TARGETS = {
    "in": ("docs", "reports/2024/q1.csv", "reports/2024/"),
    "out": ("docs", "private/x", ""),
    "public": ("docs", "users/bob/public/p.png", "users/bob/public/"),
    "other": ("photos", "reports/2024/q1.csv", "reports/"),
}
ALL = ["read", "write", "delete", "list", "admin"]
Shape = list[dict[str, Any]]
SHAPES: dict[str, tuple[Shape, dict[str, set[Operation]]]] = {
    "full": (
        [{"actions": ALL}],
        {"in": SERVED, "out": SERVED, "public": SERVED, "other": SERVED},
    ),
    "read-docs": (
        [{"actions": ["read"], "buckets": ["docs"]}],
        {t: SERVICE | PROBES | READ for t in ("in", "out", "public")} | {"other": SERVICE},
    ),
    "write-docs": (
        [{"actions": ["write"], "buckets": ["docs"]}],
        {t: SERVICE | PROBES | WRITE for t in ("in", "out", "public")} | {"other": SERVICE},
    ),
    "delete-docs": (
        [{"actions": ["delete"], "buckets": ["docs"]}],
        {t: SERVICE | PROBES | DELETE | DELETE_BATCH for t in ("in", "out", "public")}
        | {"other": SERVICE},
    ),
    "list-docs": (
        [{"actions": ["list"], "buckets": ["docs"]}],
        {t: SERVICE | PROBES | LIST for t in ("in", "out", "public")} | {"other": SERVICE},
    ),
    "admin-docs": (
        [{"actions": ["admin"], "buckets": ["docs"]}],
        {t: SERVICE | PROBES | ADMIN for t in ("in", "out", "public")} | {"other": SERVICE},
    ),
    "read-list-reports": (
        [{"actions": ["read", "list"], "buckets": ["docs"], "prefixes": ["reports/"]}],
        {
            "in": SERVICE | PROBES | READ | LIST,
            "out": SERVICE | PROBES,  # a list without a prefix is outside a prefix grant
            "public": SERVICE | PROBES,
            "other": SERVICE,
        },
    ),
    "write-delete-public-glob": (
        [{"actions": ["write", "delete"], "buckets": ["d?c*"], "prefixes": ["users/*/public/"]}],
        {
            "in": SERVICE | PROBES | DELETE_BATCH,
            "out": SERVICE | PROBES | DELETE_BATCH,
            "public": SERVICE | PROBES | WRITE | DELETE | DELETE_BATCH,
            "other": SERVICE,
        },
    ),
    "two-grants": (
        [
            {"actions": ["read"], "buckets": ["docs"], "prefixes": ["reports/"]},
            {"actions": ["list"], "buckets": ["photos"]},
        ],
        {
            "in": SERVICE | PROBES | READ,
            "out": SERVICE | PROBES,
            "public": SERVICE | PROBES,
            "other": SERVICE | PROBES | LIST,
        },
    ),
    "read-and-write-reports": (
        [{"actions": ["read", "write"], "buckets": ["docs"], "prefixes": ["reports/"]}],
        {
            "in": SERVICE | PROBES | READ | WRITE | READ_WRITE,
            "out": SERVICE | PROBES,
            "public": SERVICE | PROBES,
            "other": SERVICE,
        },
    ),
    "write-reports-read-users": (  # read and write, but not on the same keys
        [
            {"actions": ["write"], "buckets": ["docs"], "prefixes": ["reports/"]},
            {"actions": ["read"], "buckets": ["docs"], "prefixes": ["users/"]},
        ],
        {
            "in": SERVICE | PROBES | WRITE,
            "out": SERVICE | PROBES,
            "public": SERVICE | PROBES | READ,
            "other": SERVICE,
        },
    ),
    "everything-on-photo-buckets": (
        [{"actions": ALL, "buckets": ["photo*"]}],
        {"in": SERVICE, "out": SERVICE, "public": SERVICE, "other": SERVED},
    ),
}

LISTINGS = LIST


def grants_of(shape: Shape) -> Grants:
    """Through the configuration model, as the gateway builds them."""
    settings = Settings.model_validate(
        {
            "upstreams": {"u": {"type": "local"}},
            "tenants": {
                "t": {
                    "keys": [{"access_key": "AKSCOPED", "secret_key": "x" * 16, "allow": shape}],
                    "home": {"upstream": "u", "bucket": "b"},
                }
            },
        }
    )
    allow = settings.tenants["t"].keys[0].allow
    assert allow is not None
    return Grants(tuple(Grant.build(g.actions, g.buckets, g.prefixes) for g in allow))


MATRIX = [
    (shape, target, operation)
    for shape in SHAPES
    for target in TARGETS
    for operation in sorted(SERVED, key=lambda o: o.value)
]


def test_matrix_size() -> None:
    assert len(SERVED) == 48 and len(MATRIX) == 48 * len(SHAPES) * len(TARGETS) == 2304


def test_every_served_operation_has_a_need() -> None:
    assert set(HANDLERS) == SERVED == set(NEEDS)


@pytest.mark.parametrize(("shape", "target"), [(s, t) for s in SHAPES for t in TARGETS])
def test_matrix(shape: str, target: str) -> None:
    config, expected = SHAPES[shape]
    grants = grants_of(config)
    bucket, key, prefix = TARGETS[target]
    allowed = {
        operation
        for operation in SERVED
        if grants.allow(operation, bucket, prefix if operation in LISTINGS else key)
    }
    assert allowed == expected[target], (
        f"allowed but not expected: {sorted(o.value for o in allowed - expected[target])}; "
        f"expected but refused: {sorted(o.value for o in expected[target] - allowed)}"
    )


@pytest.mark.parametrize("operation", [O.Unsupported, O.MethodNotAllowed])
def test_refusals_and_unknown_operations_are_never_allowed(operation: Operation) -> None:
    assert not grants_of([{"actions": ALL}]).allow(operation, "docs", "k")


def request(bucket: str | None, key: str | None, query: dict[str, str] | None = None) -> S3Request:
    return S3Request("GET", "/", "", query or {}, [], {}, bucket, key)


def test_check_request_names_what_was_refused() -> None:
    grants = grants_of([{"actions": ["read", "list"], "buckets": ["docs"], "prefixes": ["r/"]}])
    check_request(grants, request("docs", "r/a"), O.GetObject)
    check_request(grants, request("docs", None, {"prefix": "r/x"}), O.ListObjectsV2)
    with pytest.raises(S3Error) as caught:
        check_request(grants, request("docs", "s/a"), O.GetObject)
    assert caught.value.code is S3ErrorCode.AccessDenied
    assert "read on docs/s/a" in caught.value.message
    with pytest.raises(S3Error) as caught:
        check_request(grants, request("docs", None), O.ListObjectsV2)
    assert "list on docs with prefix ''" in caught.value.message
    with pytest.raises(S3Error) as caught:
        check_request(grants, request("photos", None), O.HeadBucket)
    assert "any action on photos" in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("docs", "docs", True),
        ("docs", "docs2", False),  # bucket globs match the whole name
        ("d*", "docs", True),
        ("d?cs", "docs", True),
        ("d?cs", "dcs", False),
        ("a.b", "axb", False),  # '.' is literal
        ("[ab]", "a", False),  # brackets are literal, as in IAM
        ("[ab]", "[ab]", True),
    ],
)
def test_bucket_globs(pattern: str, name: str, matches: bool) -> None:
    grant = Grant.build(["read"], [pattern], None)
    assert grant.names(name) is matches


@pytest.mark.parametrize(
    ("pattern", "key", "inside"),
    [
        ("reports/", "reports/2024/q1.csv", True),
        ("reports/", "reports", False),
        ("reports/", "reports-old/x", False),
        ("users/*/public/", "users/bob/public/p.png", True),
        ("users/*/public/", "users/a/b/public/p", True),  # '*' crosses '/', as in IAM
        ("users/*/public/", "users/bob/private/p", False),
        ("", "anything", True),
        ("a+b(c)/", "a+b(c)/k", True),  # regex characters are literal
        ("a+b(c)/", "aab(c)/k", False),
        ("x\n", "x\ny", True),  # keys may hold newlines
    ],
)
def test_prefix_globs(pattern: str, key: str, inside: bool) -> None:
    grant = Grant.build(["read"], ["*"], [pattern])
    assert grant.admits(key) is inside


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*", "", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "acb", False),
        ("a*a", "a", False),  # the pieces may not overlap
        ("a*a", "aa", True),
        ("?*?", "x", False),
        ("?*?", "xy", True),
        ("*ab?", "aab", False),
        ("*ab?", "xxabz", True),
        ("**", "anything", True),
    ],
)
def test_glob_matching(pattern: str, text: str, matches: bool) -> None:
    assert Glob.parse(pattern).fullmatch(text) is matches


def test_a_key_that_nearly_matches_a_many_star_glob_is_answered() -> None:
    """A translated regex (.*a.*a…b) backtracks O(n^7) here and would not return in time."""
    grant = Grant.build(["read"], ["*"], ["*a*a*a*a*a*a*b"])
    assert not grant.admits("a" * 5000)
    assert grant.admits("a" * 5000 + "b")


def base_key(**changes: Any) -> dict[str, Any]:
    return {"access_key": "AKSCOPED", "secret_key": "x" * 16, **changes}


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        ([], "at least 1"),
        ([{"actions": []}], "at least 1"),
        ([{"actions": ["rule"]}], "'read', 'write', 'delete', 'list' or 'admin'"),
        ([{"actions": ["read"], "buckets": []}], "at least 1"),
        ([{"actions": ["read"], "buckets": [""]}], "at least 1"),
        ([{"actions": ["admin"], "prefixes": ["a/"]}], "admin acts on whole buckets"),
    ],
)
def test_bad_grants_are_refused(allow: Shape, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(
            {
                "upstreams": {"u": {"type": "local"}},
                "tenants": {
                    "t": {"keys": [base_key(allow=allow)], "home": {"upstream": "u", "bucket": "b"}}
                },
            }
        )
    assert message in str(caught.value)


def test_a_key_without_allow_has_no_grants() -> None:
    settings = Settings.model_validate(
        {
            "upstreams": {"u": {"type": "local"}},
            "tenants": {"t": {"keys": [base_key()], "home": {"upstream": "u", "bucket": "b"}}},
        }
    )
    assert settings.tenants["t"].keys[0].allow is None
