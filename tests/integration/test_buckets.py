"""Buckets per tenant, listing over shards, CopyObject and DeleteObjects — boto3 and raw HTTP.

SeaweedFS lists in directory-tree order, not byte order, so the key sets here avoid names
where the two differ (characters below "/" next to "/"); byte-order listing is proven on the
in-memory reference (tests/unit/test_listing.py) and, where installed, on Ceph RGW.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from s3proxy.owner import derived_owner_id
from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """A fresh bucket of alice's, emptied and removed afterwards."""
    name = "t-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


class TestBuckets:
    def test_create_head_list_delete_for_two_tenants_with_one_name(self, proxy: Proxy) -> None:
        alice, bob = proxy.client("alice"), proxy.client("bob")
        name = "clash-" + os.urandom(4).hex()
        alice.create_bucket(Bucket=name)
        with pytest.raises(ClientError) as caught:
            bob.head_bucket(Bucket=name)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        bob.create_bucket(Bucket=name)
        alice.put_object(Bucket=name, Key="k", Body=b"alice")
        bob.put_object(Bucket=name, Key="k", Body=b"bob")
        assert alice.get_object(Bucket=name, Key="k")["Body"].read() == b"alice"
        assert [o["Key"] for o in bob.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
        for client in (alice, bob):
            names = [b["Name"] for b in client.list_buckets()["Buckets"]]
            assert name in names
            assert names == sorted(names)
            assert all(b["CreationDate"] for b in client.list_buckets()["Buckets"])
        assert "bob-only" not in [b["Name"] for b in alice.list_buckets()["Buckets"]]
        assert "alice-photos" in [b["Name"] for b in alice.list_buckets()["Buckets"]]
        with pytest.raises(ClientError) as caught:
            alice.delete_bucket(Bucket=name)
        assert code_of(caught) == "BucketNotEmpty"
        alice.delete_object(Bucket=name, Key="k")
        alice.delete_bucket(Bucket=name)
        with pytest.raises(ClientError) as caught:
            alice.head_bucket(Bucket=name)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        with pytest.raises(ClientError) as caught:
            alice.put_object(Bucket=name, Key="k", Body=b"x")
        assert code_of(caught) == "NoSuchBucket"
        assert bob.get_object(Bucket=name, Key="k")["Body"].read() == b"bob"
        bob.delete_object(Bucket=name, Key="k")
        bob.delete_bucket(Bucket=name)

    def test_create_twice_is_200_in_us_east_1(self, proxy: Proxy, bucket: str) -> None:
        """S3's legacy us-east-1 answer; other regions: test_s3_semantics.py (409)."""
        answer = proxy.client("alice").create_bucket(Bucket=bucket)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200

    def test_create_with_acl_private_is_accepted(self, proxy: Proxy) -> None:
        """In us-east-1, the served region, as no LocationConstraint (naming it is refused:
        test_owner_location.TestLocationConstraint)."""
        s3 = proxy.client("alice")
        name = "loc-" + os.urandom(4).hex()
        s3.create_bucket(Bucket=name, ACL="private")
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
        assert "Status" not in s3.get_bucket_versioning(Bucket=name)
        s3.delete_bucket(Bucket=name)

    @pytest.mark.one_lane  # refused before any backend call (s3proxy.names)
    @pytest.mark.parametrize(
        "name", ["ab", "a" * 64, "Upper", "under_score", "192.168.1.1", "a..b", "-dash", "dot."]
    )
    def test_invalid_names(self, proxy: Proxy, name: str) -> None:
        ak, sk = proxy.keys("alice")
        response = signed("PUT", object_url(proxy.endpoint, name), ak, sk)
        assert (response.status, response.error_code) == (400, "InvalidBucketName")

    def test_mapped_buckets_cannot_be_deleted_or_claimed(self, proxy: Proxy) -> None:
        with pytest.raises(ClientError) as caught:
            proxy.client("alice").delete_bucket(Bucket="alice-photos")
        assert code_of(caught) == "AccessDenied"
        with pytest.raises(ClientError) as caught:
            proxy.client("bob").create_bucket(Bucket="alice-photos")
        assert code_of(caught) == "BucketAlreadyExists"
        proxy.client("alice").head_bucket(Bucket="alice-photos")

    def test_missing_bucket(self, proxy: Proxy) -> None:
        with pytest.raises(ClientError) as caught:
            proxy.client("alice").list_objects_v2(Bucket="never-created-" + os.urandom(3).hex())
        assert code_of(caught) == "NoSuchBucket"


KEYS = sorted(
    [f"photos/2024/{i:03d}.jpg" for i in range(23)]
    + [f"photos/2025/{i:03d}.jpg" for i in range(7)]
    + ["photos/index.html", "readme.txt", "zeta", "docs/a/b/c.txt", "docs/a/d.txt", "docs/e.txt"]
)


@pytest.fixture()
def filled(proxy: Proxy, bucket: str) -> str:
    s3 = proxy.client("alice")
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def walk(s3: Any, operation: str, **kwargs: Any) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    prefixes: list[str] = []
    for page in s3.get_paginator(operation).paginate(**kwargs):
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return keys, prefixes


class TestListing:
    @pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects"])
    @pytest.mark.parametrize("page_size", [1, 4, 1000])
    def test_paginated_listing_is_sorted_and_complete(
        self, proxy: Proxy, filled: str, operation: str, page_size: int
    ) -> None:
        s3 = proxy.client("alice")
        keys, _ = walk(s3, operation, Bucket=filled, PaginationConfig={"PageSize": page_size})
        assert keys == KEYS
        keys, prefixes = walk(
            s3, operation, Bucket=filled, Delimiter="/", PaginationConfig={"PageSize": page_size}
        )
        assert keys == ["readme.txt", "zeta"]
        assert prefixes == ["docs/", "photos/"]
        keys, prefixes = walk(
            s3,
            operation,
            Bucket=filled,
            Prefix="photos/",
            Delimiter="/",
            PaginationConfig={"PageSize": page_size},
        )
        assert keys == ["photos/index.html"]
        assert prefixes == ["photos/2024/", "photos/2025/"]

    def test_start_after_and_entry_fields(self, proxy: Proxy, filled: str) -> None:
        s3 = proxy.client("alice")
        page = s3.list_objects_v2(Bucket=filled, StartAfter="photos/2025/005.jpg", MaxKeys=3)
        assert [o["Key"] for o in page["Contents"]] == [
            "photos/2025/006.jpg",
            "photos/index.html",
            "readme.txt",
        ]
        assert page["KeyCount"] == 3
        assert page["IsTruncated"] is True
        item = page["Contents"][0]
        assert item["Size"] == len("photos/2025/006.jpg")
        assert item["ETag"] == '"' + hashlib.md5(b"photos/2025/006.jpg").hexdigest() + '"'
        assert item["LastModified"]
        assert item["StorageClass"] == "STANDARD"

    def test_fetch_owner(self, proxy: Proxy, filled: str) -> None:
        s3 = proxy.client("alice")
        page = s3.list_objects_v2(Bucket=filled, MaxKeys=1, FetchOwner=True)
        owner = {"ID": derived_owner_id("alice"), "DisplayName": "alice"}
        assert page["Contents"][0]["Owner"] == owner
        assert "Owner" not in s3.list_objects_v2(Bucket=filled, MaxKeys=1)["Contents"][0]

    def test_max_keys_is_capped_at_1000(self, proxy: Proxy, filled: str) -> None:
        page = proxy.client("alice").list_objects_v2(Bucket=filled, MaxKeys=5000)
        assert page["MaxKeys"] == 1000

    def test_url_encoding_of_odd_keys(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        odd = ["sp ace", "plus+sign", "ctl\x01char", "uni/ü"]
        for key in odd:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert sorted(walk(s3, "list_objects_v2", Bucket=bucket)[0]) == sorted(odd)
        ak, sk = proxy.keys("alice")
        raw = signed(
            "GET", object_url(proxy.endpoint, bucket, None, "encoding-type=url&list-type=2"), ak, sk
        )
        assert b"<Key>ctl%01char</Key>" in raw.body
        assert b"<EncodingType>url</EncodingType>" in raw.body

    def test_token_of_another_bucket_is_refused(self, proxy: Proxy, filled: str) -> None:
        s3 = proxy.client("alice")
        token = s3.list_objects_v2(Bucket=filled, MaxKeys=2)["NextContinuationToken"]
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket="docs", MaxKeys=2, ContinuationToken=token)
        assert code_of(caught) == "InvalidArgument"
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket=filled, MaxKeys=2, ContinuationToken=token, Prefix="p")
        assert code_of(caught) == "InvalidArgument"
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket=filled, ContinuationToken=token[:-2] + "AA")
        assert code_of(caught) == "InvalidArgument"

    def test_other_tenant_sees_nothing(self, proxy: Proxy, filled: str) -> None:
        with pytest.raises(ClientError) as caught:
            proxy.client("bob").list_objects_v2(Bucket=filled)
        assert code_of(caught) == "NoSuchBucket"


