"""Owner ids in listings, the bucket owner condition, and CreateBucket's LocationConstraint.

Every refusal is followed by a read showing that nothing was stored, overwritten or deleted.
The owner ids are restated here rather than imported: they are what clients see.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, sign, signed

pytestmark = pytest.mark.integration

ALICE_ID = "799980277586"  # derived from "alice": see README "Owner id"
BOB_ID = "034090393947"
NOBODY = "111122223333"
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def error_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def missing(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """A fresh bucket of alice's holding ``k`` = b"old"; emptied and removed afterwards."""
    name = "own-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"old")
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def body_of(s3: Any, bucket: str, key: str = "k") -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


class TestOwnerId:
    def test_listings_show_the_tenants_owner_id(self, proxy: Proxy, bucket: str) -> None:
        alice, bob = proxy.client("alice"), proxy.client("bob")
        alice_owner = {"ID": ALICE_ID, "DisplayName": "alice"}
        assert alice.list_buckets()["Owner"] == alice_owner
        assert bob.list_buckets()["Owner"] == {"ID": BOB_ID, "DisplayName": "bob"}
        assert alice.list_objects(Bucket=bucket)["Contents"][0]["Owner"] == alice_owner
        v2 = alice.list_objects_v2(Bucket=bucket, FetchOwner=True)
        assert v2["Contents"][0]["Owner"] == alice_owner
        upload = alice.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        parts = alice.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
        assert parts["Initiator"] == parts["Owner"] == alice_owner
        (listed,) = alice.list_multipart_uploads(Bucket=bucket)["Uploads"]
        assert listed["Initiator"] == listed["Owner"] == alice_owner


