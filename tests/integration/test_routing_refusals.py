"""Issue 14: every request is carried out exactly or refused, never served as another operation.

Raw requests (tests/support/s3http.py) send the wire forms botocore cannot; boto3 the rest. Each
refusal is followed by a read that proves nothing was stored, overwritten or deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

WELL_FORMED = "v5n1PPUjOCMHLyyfq0ayjoZ5RZLfVQKA"  # the shape of a version id S3 issues
ORIGINAL = b"original bytes"


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """A fresh bucket of alice's holding ``k`` = ORIGINAL; emptied and removed afterwards."""
    name = "r-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=ORIGINAL)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def raw(
    proxy: Proxy,
    method: str,
    bucket: str,
    key: str | None = None,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, key, query)
    return signed(method, url, access_key, secret_key, headers, body)


def body_of(proxy: Proxy, bucket: str, key: str = "k") -> bytes:
    return bytes(proxy.client("alice").get_object(Bucket=bucket, Key=key)["Body"].read())


def keys_of(proxy: Proxy, bucket: str) -> list[str]:
    listing = proxy.client("alice").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def bucket_exists(proxy: Proxy, bucket: str) -> bool:
    try:
        proxy.client("alice").head_bucket(Bucket=bucket)
    except ClientError as error:
        assert error.response["Error"]["Code"] in ("404", "NoSuchBucket")
        return False
    return True


def error_field(response: RawResponse, name: str) -> str | None:
    import xml.etree.ElementTree as ET

    return ET.fromstring(response.body).findtext(name)


