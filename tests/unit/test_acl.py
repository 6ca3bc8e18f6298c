"""Canned ACL rules (s3proxy.acl) and the anonymous gate (s3proxy.anonymous), without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from s3proxy import acl
from s3proxy.anonymous import granted, is_anonymous
from s3proxy.backends.bucket_settings import NO_SETTINGS, BucketSettings, with_acl
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.owner import Owner
from s3proxy.request import S3Request

OWNER = Owner("123456789012", "alice")
ALL = acl.ALL_USERS
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def request(
    headers: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> S3Request:
    headers = headers or {}
    return S3Request(
        method="PUT",
        raw_path="/b",
        query_string="&".join(f"{k}={v}" for k, v in (query or {}).items()),
        query=query or {},
        headers=list(headers.items()),
        header_map=dict(headers),
        bucket="b",
        key=None,
    )


def error_of(call: object) -> S3Error:
    with pytest.raises(S3Error) as caught:
        call()  # type: ignore[operator]
    return caught.value


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"x-amz-acl": "private"}, "private"),
        ({"x-amz-acl": " public-read "}, "public-read"),
        ({"x-amz-grant-full-control": f'id="{OWNER.id}"'}, "private"),
        (
            {"x-amz-grant-full-control": f'id="{OWNER.id}"', "x-amz-grant-read": f'uri="{ALL}"'},
            "public-read",
        ),
        (
            {
                "x-amz-grant-full-control": f'id="{OWNER.id}"',
                "x-amz-grant-read": f'uri="{ALL}"',
                "x-amz-grant-write": f'uri = "{ALL}"',
            },
            "public-read-write",
        ),
        (
            {
                "x-amz-grant-full-control": f'id="{OWNER.id}"',
                "x-amz-grant-read": f'uri="{acl.AUTHENTICATED_USERS}"',
            },
            "authenticated-read",
        ),
    ],
)
def test_requested(headers: dict[str, str], expected: str | None) -> None:
    assert acl.requested(request(headers), OWNER) == expected


def test_unquoted_grantees_as_aws_cli_sends_them() -> None:
    """aws-cli's documented forms (``--grant-read uri=…``, ``emailaddress=…``): no quotes,
    any case of the grantee kind; S3 takes them as the quoted ones."""
    headers = {"x-amz-grant-full-control": f"ID={OWNER.id}", "x-amz-grant-read": f"uri={ALL}"}
    assert acl.requested(request(headers), OWNER) == "public-read"
    both = {"x-amz-grant-full-control": f'id="{OWNER.id}", emailaddress=a@b.c'}
    refused = error_of(lambda: acl.requested(request(both), OWNER))
    assert refused.code is S3ErrorCode.MethodNotAllowed  # e-mail grantees ended on AWS


def test_hoisted_acl_is_read_too() -> None:
    assert acl.requested(request(query={"X-Amz-Acl": "public-read"}), OWNER) == "public-read"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amz-acl": "nope"}, S3ErrorCode.InvalidArgument),
        ({"x-amz-acl": "private", "x-amz-grant-read": f'uri="{ALL}"'}, S3ErrorCode.InvalidRequest),
        ({"x-amz-grant-read": 'id="1"x'}, S3ErrorCode.InvalidArgument),
        ({"x-amz-grant-read": "id=two words"}, S3ErrorCode.InvalidArgument),
        ({"x-amz-grant-read": "id=unquoted"}, S3ErrorCode.InvalidArgument),  # no account's id
        ({"x-amz-grant-read": "id=123456789012"}, S3ErrorCode.NotImplemented),  # not the owner
        ({"x-amz-grant-read": "uri=http://example.com/group"}, S3ErrorCode.InvalidArgument),
        ({"x-amz-grant-read": f'uri="{ALL}"'}, S3ErrorCode.NotImplemented),  # no owner grant
        ({"x-amz-grant-full-control": 'id="999999999999"'}, S3ErrorCode.NotImplemented),
        (
            {"x-amz-grant-full-control": f'id="{OWNER.id}", emailAddress="a@b.c"'},
            S3ErrorCode.MethodNotAllowed,  # AWS's answer since e-mail grantees ended (2025)
        ),
        (
            {
                "x-amz-grant-full-control": f'id="{OWNER.id}"',
                "x-amz-grant-read-acp": f'uri="{ALL}"',
            },
            S3ErrorCode.NotImplemented,
        ),
    ],
)
def test_requested_refusals(headers: dict[str, str], code: S3ErrorCode) -> None:
    assert error_of(lambda: acl.requested(request(headers), OWNER)).code is code


@pytest.mark.parametrize(
    ("value", "bucket", "allow", "outcome"),
    [
        ("private", True, True, None),
        ("bucket-owner-full-control", False, False, None),
        ("bucket-owner-read", True, True, None),
        ("public-read", True, True, "public-read"),
        ("public-read-write", True, True, "public-read-write"),
        ("public-read", False, True, "public-read"),
        ("public-read-write", False, True, S3ErrorCode.NotImplemented),
        ("authenticated-read", True, True, "authenticated-read"),
        ("authenticated-read", False, True, "authenticated-read"),
        ("aws-exec-read", True, True, S3ErrorCode.NotImplemented),
        ("public-read", True, False, S3ErrorCode.AccessDenied),
        ("public-read", False, False, S3ErrorCode.AccessDenied),
        ("authenticated-read", False, False, S3ErrorCode.AccessDenied),
        ("authenticated-read", True, False, S3ErrorCode.AccessDenied),
    ],
)
def test_check(value: str, bucket: bool, allow: bool, outcome: str | S3ErrorCode | None) -> None:
    if isinstance(outcome, S3ErrorCode):
        assert error_of(lambda: acl.check(value, bucket=bucket, allow_public=allow)).code is outcome
    else:
        assert acl.check(value, bucket=bucket, allow_public=allow) == outcome


def policy(owner_id: str, grants: str) -> bytes:
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    return (
        f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/" {xsi}>'
        f"<Owner><ID>{owner_id}</ID></Owner><AccessControlList>{grants}</AccessControlList>"
        "</AccessControlPolicy>"
    ).encode()


def grant(grantee: str, permission: str) -> str:
    return f"<Grant><Grantee>{grantee}</Grantee><Permission>{permission}</Permission></Grant>"


ME = grant(f"<ID>{OWNER.id}</ID>", "FULL_CONTROL")
EVERYONE = grant(f"<URI>{ALL}</URI>", "READ")
SIGNED = grant("<URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI>", "READ")


def test_parse_policy() -> None:
    assert acl.parse_policy(policy(OWNER.id, ME), OWNER) == "private"
    assert acl.parse_policy(policy(OWNER.id, ME + EVERYONE), OWNER) == "public-read"
    assert acl.parse_policy(policy(OWNER.id, EVERYONE + ME + EVERYONE), OWNER) == "public-read"
    assert acl.parse_policy(policy(OWNER.id, SIGNED + ME), OWNER) == "authenticated-read"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (policy("999999999999", ME), S3ErrorCode.AccessDenied),
        (policy(OWNER.id, ME + grant("<ID>999999999999</ID>", "READ")), S3ErrorCode.NotImplemented),
        (policy(OWNER.id, ME + grant(f"<URI>{ALL}</URI>", "BOSS")), S3ErrorCode.MalformedACLError),
        (policy(OWNER.id, ME + SIGNED + EVERYONE), S3ErrorCode.NotImplemented),
        (policy(OWNER.id, ME + SIGNED.replace("READ", "WRITE")), S3ErrorCode.NotImplemented),
        (policy(OWNER.id, ME + grant("", "READ")), S3ErrorCode.MalformedACLError),
        (policy(OWNER.id, ME + "<Other/>"), S3ErrorCode.MalformedACLError),
        (b"<Tagging/>", S3ErrorCode.MalformedACLError),
        (b"<AccessControlPolicy><Owner><ID>1</ID></Owner></AccessControlPolicy>", None),
        (b"not xml", None),
    ],
)
def test_parse_policy_refusals(body: bytes, code: S3ErrorCode | None) -> None:
    error = error_of(lambda: acl.parse_policy(body, OWNER))
    if code is not None:
        assert error.code is code
    else:
        assert error.status == 400


@pytest.mark.parametrize("value", [None, "public-read", "public-read-write", "authenticated-read"])
def test_policy_xml_round_trips(value: str | None) -> None:
    rendered = acl.policy_xml(OWNER, value)
    root = ET.fromstring(rendered)
    assert root.tag == f"{NS}AccessControlPolicy"
    assert root.findtext(f"{NS}Owner/{NS}ID") == OWNER.id
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "alice"
    assert acl.parse_policy(rendered, OWNER) == (value or "private")


def test_bucket_settings_keep_the_acl() -> None:
    settings = with_acl("public-read")(NO_SETTINGS)
    assert BucketSettings.decode(settings.encode()) == settings
    assert with_acl(None)(settings).encode() == b""
    signed = with_acl("authenticated-read")(NO_SETTINGS)
    assert BucketSettings.decode(signed.encode()) == signed
    with pytest.raises(S3Error):
        BucketSettings.decode(b'{"acl":"aws-exec-read"}')  # never written by this gateway


@pytest.mark.parametrize(
    ("value", "operation", "served"),
    [
        ("public-read", Operation.GetObject, True),
        ("public-read", Operation.HeadObject, True),
        ("public-read", Operation.ListObjectsV2, True),
        ("public-read", Operation.ListObjects, True),
        ("public-read", Operation.PutObject, False),
        ("public-read-write", Operation.PutObject, True),
        ("public-read-write", Operation.DeleteObject, True),  # S3 WRITE: s3:DeleteObject
        ("public-read-write", Operation.CopyObject, False),
        ("public-read-write", Operation.PutBucketAcl, False),
        ("public-read", Operation.GetObjectAcl, False),
        (None, Operation.GetObject, False),
        ("authenticated-read", Operation.GetObject, False),
    ],
)
def test_granted(value: str | None, operation: Operation, served: bool) -> None:
    assert granted(value, operation) is served


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, {}, True),
        ({}, {"list-type": "2"}, True),
        ({"authorization": "AWS4-HMAC-SHA256 x"}, {}, False),
        ({"authorization": ""}, {}, False),
        ({}, {"X-Amz-Signature": "00"}, False),
        ({}, {"X-Amz-Credential": "a/b"}, False),
        ({}, {"AWSAccessKeyId": "a"}, False),
        ({}, {"Signature": "s"}, False),
    ],
)
def test_is_anonymous(headers: dict[str, str], query: dict[str, str], expected: bool) -> None:
    assert is_anonymous(request(headers, query)) is expected


def test_object_acl_record_names_one_object() -> None:
    from s3proxy.object_acl import ObjectAcl

    record = ObjectAcl("public-read", '"e1"', "Thu, 03 Dec 2026 11:00:00 GMT")
    assert record.matches('"e1"', "Thu, 03 Dec 2026 11:00:00 GMT")
    assert not record.matches('"e2"', "Thu, 03 Dec 2026 11:00:00 GMT")  # overwritten
    assert not record.matches('"e1"', "Thu, 03 Dec 2026 11:00:01 GMT")  # re-uploaded
    assert not record.matches(None, None)


def test_written_etag_of_put_and_copy_answers() -> None:
    from s3proxy.handlers.acl import _written_etag
    from s3proxy.responses import S3Response
    from s3proxy.xmlcodec import copy_result_xml

    assert _written_etag(S3Response(headers=[("ETag", '"abc"')])) == '"abc"'
    copied = S3Response(body=copy_result_xml('"def"', "2026-12-03T11:00:00.000Z"))
    assert _written_etag(copied) == '"def"'
    assert _written_etag(S3Response()) is None
