"""Object Lock and ownership controls (s3proxy.handlers.lock_ownership): their routes on the
wire, the ownership document, and the record change behind PutBucketOwnershipControls."""

from __future__ import annotations

import pytest

from s3proxy import object_acl
from s3proxy.backends.bucket_settings import BUCKET_OWNER_ENFORCED, BucketSettings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.lock_ownership import (
    owner_enforced,
    ownership_controls_xml,
    parse_ownership_controls,
)
from s3proxy.operations import Operation, resolve
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

O = Operation  # noqa: E741


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/bkt", "object-lock", O.GetObjectLockConfiguration),
        ("PUT", "/bkt", "object-lock", O.PutObjectLockConfiguration),
        ("DELETE", "/bkt", "object-lock", O.Unsupported),  # S3 defines no such operation
        ("GET", "/bkt/k", "object-lock", O.Unsupported),
        ("GET", "/bkt/k", "retention", O.GetObjectRetention),
        ("PUT", "/bkt/k", "retention&versionId=null", O.PutObjectRetention),
        ("GET", "/bkt/k", "legal-hold", O.GetObjectLegalHold),
        ("PUT", "/bkt/k", "legal-hold", O.PutObjectLegalHold),
        ("GET", "/bkt", "retention", O.Unsupported),  # on a bucket: not a served request
        ("PUT", "/bkt/k", "retention&partNumber=1", O.Unsupported),
        ("GET", "/bkt", "ownershipControls", O.GetBucketOwnershipControls),
        ("PUT", "/bkt", "ownershipControls", O.PutBucketOwnershipControls),
        ("DELETE", "/bkt", "ownershipControls", O.DeleteBucketOwnershipControls),
        ("GET", "/bkt/k", "ownershipControls", O.Unsupported),
    ],
)
def test_routes(method: str, path: str, query: str, operation: Operation) -> None:
    assert resolve(parse_request(http_scope(method, path, query))) is operation


def _document(rules: str) -> bytes:
    ns = "http://s3.amazonaws.com/doc/2006-03-01/"
    return f'<OwnershipControls xmlns="{ns}">{rules}</OwnershipControls>'.encode()


def test_the_document_round_trips() -> None:
    assert parse_ownership_controls(ownership_controls_xml(BUCKET_OWNER_ENFORCED)) == (
        BUCKET_OWNER_ENFORCED
    )
    rule = "<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
    assert parse_ownership_controls(_document(rule)) == "ObjectWriter"


@pytest.mark.parametrize(
    "body",
    [
        _document(""),  # no rule
        _document("<Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>" * 2),
        _document("<Rule><ObjectOwnership>Everyone</ObjectOwnership></Rule>"),
        _document("<Rule></Rule>"),
        _document("<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership><X/></Rule>"),
        b"<Other><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></Other>",
        b"<OwnershipControls>",
    ],
)
def test_malformed_documents_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(S3Error) as refused:
        parse_ownership_controls(body)
    assert refused.value.code is S3ErrorCode.MalformedXML


def test_enforcing_follows_the_record() -> None:
    """As CreateBucket's header: refused over a granting bucket ACL, or objects given ACLs
    (their records would still grant reads here); else the record says BucketOwnerEnforced and
    keeps every other member."""
    assert owner_enforced(BucketSettings(tags=(("a", "b"),))) == BucketSettings(
        tags=(("a", "b"),), ownership=BUCKET_OWNER_ENFORCED
    )
    for settings in (BucketSettings(acl="public-read"), BucketSettings(other={object_acl.FLAG: 1})):
        with pytest.raises(S3Error) as refused:
            owner_enforced(settings)
        assert refused.value.code is S3ErrorCode.InvalidBucketAclWithObjectOwnership


def test_an_object_acl_cannot_flag_an_enforced_bucket() -> None:
    """The other half of the race: an object ACL whose check passed before the bucket became
    BucketOwnerEnforced flags the record by a conditional rewrite of the record as it is then,
    and is refused there, before its own record is written."""
    with pytest.raises(S3Error) as refused:
        object_acl._flagged(BucketSettings(ownership=BUCKET_OWNER_ENFORCED))
    assert refused.value.code is S3ErrorCode.AccessControlListNotSupported
    assert object_acl._flagged(BucketSettings()).other == {object_acl.FLAG: True}
