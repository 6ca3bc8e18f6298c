"""What ceph/s3-tests checks on multipart uploads, part copies, checksums and object
attributes, in our own words (buckets, headers, ACLs, CORS, tags:
tests/integration/test_s3tests_buckets.py). Each test names the s3-tests cases it stands for
and asserts AWS's answer on every lane; upstream limitations are in tests/expected_failures.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def status_code(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "s3m-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def upload(
    s3: Any,
    bucket: str,
    key: str,
    sizes: list[int],
    resend: tuple[int, ...] = (),
    **create: Any,
) -> tuple[str, bytes, list[dict[str, Any]]]:
    """s3-tests' _multipart_upload: one part per size (random bytes), parts in ``resend`` sent
    twice; the upload id, all bytes and the part list for Complete."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    data, parts = b"", []
    for number, size in enumerate(sizes, start=1):
        body = os.urandom(size)
        data += body
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]
        if number - 1 in resend:
            etag = s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]
        parts.append({"ETag": etag.strip('"'), "PartNumber": number})
    return upload_id, data, parts


def complete(s3: Any, bucket: str, key: str, upload_id: str, parts: list[dict[str, Any]]) -> Any:
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def check_ranges(s3: Any, bucket: str, key: str, data: bytes, step: int) -> None:
    """s3-tests' _check_content_using_range."""
    for start in range(0, len(data), step):
        end = min(start + step, len(data)) - 1
        answer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
        assert answer["ContentLength"] == end - start + 1
        assert answer["Body"].read() == data[start : end + 1]


