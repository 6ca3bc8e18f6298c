"""Get/PutBucketDefaultStorageClass through boto3 1.44.18, whose model added them: every bucket's
default class here is STANDARD (s3proxy.handlers.default_storage_class). Before wave 13 F both
were 501 NotImplemented, where S3 answers STANDARD for a bucket whose default was never set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
STANDARD_DOCUMENT = (
    f'<DefaultStorageClassConfiguration xmlns="{NS}">'
    "<DefaultStorageClass>STANDARD</DefaultStorageClass></DefaultStorageClassConfiguration>"
).encode()


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


@pytest.mark.one_lane  # decided by the bucket's existence alone: nothing is stored anywhere
def test_every_bucket_defaults_to_standard(proxy: Proxy, make_bucket: MakeBucket) -> None:
    s3, bucket = proxy.client("alice"), make_bucket()

    def default() -> str:
        answer = s3.get_bucket_default_storage_class(Bucket=bucket)
        return str(answer["DefaultStorageClassConfiguration"]["DefaultStorageClass"])

    def put(value: str) -> Any:
        configuration = {"DefaultStorageClass": value}
        return s3.put_bucket_default_storage_class(
            Bucket=bucket, DefaultStorageClassConfiguration=configuration
        )

    assert default() == "STANDARD"
    assert put("STANDARD")["ResponseMetadata"]["HTTPStatusCode"] == 200
    # A default other than STANDARD is not applied to later writes here: refused, not a 200.
    assert refused(lambda: put("INTELLIGENT_TIERING")) == (501, "NotImplemented")
    assert default() == "STANDARD"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="k")  # STANDARD
    s3.delete_object(Bucket=bucket, Key="k")
    # The body needs Content-MD5 or a checksum, as on S3 (botocore always sends one).
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, query="default-storage-class")
    bare = signed("PUT", url, access_key, secret_key, body=STANDARD_DOCUMENT)
    assert (bare.status, bare.error_code) == (400, "InvalidRequest")
    gone = f"{bucket}-gone"
    assert refused(lambda: s3.get_bucket_default_storage_class(Bucket=gone)) == (
        404,
        "NoSuchBucket",
    )
    assert refused(
        lambda: s3.put_bucket_default_storage_class(
            Bucket=gone, DefaultStorageClassConfiguration={"DefaultStorageClass": "STANDARD"}
        )
    ) == (404, "NoSuchBucket")