class TestExpectedBucketOwner:
    def test_the_callers_own_id_is_served(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        s3.put_object(Bucket=bucket, Key="new", Body=b"new", ExpectedBucketOwner=ALICE_ID)
        assert s3.get_object(Bucket=bucket, Key="new", ExpectedBucketOwner=ALICE_ID)
        s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "k"},
            ExpectedBucketOwner=ALICE_ID,
            ExpectedSourceBucketOwner=ALICE_ID,
        )
        assert body_of(s3, bucket, "copy") == b"old"
        assert s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=ALICE_ID)["KeyCount"] == 3

    @pytest.mark.parametrize("wrong", [NOBODY, BOB_ID])
    def test_writes_naming_another_owner_store_nothing(
        self, proxy: Proxy, bucket: str, wrong: str
    ) -> None:
        s3 = proxy.client("alice")
        denied = (403, "AccessDenied")
        owner = {"ExpectedBucketOwner": wrong}
        assert error_of(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"new", **owner)) == (
            denied
        )
        assert error_of(lambda: s3.put_object(Bucket=bucket, Key="n", Body=b"n", **owner)) == (
            denied
        )
        assert error_of(lambda: s3.delete_object(Bucket=bucket, Key="k", **owner)) == denied
        delete = {"Objects": [{"Key": "k"}]}
        assert error_of(lambda: s3.delete_objects(Bucket=bucket, Delete=delete, **owner)) == (
            denied
        )
        assert error_of(lambda: s3.delete_bucket(Bucket=bucket, **owner)) == denied
        assert error_of(lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", **owner)) == (
            denied
        )
        assert error_of(lambda: s3.get_object(Bucket=bucket, Key="k", **owner)) == denied
        assert error_of(lambda: s3.list_objects_v2(Bucket=bucket, **owner)) == denied
        assert body_of(s3, bucket) == b"old"
        assert missing(lambda: s3.head_object(Bucket=bucket, Key="n"))
        assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)

    def test_copies_naming_another_source_owner_store_nothing(
        self, proxy: Proxy, bucket: str
    ) -> None:
        s3 = proxy.client("alice")
        source = {"Bucket": bucket, "Key": "k"}
        assert error_of(
            lambda: s3.copy_object(
                Bucket=bucket, Key="copy", CopySource=source, ExpectedSourceBucketOwner=NOBODY
            )
        ) == (403, "AccessDenied")
        assert error_of(
            lambda: s3.copy_object(
                Bucket=bucket, Key="k", CopySource=source, ExpectedBucketOwner=BOB_ID,
                MetadataDirective="REPLACE", Metadata={"x": "y"},
            )
        ) == (403, "AccessDenied")  # fmt: skip
        assert missing(lambda: s3.head_object(Bucket=bucket, Key="copy"))
        assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {}
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        assert error_of(
            lambda: s3.upload_part_copy(
                Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, CopySource=source,
                ExpectedSourceBucketOwner=BOB_ID,
            )
        ) == (403, "AccessDenied")  # fmt: skip
        assert "Parts" not in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)

    @pytest.mark.parametrize("value", ["", "alice", ALICE_ID + "0"])
    def test_a_value_that_is_no_account_id_is_malformed(
        self, proxy: Proxy, bucket: str, value: str
    ) -> None:
        ak, sk = proxy.keys("alice")
        url = object_url(proxy.endpoint, bucket, "k")
        headers = {"x-amz-expected-bucket-owner": value}
        response = signed("PUT", url, ak, sk, headers, b"new")
        assert (response.status, response.error_code) == (400, "InvalidBucketOwnerAWSAccountID")
        assert body_of(proxy.client("alice"), bucket) == b"old"

    def test_refused_before_the_body_is_read(self, proxy: Proxy, bucket: str) -> None:
        """Only the headers are sent: a proxy that waited for the body would time out."""
        ak, sk = proxy.keys("alice")
        url = object_url(proxy.endpoint, bucket, "k")
        headers = sign(
            "PUT",
            url,
            ak,
            sk,
            {"x-amz-expected-bucket-owner": NOBODY, "Content-Length": str(1 << 20)},
            payload_hash="UNSIGNED-PAYLOAD",
        )
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        try:
            connection.putrequest("PUT", url.split(str(proxy.port), 1)[1], skip_host=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            assert response.status == 403
            assert b"<Code>AccessDenied</Code>" in response.read()
        finally:
            connection.close()
        assert body_of(proxy.client("alice"), bucket) == b"old"


class TestLocationConstraint:
    def test_no_constraint_is_the_served_region(self, proxy: Proxy) -> None:
        """us-east-1 is spelled by sending no constraint; naming it is refused below, as S3
        refuses it."""
        s3 = proxy.client("alice")
        name = "loc-" + os.urandom(4).hex()
        s3.create_bucket(Bucket=name)
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
        assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
        s3.delete_bucket(Bucket=name)

    @pytest.mark.parametrize(
        ("constraint", "code"),
        [
            ("eu-west-1", "IllegalLocationConstraintException"),
            ("EU", "IllegalLocationConstraintException"),
            ("US", "InvalidLocationConstraint"),
            ("us-east-1", "InvalidLocationConstraint"),
            ("moon-base", "InvalidLocationConstraint"),
        ],
    )
    def test_another_constraint_creates_nothing(
        self, proxy: Proxy, constraint: str, code: str
    ) -> None:
        s3 = proxy.client("alice")
        name = "loc-" + os.urandom(4).hex()
        config = {"LocationConstraint": constraint}
        assert error_of(
            lambda: s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
        ) == (
            400,
            code,
        )
        assert missing(lambda: s3.head_bucket(Bucket=name))
        assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    def test_recreating_in_another_region_leaves_the_bucket_as_it_was(
        self, proxy: Proxy, bucket: str
    ) -> None:
        s3 = proxy.client("alice")
        config = {"LocationConstraint": "eu-west-1"}
        assert error_of(
            lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=config)
        ) == (
            400,
            "IllegalLocationConstraintException",
        )
        assert body_of(s3, bucket) == b"old"
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None

    @pytest.mark.parametrize(
        "inner",
        [
            "<Tags><Tag><Key>a</Key><Value>b</Value></Tag></Tags>",
            "<Bucket><Type>Directory</Type><DataRedundancy>SingleAvailabilityZone</DataRedundancy>"
            "</Bucket>",
            "<Location><Type>AvailabilityZone</Type><Name>usw2-az1</Name></Location>",
        ],
    )
    def test_other_configuration_is_not_implemented(self, proxy: Proxy, inner: str) -> None:
        ak, sk = proxy.keys("alice")
        name = "loc-" + os.urandom(4).hex()
        body = f'<CreateBucketConfiguration xmlns="{NS}">{inner}</CreateBucketConfiguration>'
        response = signed("PUT", object_url(proxy.endpoint, name), ak, sk, body=body.encode())
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert missing(lambda: proxy.client("alice").head_bucket(Bucket=name))