class TestUploads:
    def test_complete_without_parts_is_malformed_xml(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_upload_empty."""
        s3 = proxy.client("alice")
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mymultipart")["UploadId"]
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(Bucket=bucket, Key="mymultipart", UploadId=upload_id)
        assert status_code(caught) == (400, "MalformedXML")

    def test_single_small_part_and_a_second_complete(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_upload_small."""
        s3 = proxy.client("alice")
        upload_id, _, parts = upload(s3, bucket, "mymultipart", [1])
        complete(s3, bucket, "mymultipart", upload_id, parts)
        assert s3.get_object(Bucket=bucket, Key="mymultipart")["ContentLength"] == 1
        again = complete(s3, bucket, "mymultipart", upload_id, parts)
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200

    def test_upload_with_metadata_resent_parts_and_ranges(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_upload, test_multipart_upload_resend_part,
        test_multipart_upload_contents, test_multipart_upload_overwrite_existing_object,
        test_multipart_upload_multiple_sizes (a last part of 100 KiB)."""
        s3 = proxy.client("alice")
        s3.put_object(Bucket=bucket, Key="mymultipart", Body=b"12345" * 1000)
        upload_id, data, parts = upload(
            s3,
            bucket,
            "mymultipart",
            [5 * MIB, 5 * MIB, 100 * 1024],
            resend=(0, 1),
            ContentType="text/bla",
            Metadata={"foo": "bar"},
        )
        first = complete(s3, bucket, "mymultipart", upload_id, parts)
        again = complete(s3, bucket, "mymultipart", upload_id, parts)
        assert again["ETag"] == first["ETag"]
        assert first["ETag"].strip('"').endswith("-3")
        answer = s3.get_object(Bucket=bucket, Key="mymultipart")
        assert (answer["ContentType"], answer["Metadata"]) == ("text/bla", {"foo": "bar"})
        assert answer["ContentLength"] == len(data)
        assert answer["Body"].read() == data
        check_ranges(s3, bucket, "mymultipart", data, 3 * MIB)

    def test_too_small_parts(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_upload_size_too_small: nothing is made of them."""
        s3 = proxy.client("alice")
        upload_id, _, parts = upload(s3, bucket, "mymultipart", [10 * 1024] * 10)
        with pytest.raises(ClientError) as caught:
            complete(s3, bucket, "mymultipart", upload_id, parts)
        assert status_code(caught) == (400, "EntityTooSmall")
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=bucket, Key="mymultipart")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    @pytest.mark.parametrize(
        ("number", "etag"),
        [(9999, None), (1, "ffffffffffffffffffffffffffffffff")],
    )
    def test_missing_part_or_wrong_etag_is_invalid_part(
        self, proxy: Proxy, bucket: str, number: int, etag: str | None
    ) -> None:
        """test_multipart_upload_missing_part, test_multipart_upload_incorrect_etag."""
        s3 = proxy.client("alice")
        upload_id, _, parts = upload(s3, bucket, "mymultipart", [1])
        parts = [{"ETag": etag or parts[0]["ETag"], "PartNumber": number}]
        with pytest.raises(ClientError) as caught:
            complete(s3, bucket, "mymultipart", upload_id, parts)
        assert status_code(caught) == (400, "InvalidPart")

    def test_abort_and_unknown_upload(self, proxy: Proxy, bucket: str) -> None:
        """test_abort_multipart_upload, test_abort_multipart_upload_not_found,
        test_atomic_multipart_upload_write."""
        s3 = proxy.client("alice")
        s3.put_object(Bucket=bucket, Key="mymultipart", Body=b"bar")
        upload_id, _, _ = upload(s3, bucket, "mymultipart", [5 * MIB, 1024])
        assert s3.get_object(Bucket=bucket, Key="mymultipart")["Body"].read() == b"bar"
        s3.abort_multipart_upload(Bucket=bucket, Key="mymultipart", UploadId=upload_id)
        assert s3.get_object(Bucket=bucket, Key="mymultipart")["Body"].read() == b"bar"
        assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
        with pytest.raises(ClientError) as caught:
            s3.list_parts(Bucket=bucket, Key="mymultipart", UploadId=upload_id)
        assert status_code(caught) == (404, "NoSuchUpload")
        with pytest.raises(ClientError) as caught:
            s3.abort_multipart_upload(Bucket=bucket, Key="mymultipart", UploadId="56788")
        assert status_code(caught) == (404, "NoSuchUpload")

    def test_list_uploads_with_owner(self, proxy: Proxy, bucket: str) -> None:
        """test_list_multipart_upload, test_list_multipart_upload_owner (one owner: another
        tenant cannot write into the bucket here)."""
        s3 = proxy.client("alice")
        owner = s3.list_buckets()["Owner"]
        ids = {
            s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]: key
            for key in ("mymultipart", "mymultipart", "mymultipart2")
        }
        listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
        assert {u["UploadId"]: u["Key"] for u in listed} == ids
        for item in listed:
            assert item["Initiator"]["ID"] == item["Owner"]["ID"] == owner["ID"]
            assert item["Owner"]["DisplayName"] == owner["DisplayName"]