def code_of(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.mark.one_lane  # refused by the routing table, before any backend call
class TestUnservedSubResources:
    @pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
    def test_annotation_on_an_object_touches_nothing(
        self, proxy: Proxy, bucket: str, method: str
    ) -> None:
        response = raw(
            proxy, method, bucket, "k", "annotation", b"<Annotation/>" * (method == "PUT")
        )
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert b"annotation" in response.body
        assert ORIGINAL not in response.body
        assert body_of(proxy, bucket) == ORIGINAL

    def test_delete_metadata_configuration_keeps_an_empty_bucket(self, proxy: Proxy) -> None:
        name = "r-" + os.urandom(5).hex()
        s3 = proxy.client("alice")
        s3.create_bucket(Bucket=name)
        try:
            response = raw(proxy, "DELETE", name, None, "metadataConfiguration")
            assert (response.status, response.error_code) == (501, "NotImplemented")
            assert bucket_exists(proxy, name)
        finally:
            s3.delete_bucket(Bucket=name)

    @pytest.mark.parametrize("query", ["abac", "metadataConfiguration", "website", "policy"])
    def test_get_forms_answer_no_listing(self, proxy: Proxy, bucket: str, query: str) -> None:
        response = raw(proxy, "GET", bucket, None, query)
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert b"ListBucketResult" not in response.body

    def test_put_abac_does_not_create_a_bucket(self, proxy: Proxy) -> None:
        name = "r-" + os.urandom(5).hex()
        response = raw(proxy, "PUT", name, None, "abac")
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert not bucket_exists(proxy, name)

    def test_refusal_needs_authentication_first(self, proxy: Proxy, bucket: str) -> None:
        from tests.support.s3http import send

        url = object_url(proxy.endpoint, bucket, "k", "annotation")
        response = send("DELETE", url, {"Host": proxy.host})
        assert response.status == 403
        assert body_of(proxy, bucket) == ORIGINAL


@pytest.mark.one_lane  # refused by the routing table, before any backend call
class TestUnknownQueryNames:
    @pytest.mark.parametrize("query", ["fooBar", "fooBar="])
    def test_object_forms_are_refused_and_change_nothing(
        self, proxy: Proxy, bucket: str, query: str
    ) -> None:
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD"):
            response = raw(proxy, method, bucket, "k", query, b"new" * (method == "PUT"))
            assert response.status == 501, method
            if method != "HEAD":
                assert response.error_code == "NotImplemented"
                assert b"fooBar" in response.body
        assert body_of(proxy, bucket) == ORIGINAL
        assert keys_of(proxy, bucket) == ["k"]

    def test_bucket_forms_are_refused_and_change_nothing(self, proxy: Proxy, bucket: str) -> None:
        proxy.client("alice").delete_object(Bucket=bucket, Key="k")  # an empty bucket
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD"):
            response = raw(proxy, method, bucket, None, "fooBar")
            assert response.status == 501, method
        assert bucket_exists(proxy, bucket)

    def test_put_on_a_new_name_creates_nothing(self, proxy: Proxy) -> None:
        name = "r-" + os.urandom(5).hex()
        response = raw(proxy, "PUT", name, None, "fooBar")
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert not bucket_exists(proxy, name)

    def test_upload_id_without_part_number_is_not_a_put(self, proxy: Proxy, bucket: str) -> None:
        response = raw(proxy, "PUT", bucket, "k", "uploadId=abc", b"new")
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert body_of(proxy, bucket) == ORIGINAL


@pytest.mark.one_lane  # refused by the routing table, before any backend call
class TestMethodNotAllowed:
    @pytest.mark.parametrize(("method", "key"), [("POST", "k"), ("PATCH", "k"), ("PATCH", None)])
    def test_method_s3_does_not_define(
        self, proxy: Proxy, bucket: str, method: str, key: str | None
    ) -> None:
        response = raw(proxy, method, bucket, key, "", b"new")
        assert (response.status, response.error_code) == (405, "MethodNotAllowed")
        assert error_field(response, "Method") == method
        assert error_field(response, "ResourceType") == ("OBJECT" if key else "BUCKET")
        assert body_of(proxy, bucket) == ORIGINAL


class TestVersionId:
    def test_null_addresses_the_object(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        got = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
        assert got["Body"].read() == ORIGINAL
        assert s3.head_object(Bucket=bucket, Key="k", VersionId="null")["ContentLength"] == len(
            ORIGINAL
        )
        s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
        assert keys_of(proxy, bucket) == []

    @pytest.mark.parametrize(
        ("version", "status", "code"),
        [(WELL_FORMED, 404, "NoSuchVersion"), ("3", 400, "InvalidArgument")],
    )
    @pytest.mark.parametrize("method", ["GET", "DELETE"])
    def test_another_version_reads_and_deletes_nothing(
        self, proxy: Proxy, bucket: str, method: str, version: str, status: int, code: str
    ) -> None:
        response = raw(proxy, method, bucket, "k", f"versionId={version}")
        assert (response.status, response.error_code) == (status, code)
        assert ORIGINAL not in response.body
        if code == "NoSuchVersion":
            assert (error_field(response, "Key"), error_field(response, "VersionId")) == (
                "k",
                version,
            )
        else:
            assert error_field(response, "ArgumentName") == "versionId"
        assert body_of(proxy, bucket) == ORIGINAL

    @pytest.mark.parametrize(("version", "status"), [(WELL_FORMED, 404), ("3", 400)])
    def test_head_of_another_version(
        self, proxy: Proxy, bucket: str, version: str, status: int
    ) -> None:
        response = raw(proxy, "HEAD", bucket, "k", f"versionId={version}")
        assert response.status == status

    def test_unknown_bucket_is_still_no_such_bucket(self, proxy: Proxy) -> None:
        response = raw(proxy, "GET", "r-" + os.urandom(5).hex(), "k", f"versionId={WELL_FORMED}")
        assert response.error_code == "NoSuchBucket"

    def test_empty_version_id(self, proxy: Proxy, bucket: str) -> None:
        response = raw(proxy, "DELETE", bucket, "k", "versionId=")
        assert (response.status, response.error_code) == (400, "InvalidArgument")
        assert body_of(proxy, bucket) == ORIGINAL

    def test_put_with_a_version_id_is_refused(self, proxy: Proxy, bucket: str) -> None:
        response = raw(proxy, "PUT", bucket, "k", "versionId=null", b"new")
        assert (response.status, response.error_code) == (501, "NotImplemented")
        assert body_of(proxy, bucket) == ORIGINAL

    @pytest.mark.parametrize(
        ("version", "code"), [(WELL_FORMED, "NoSuchVersion"), ("3", "InvalidArgument")]
    )
    def test_copy_source_version_copies_nothing(
        self, proxy: Proxy, bucket: str, version: str, code: str
    ) -> None:
        s3 = proxy.client("alice")
        with pytest.raises(ClientError) as caught:
            s3.copy_object(
                Bucket=bucket,
                Key="copy",
                CopySource={"Bucket": bucket, "Key": "k", "VersionId": version},
            )
        assert code_of(caught) == code
        assert keys_of(proxy, bucket) == ["k"]

    def test_copy_source_null_version_copies(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "k", "VersionId": "null"},
        )
        assert body_of(proxy, bucket, "copy") == ORIGINAL

    def test_upload_part_copy_with_a_version_copies_nothing(
        self, proxy: Proxy, bucket: str
    ) -> None:
        s3 = proxy.client("alice")
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        try:
            with pytest.raises(ClientError) as caught:
                s3.upload_part_copy(
                    Bucket=bucket,
                    Key="mp",
                    UploadId=upload,
                    PartNumber=1,
                    CopySource={"Bucket": bucket, "Key": "k", "VersionId": WELL_FORMED},
                )
            assert code_of(caught) == "NoSuchVersion"
            assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload).get("Parts", []) == []
            s3.upload_part_copy(
                Bucket=bucket,
                Key="mp",
                UploadId=upload,
                PartNumber=1,
                CopySource={"Bucket": bucket, "Key": "k", "VersionId": "null"},
            )
            assert len(s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]) == 1
        finally:
            s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)

    def test_delete_objects_entries(self, proxy: Proxy, bucket: str) -> None:
        s3 = proxy.client("alice")
        for key in ("a", "b", "c", "d"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        objects: list[dict[str, Any]] = [
            {"Key": "a"},
            {"Key": "b", "VersionId": "null"},
            {"Key": "c", "VersionId": WELL_FORMED},
            {"Key": "d", "VersionId": "3"},
        ]
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        deleted = {item["Key"]: item.get("VersionId") for item in result["Deleted"]}
        assert deleted == {"a": None, "b": "null"}
        errors = {
            item["Key"]: (item.get("VersionId"), item["Code"], item["Message"])
            for item in result["Errors"]
        }
        assert errors == {
            "c": (WELL_FORMED, "NoSuchVersion", "The specified version does not exist."),
            "d": ("3", "NoSuchVersion", "The specified version does not exist."),
        }
        assert keys_of(proxy, bucket) == ["c", "d", "k"]


VERSIONING = '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{}</VersioningConfiguration>'


class TestPutBucketVersioning:
    @pytest.mark.parametrize(
        "configuration",
        [{"Status": "Enabled"}, {"Status": "Suspended"}, {"MFADelete": "Enabled"}],
    )
    def test_enabling_anything_is_not_implemented(
        self, proxy: Proxy, bucket: str, configuration: dict[str, str]
    ) -> None:
        s3 = proxy.client("alice")
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=configuration)
        assert code_of(caught) == "NotImplemented"
        assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)

    @pytest.mark.parametrize("inner", ["", "<MfaDelete>Disabled</MfaDelete>"])
    def test_asking_for_nothing_new_is_accepted(
        self, proxy: Proxy, bucket: str, inner: str
    ) -> None:
        response = raw(proxy, "PUT", bucket, None, "versioning", VERSIONING.format(inner).encode())
        assert response.status == 200, response.body
        versioning = proxy.client("alice").get_bucket_versioning(Bucket=bucket)
        assert "Status" not in versioning and "MFADelete" not in versioning
        assert body_of(proxy, bucket) == ORIGINAL

    @pytest.mark.parametrize(
        "body", [b"", b"<CreateBucketConfiguration/>", VERSIONING.format("<Status>On</Status>")]
    )
    def test_malformed(self, proxy: Proxy, bucket: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        response = raw(proxy, "PUT", bucket, None, "versioning", data)
        assert (response.status, response.error_code) == (400, "MalformedXML")

    @pytest.mark.parametrize("body", [b"", VERSIONING.format("").encode()])
    def test_unknown_bucket_is_not_created(self, proxy: Proxy, body: bytes) -> None:
        name = "r-" + os.urandom(5).hex()
        response = raw(proxy, "PUT", name, None, "versioning", body)
        assert (response.status, response.error_code) == (404, "NoSuchBucket")
        assert not bucket_exists(proxy, name)