class TestCopy:
    def test_copy_keeps_or_replaces_metadata(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        s3.put_object(
            Bucket=bucket, Key="src", Body=b"payload", ContentType="text/x-a", Metadata={"m": "1"}
        )
        result = s3.copy_object(
            Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"}
        )
        assert result["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(b"payload").hexdigest() + '"'
        head = s3.head_object(Bucket=bucket, Key="copy")
        assert (head["ContentType"], head["Metadata"]) == ("text/x-a", {"m": "1"})
        s3.copy_object(
            Bucket=bucket,
            Key="copy2",
            CopySource=f"{bucket}/src",
            MetadataDirective="REPLACE",
            ContentType="text/x-b",
            Metadata={"n": "2"},
        )
        head = s3.head_object(Bucket=bucket, Key="copy2")
        assert (head["ContentType"], head["Metadata"]) == ("text/x-b", {"n": "2"})
        assert s3.get_object(Bucket=bucket, Key="copy2")["Body"].read() == b"payload"

    def test_copy_onto_itself_needs_replace(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"v": "1"})
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
        assert code_of(caught) == "InvalidRequest"
        s3.copy_object(
            Bucket=bucket,
            Key="self",
            CopySource={"Bucket": bucket, "Key": "self"},
            MetadataDirective="REPLACE",
            Metadata={"v": "2"},
        )
        assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"v": "2"}

    def test_cross_bucket_and_conditionals(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        etag = s3.put_object(Bucket=bucket, Key="a b+c", Body=b"moved")["ETag"]
        s3.copy_object(
            Bucket="alice-photos",
            Key="copied",
            CopySource={"Bucket": bucket, "Key": "a b+c"},
            CopySourceIfMatch=etag,
        )
        assert s3.get_object(Bucket="alice-photos", Key="copied")["Body"].read() == b"moved"
        with pytest.raises(ClientError) as caught:
            s3.copy_object(
                Bucket=bucket,
                Key="x",
                CopySource={"Bucket": bucket, "Key": "a b+c"},
                CopySourceIfMatch='"0000"',
            )
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
        assert code_of(caught) == "NoSuchKey"

    def test_copy_from_another_tenant_is_refused(self, proxy: Proxy, bucket: str) -> None:
        proxy.client("alice").put_object(Bucket=bucket, Key="mine", Body=b"secret")
        bob = proxy.client("bob")
        with pytest.raises(ClientError) as caught:
            bob.copy_object(
                Bucket="shared", Key="stolen", CopySource={"Bucket": bucket, "Key": "mine"}
            )
        assert code_of(caught) == "NoSuchBucket"
        with pytest.raises(ClientError) as caught:
            bob.copy_object(
                Bucket="shared",
                Key="stolen",
                CopySource={"Bucket": "alice-photos", "Key": "copied"},
            )
        assert code_of(caught) == "AccessDenied"

    def test_version_id_in_copy_source_is_rejected(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        s3.put_object(Bucket=bucket, Key="v", Body=b"x")
        with pytest.raises(ClientError) as caught:
            s3.copy_object(
                Bucket=bucket, Key="w", CopySource={"Bucket": bucket, "Key": "v", "VersionId": "3"}
            )
        assert code_of(caught) == "InvalidArgument"  # malformed: issue 14, test_routing_refusals


class TestDeleteObjects:
    def test_boto3_delete_objects_with_crc32(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        for key in ("a", "b", "c/d"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        result = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("a", "c/d", "missing")]}
        )
        assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "c/d", "missing"]
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]
        quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
        assert "Deleted" not in quiet
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    def _post(self, proxy: Proxy, bucket: str, body: bytes, headers: dict[str, str]) -> Any:
        ak, sk = proxy.keys("alice")
        return signed(
            "POST",
            object_url(proxy.endpoint, bucket, None, "delete"),
            ak,
            sk,
            body=body,
            headers=headers,
        )

    def test_content_md5_is_required_and_verified(self, proxy: Proxy, bucket: str) -> None:
        proxy.client("alice").put_object(Bucket=bucket, Key="keep", Body=b"x")
        body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
        response = self._post(proxy, bucket, body, {})
        assert (response.status, response.error_code) == (400, "InvalidRequest")
        wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        response = self._post(proxy, bucket, body, {"Content-MD5": wrong})
        assert (response.status, response.error_code) == (400, "BadDigest")
        assert proxy.client("alice").head_object(Bucket=bucket, Key="keep")
        right = base64.b64encode(hashlib.md5(body).digest()).decode()
        assert self._post(proxy, bucket, body, {"Content-MD5": right}).status == 200

    def test_signed_payload_hash_is_verified(self, proxy: Proxy, bucket: str) -> None:
        proxy.client("alice").put_object(Bucket=bucket, Key="keep", Body=b"x")
        body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        ak, sk = proxy.keys("alice")
        response = signed(
            "POST",
            object_url(proxy.endpoint, bucket, None, "delete"),
            ak,
            sk,
            body=body,
            headers={"Content-MD5": md5},
            payload_hash=hashlib.sha256(b"something else").hexdigest(),
        )
        assert (response.status, response.error_code) == (400, "XAmzContentSHA256Mismatch")
        assert proxy.client("alice").head_object(Bucket=bucket, Key="keep")

    @pytest.mark.parametrize(
        "body",
        [
            b"<Delete><Object><Key>k</Key></Object>",
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>'
            b"<Delete><Object><Key>&x;</Key></Object></Delete>",
            b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
        ],
        ids=["truncated", "entity", "too-many"],
    )
    def test_hostile_or_malformed_xml(self, proxy: Proxy, bucket: str, body: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        response = self._post(proxy, bucket, body, {"Content-MD5": md5})
        assert (response.status, response.error_code) == (400, "MalformedXML")