class TestPartCopies:
    def source(self, s3: Any, bucket: str, key: str, size: int) -> bytes:
        data = os.urandom(size)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        return data

    def copy(
        self, s3: Any, bucket: str, source: dict[str, str], key: str, size: int, part: int
    ) -> None:
        """s3-tests' _multipart_copy then Complete."""
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        for number, start in enumerate(range(0, size, part), start=1):
            end = min(start + part, size) - 1
            answer = s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})
        complete(s3, bucket, key, upload_id, parts)

    def test_small_and_special_names(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_copy_small, test_multipart_copy_special_names."""
        s3 = proxy.client("alice")
        for name in ("foo", " ", "_", "__", "?versionId"):
            data = self.source(s3, bucket, name, 1024)
            self.copy(s3, bucket, {"Bucket": bucket, "Key": name}, "mymultipart", 1, 5 * MIB)
            answer = s3.get_object(Bucket=bucket, Key="mymultipart")
            assert (answer["ContentLength"], answer["Body"].read()) == (1, data[:1])

    def test_multiple_sizes(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_copy_multiple_sizes (two of its sizes)."""
        s3 = proxy.client("alice")
        data = self.source(s3, bucket, "foo", 10 * MIB + 100 * 1024)
        for size in (5 * MIB + 100 * 1024, 10 * MIB):
            self.copy(s3, bucket, {"Bucket": bucket, "Key": "foo"}, "mymultipart", size, 5 * MIB)
            assert s3.get_object(Bucket=bucket, Key="mymultipart")["Body"].read() == data[:size]

    def test_without_range(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_copy_without_range."""
        s3 = proxy.client("alice")
        data = self.source(s3, bucket, "source", 10)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
        answer = s3.upload_part_copy(
            Bucket=bucket,
            Key="dest",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "source"},
        )
        parts = [{"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": 1}]
        complete(s3, bucket, "dest", upload_id, parts)
        answer = s3.get_object(Bucket=bucket, Key="dest")
        assert (answer["ContentLength"], answer["Body"].read()) == (10, data)

    @pytest.mark.parametrize(
        ("copy_range", "statuses", "code"),
        [
            # test_multipart_copy_invalid_range: RGW's 416 InvalidRange; S3 answers 400
            # InvalidArgument (test_w18v2_part_copy_range)
            ("bytes=0-21", (400,), "InvalidArgument"),
            ("0-2", (400,), "InvalidArgument"),  # test_multipart_copy_improper_range …
            ("bytes=0", (400,), "InvalidArgument"),
            ("bytes=hello-world", (400,), "InvalidArgument"),
            ("bytes=0-bar", (400,), "InvalidArgument"),
            ("bytes=hello-", (400,), "InvalidArgument"),
            ("bytes=0-2,3-5", (400,), "InvalidArgument"),
        ],
    )
    def test_bad_ranges(
        self, proxy: Proxy, bucket: str, copy_range: str, statuses: tuple[int, ...], code: str
    ) -> None:
        s3 = proxy.client("alice")
        self.source(s3, bucket, "source", 5)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
        with pytest.raises(ClientError) as caught:
            s3.upload_part_copy(
                Bucket=bucket,
                Key="dest",
                UploadId=upload_id,
                PartNumber=1,
                CopySource={"Bucket": bucket, "Key": "source"},
                CopySourceRange=copy_range,
            )
        status, got = status_code(caught)
        assert status in statuses and got == code
        assert "Parts" not in s3.list_parts(Bucket=bucket, Key="dest", UploadId=upload_id)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class TestChecksums:
    def test_put_object_sha256(self, proxy: Proxy, bucket: str) -> None:
        """test_object_checksum_sha256: a wrong ChecksumSHA256 is 400 BadDigest, nothing
        stored; the right one is answered back."""
        s3 = proxy.client("alice")
        body = b"A" * 1024
        good = b64(hashlib.sha256(body).digest())
        with pytest.raises(ClientError) as caught:
            s3.put_object(
                Bucket=bucket,
                Key="foo",
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=b64(hashlib.sha256(b"other").digest()),
            )
        assert status_code(caught) == (400, "BadDigest")
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        answer = s3.put_object(
            Bucket=bucket, Key="foo", Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=good
        )
        assert answer["ChecksumSHA256"] == good

    def test_put_object_sha256_on_head(self, proxy: Proxy, bucket: str) -> None:
        """test_object_checksum_sha256, its HEAD with ChecksumMode ENABLED."""
        s3 = proxy.client("alice")
        body = b"A" * 1024
        good = b64(hashlib.sha256(body).digest())
        s3.put_object(
            Bucket=bucket, Key="foo", Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=good
        )
        assert "ChecksumSHA256" not in s3.head_object(Bucket=bucket, Key="foo")
        assert (
            s3.head_object(Bucket=bucket, Key="foo", ChecksumMode="ENABLED")["ChecksumSHA256"]
            == good
        )

    def test_multipart_sha256(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_checksum_sha256: a whole-object checksum that is not the upload's
        is 400 BadDigest (the object is not made); the composite one (-1) is answered back."""
        s3 = proxy.client("alice")
        body = b"A" * 1024
        part_sum = hashlib.sha256(body).digest()
        composite = b64(hashlib.sha256(part_sum).digest()) + "-1"
        for key, whole in (
            ("mymultipart", b64(hashlib.sha256(b"bad").digest()) + "-1"),
            ("mymultipart2", composite),
        ):
            created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
            assert created["ChecksumAlgorithm"] == "SHA256"
            part = s3.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=created["UploadId"],
                PartNumber=1,
                Body=body,
                ChecksumAlgorithm="SHA256",
            )
            assert part["ChecksumSHA256"] == b64(part_sum)
            parts = [
                {"ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"], "PartNumber": 1}
            ]
            finish: dict[str, Any] = {
                "Bucket": bucket,
                "Key": key,
                "UploadId": created["UploadId"],
                "ChecksumSHA256": whole,
                "MultipartUpload": {"Parts": parts},
            }
            if whole != composite:
                with pytest.raises(ClientError) as caught:
                    s3.complete_multipart_upload(**finish)
                assert status_code(caught) == (400, "BadDigest")
                with pytest.raises(ClientError):
                    s3.head_object(Bucket=bucket, Key=key)
            else:
                assert s3.complete_multipart_upload(**finish)["ChecksumSHA256"] == composite


