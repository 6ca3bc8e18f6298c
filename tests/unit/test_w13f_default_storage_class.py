"""Get/PutBucketDefaultStorageClass (s3proxy.handlers.default_storage_class) and GetPart, the
three operations botocore 1.44.18 added to its S3 model: their routes, and the default-class
document. Before wave 13 F all three were 501 NotImplemented; GetPart still is (README "Object
tags and storage classes": an upload's parts on an S3 upstream cannot be read back)."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import NEEDS, Action, Scope
from s3proxy.handlers.default_storage_class import (
    default_storage_class_xml,
    parse_default_storage_class,
)
from s3proxy.operations import Operation, resolve
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

O = Operation  # noqa: E741
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/bkt", "default-storage-class", O.GetBucketDefaultStorageClass),
        ("PUT", "/bkt", "default-storage-class", O.PutBucketDefaultStorageClass),
        ("PUT", "/bkt", "default-storage-class&x-id=PutBucketDefaultStorageClass",
         O.PutBucketDefaultStorageClass),
        ("DELETE", "/bkt", "default-storage-class", O.Unsupported),  # S3 defines no delete
        ("POST", "/bkt", "default-storage-class", O.Unsupported),
        ("GET", "/bkt/k", "default-storage-class", O.Unsupported),
        ("GET", "/bkt", "default-storage-class&prefix=a", O.Unsupported),
        # GetPart, as botocore 1.44.18 sends it: refused, never GetObject's partNumber read.
        ("GET", "/bkt/k", "part&uploadId=U&partNumber=1", O.Unsupported),
        ("GET", "/bkt/k", "part", O.Unsupported),
    ],
)  # fmt: skip
def test_routes(method: str, path: str, query: str, operation: Operation) -> None:
    assert resolve(parse_request(http_scope(method, path, query))) is operation


def test_both_need_admin_on_the_bucket() -> None:
    """Bucket configuration, as ownership controls and CORS: a scoped key needs ``admin``."""
    for operation in (O.GetBucketDefaultStorageClass, O.PutBucketDefaultStorageClass):
        assert (NEEDS[operation].action, NEEDS[operation].scope) == (Action.ADMIN, Scope.BUCKET)


def _document(inner: str, root: str = "DefaultStorageClassConfiguration") -> bytes:
    return f'<{root} xmlns="{NS}">{inner}</{root}>'.encode()


def test_the_document_round_trips() -> None:
    assert parse_default_storage_class(default_storage_class_xml("STANDARD")) == "STANDARD"
    intelligent = _document("<DefaultStorageClass> INTELLIGENT_TIERING </DefaultStorageClass>")
    assert parse_default_storage_class(intelligent) == "INTELLIGENT_TIERING"


@pytest.mark.parametrize(
    "body",
    [
        _document(""),
        _document("<DefaultStorageClass>STANDARD</DefaultStorageClass>" * 2),
        _document("<DefaultStorageClass>STANDARD</DefaultStorageClass><Other>x</Other>"),
        _document(
            "<DefaultStorageClass><StorageClass>STANDARD</StorageClass></DefaultStorageClass>"
        ),
        _document("<DefaultStorageClass>STANDARD</DefaultStorageClass>", root="StorageClass"),
        b"<DefaultStorageClassConfiguration><DefaultStorageClass>STANDARD",
        b"",
    ],
)
def test_other_documents_are_malformed(body: bytes) -> None:
    with pytest.raises(S3Error) as raised:
        parse_default_storage_class(body)
    assert raised.value.code is S3ErrorCode.MalformedXML


@pytest.mark.parametrize("value", ["GLACIER", "STANDARD_IA", "standard", "", "NOPE"])
def test_a_class_s3_does_not_take_as_a_default_is_invalid(value: str) -> None:
    """S3's model allows STANDARD and INTELLIGENT_TIERING only."""
    body = _document(f"<DefaultStorageClass>{value}</DefaultStorageClass>")
    with pytest.raises(S3Error) as raised:
        parse_default_storage_class(body)
    assert raised.value.code is S3ErrorCode.InvalidStorageClass