class TestPartNumberReads:
    def test_get_part_of_a_multipart_object(self, proxy: Proxy, bucket: str) -> None:
        """test_multipart_get_part, test_multipart_single_get_part: each part with PartsCount;
        a part past the last one is 416 InvalidPartNumber (AWS; s3-tests expects RGW's 400
        InvalidPart)."""
        s3 = proxy.client("alice")
        upload_id, data, parts = upload(s3, bucket, "mymultipart", [5 * MIB, 1024])
        etag = complete(s3, bucket, "mymultipart", upload_id, parts)["ETag"]
        offset = 0
        for number, size in ((1, 5 * MIB), (2, 1024)):
            answer = s3.get_object(Bucket=bucket, Key="mymultipart", PartNumber=number)
            assert (answer["PartsCount"], answer["ETag"], answer["ContentLength"]) == (
                2,
                etag,
                size,
            )
            assert answer["Body"].read() == data[offset : offset + size]
            offset += size
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=bucket, Key="mymultipart", PartNumber=3)
        assert status_code(caught) == (416, "InvalidPartNumber")

    def test_get_part_of_a_plain_object(self, proxy: Proxy, bucket: str) -> None:
        """test_non_multipart_get_part: part 1 is the whole object; part 2 is 416
        InvalidPartNumber (AWS; s3-tests expects RGW's 400 InvalidPart)."""
        s3 = proxy.client("alice")
        etag = s3.put_object(Bucket=bucket, Key="foo", Body=b"body")["ETag"]
        answer = s3.get_object(Bucket=bucket, Key="foo", PartNumber=1)
        assert (answer["ETag"], answer["Body"].read()) == (etag, b"body")
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=bucket, Key="foo", PartNumber=2)
        assert status_code(caught) == (416, "InvalidPartNumber")


def test_object_attributes(proxy: Proxy, bucket: str) -> None:
    """test_get_object_attributes (single object, and a multipart one's part count)."""
    s3 = proxy.client("alice")
    etag = s3.put_object(Bucket=bucket, Key="foo", Body=b"A" * 1024)["ETag"]
    wanted = ["ETag", "ObjectSize", "StorageClass", "ObjectParts"]
    answer = s3.get_object_attributes(Bucket=bucket, Key="foo", ObjectAttributes=wanted)
    assert (answer["ETag"], answer["ObjectSize"], answer["StorageClass"]) == (
        etag.strip('"'),
        1024,
        "STANDARD",
    )
    assert "ObjectParts" not in answer
    upload_id, _, parts = upload(s3, bucket, "mymultipart", [5 * MIB, 1024])
    complete(s3, bucket, "mymultipart", upload_id, parts)
    answer = s3.get_object_attributes(Bucket=bucket, Key="mymultipart", ObjectAttributes=wanted)
    assert answer["ObjectParts"]["TotalPartsCount"] == 2
    assert answer["ObjectSize"] == 5 * MIB + 1024
