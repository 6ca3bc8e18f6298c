"""Multipart uploads through the proxy, SeaweedFS upstream: boto3 transfers (50 MiB and a sparse
file of up to 1 GiB), aws-cli `s3 cp`, the error cases of CompleteMultipartUpload, stateless upload
ids (bound to tenant, bucket and key; shared by two replicas), UploadPartCopy and partNumber reads.

Listing uploads in order across shards and Ceph RGW's quirks are in test_multipart_upstreams.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3proxy import tokens
from s3proxy.owner import derived_owner_id
from tests.integration.conftest import (
    HOME_BUCKET,
    SERVER_SECRET,
    Proxy,
    start_proxy,
    upstream_key,
)
from tests.support.clients import clean_env, executable
from tests.support.processes import SeaweedFS
from tests.support.s3http import aws_chunked_headers, object_url, send, sign, signed

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def status_of(excinfo: pytest.ExceptionInfo[ClientError]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """A fresh bucket of alice's; its uploads aborted and objects deleted afterwards."""
    name = "mp-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def upload(s3: Any, bucket: str, key: str, parts: list[bytes], **create: Any) -> dict[str, Any]:
    """Create, upload ``parts`` in order, complete: the Complete response."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in enumerate(parts, start=1)
    ]
    result: dict[str, Any] = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    return result


# --- real clients ------------------------------------------------------------------------------


def test_boto3_upload_and_download_file_50mib(proxy: Proxy, bucket: str, tmp_path: Path) -> None:
    s3 = proxy.client("alice")
    data = os.urandom(50 * MiB)
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(source), bucket, "big/50MiB.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/50MiB.bin")
    chunks = [data[i : i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    assert head["ETag"] == multipart_etag(chunks)
    assert head["ETag"].endswith('-7"')
    s3.download_file(bucket, "big/50MiB.bin", str(target), Config=config)
    assert file_sha256(target) == hashlib.sha256(data).hexdigest()


def test_boto3_sparse_file_round_trip_of_up_to_1gib(
    proxy: Proxy, backend: str, bucket: str, tmp_path: Path
) -> None:
    """A large file that costs no disk on the client side (a sparse file: all zeros): 1 GiB on
    SeaweedFS, through the S3 upstream's streaming path both ways; 160 MiB (ten 16 MiB parts,
    more than the eight in flight) on Ceph RGW, whose memstore OSD holds it in memory, and on
    the local store: there the size proves nothing more (the same code streams it), and the
    two 1 GiB runs took a third of this module's time."""
    size, chunk = (1024 if backend == "seaweedfs" else 160) * MiB, 16 * MiB
    source, target = tmp_path / "sparse.bin", tmp_path / "back.bin"
    with source.open("wb") as stream:
        stream.truncate(size)
    s3 = proxy.client("alice")
    config = TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=chunk, max_concurrency=8
    )
    try:
        s3.upload_file(str(source), bucket, "sparse.bin", Config=config)
        head = s3.head_object(Bucket=bucket, Key="sparse.bin")
        part_md5 = hashlib.md5(bytes(chunk)).digest()
        expected = hashlib.md5(part_md5 * (size // chunk)).hexdigest()
        assert head["ETag"] == f'"{expected}-{size // chunk}"'
        assert head["ContentLength"] == size
        s3.download_file(bucket, "sparse.bin", str(target), Config=config)
        assert target.stat().st_size == size
        assert file_sha256(target) == file_sha256(source)
    finally:
        target.unlink(missing_ok=True)
        s3.delete_object(Bucket=bucket, Key="sparse.bin")


def test_awscli_cp_over_8mib_is_multipart_both_ways(
    proxy: Proxy, bucket: str, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")  # default settings: multipart > 8 MiB
    ak, sk = proxy.keys("alice")
    env = clean_env()
    env.update(
        AWS_ACCESS_KEY_ID=ak,
        AWS_SECRET_ACCESS_KEY=sk,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    aws = executable("aws", "awscli")
    data = os.urandom(9 * MiB + 123)
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    source.write_bytes(data)
    for args in (
        ["s3", "cp", str(source), f"s3://{bucket}/cli/file.bin"],
        ["s3", "cp", f"s3://{bucket}/cli/file.bin", str(target)],
    ):
        result = subprocess.run(
            [aws, "--endpoint-url", proxy.endpoint, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
    head = proxy.client("alice").head_object(Bucket=bucket, Key="cli/file.bin")
    assert head["ETag"] == multipart_etag([data[: 8 * MiB], data[8 * MiB :]])
    assert target.read_bytes() == data


@pytest.mark.parametrize("signature_v2", [False, True], ids=["sigv4", "sigv2"])
def test_s3cmd_multipart_put_and_get(
    proxy: Proxy, bucket: str, tmp_path: Path, signature_v2: bool
) -> None:
    ak, sk = proxy.keys("alice")
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {ak}\nsecret_key = {sk}\n"
        f"host_base = 127.0.0.1:{proxy.port}\nhost_bucket = 127.0.0.1:{proxy.port}\n"
        f"use_https = False\nsignature_v2 = {signature_v2}\n"
    )
    data = os.urandom(11 * MiB)
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    source.write_bytes(data)
    for args in (
        ["put", "--multipart-chunk-size-mb=5", str(source), f"s3://{bucket}/s3cmd.bin"],
        ["get", f"s3://{bucket}/s3cmd.bin", str(target)],
    ):
        result = subprocess.run(
            [executable("s3cmd", "s3cmd"), "-c", str(config), *args],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_bytes() == data
    head = proxy.client("alice").head_object(Bucket=bucket, Key="s3cmd.bin")
    assert head["ETag"] == multipart_etag(
        [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    )


# --- the upload life cycle ---------------------------------------------------------------------


def test_parts_out_of_order_and_reuploaded(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key="ooo", ContentType="text/x-test", Metadata={"colour": "blue"}
    )["UploadId"]
    first, replaced, last = os.urandom(5 * MiB), os.urandom(5 * MiB), b"the end"
    part = {"Bucket": bucket, "Key": "ooo", "UploadId": upload_id}
    etag2 = s3.upload_part(**part, PartNumber=2, Body=last)["ETag"]
    s3.upload_part(**part, PartNumber=1, Body=first)
    etag1 = s3.upload_part(**part, PartNumber=1, Body=replaced)["ETag"]
    assert etag1 == f'"{hashlib.md5(replaced).hexdigest()}"'
    done = s3.complete_multipart_upload(
        **part,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]
        },
    )
    assert done["ETag"] == multipart_etag([replaced, last])
    assert (done["Bucket"], done["Key"]) == (bucket, "ooo")
    assert done["Location"].endswith(f"/{bucket}/ooo")
    got = s3.get_object(Bucket=bucket, Key="ooo")
    assert got["Body"].read() == replaced + last
    assert (got["ContentType"], got["Metadata"]) == ("text/x-test", {"colour": "blue"})
    assert got["ETag"] == done["ETag"]


def test_list_parts_across_pages_then_abort(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    ids = {"Bucket": bucket, "Key": "parts", "UploadId": upload_id}
    bodies = {n: f"part {n}".encode() * n for n in range(1, 6)}
    for number, body in bodies.items():
        s3.upload_part(**ids, PartNumber=number, Body=body)
    page = s3.list_parts(**ids, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    assert page["UploadId"] == upload_id and page["Key"] == "parts"
    page = s3.list_parts(**ids, MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [3, 4]
    listed = [
        part
        for page in s3.get_paginator("list_parts").paginate(**ids, MaxParts=2)
        for part in page["Parts"]
    ]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed] == [
        (n, len(body), f'"{hashlib.md5(body).hexdigest()}"') for n, body in bodies.items()
    ]
    s3.abort_multipart_upload(**ids)
    for call in (
        lambda: s3.list_parts(**ids),
        lambda: s3.upload_part(**ids, PartNumber=1, Body=b"late"),
        lambda: s3.complete_multipart_upload(
            **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": listed[0]["ETag"]}]}
        ),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert (status_of(caught), code_of(caught)) == (404, "NoSuchUpload")


def test_failed_complete_leaves_nothing_and_the_upload_usable(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    key = "complete-errors"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    ids = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    small = s3.upload_part(**ids, PartNumber=1, Body=b"too small")["ETag"]
    last = s3.upload_part(**ids, PartNumber=2, Body=b"last")["ETag"]
    wrong = '"' + "0" * 32 + '"'
    for parts, code in (
        ([(1, wrong), (2, last)], "InvalidPart"),
        ([(2, last), (1, small)], "InvalidPartOrder"),
        ([(1, small), (1, small)], "InvalidPartOrder"),
        ([(1, small), (2, last)], "EntityTooSmall"),
    ):
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                **ids,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
        assert (status_of(caught), code_of(caught)) == (400, code), parts
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket=bucket, Key=key)
        assert status_of(missing) == 404
    # The upload survived every failure: fix part 1 and complete.
    big = os.urandom(5 * MiB)
    fixed = s3.upload_part(**ids, PartNumber=1, Body=big)["ETag"]
    done = s3.complete_multipart_upload(
        **ids,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": fixed}, {"PartNumber": 2, "ETag": last}]
        },
    )
    assert done["ETag"] == multipart_etag([big, b"last"])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == big + b"last"


def test_unknown_upload_ids_are_no_such_upload(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    parts = {"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}
    # A made-up id, and a genuine token for an upload the upstream does not have.
    forged = tokens.issue(SERVER_SECRET, "upload", ("alice", bucket, "k"), {"u": "no-such-id"})
    for upload_id in ("made-up", forged):
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=parts
            )
        assert (status_of(caught), code_of(caught)) == (404, "NoSuchUpload")
        with pytest.raises(ClientError) as caught:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
        assert code_of(caught) == "NoSuchUpload"


def test_upload_id_is_bound_to_tenant_bucket_and_key(proxy: Proxy, bucket: str) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    upload_id = alice.create_multipart_upload(Bucket="shared", Key="mine")["UploadId"]
    try:
        for client, target_bucket, key in (
            (alice, "shared", "other"),
            (alice, bucket, "mine"),
            (bob, "shared", "mine"),  # bob has a bucket of that name, with that key
        ):
            ids = {"Bucket": target_bucket, "Key": key, "UploadId": upload_id}
            for operation, extra in (
                ("upload_part", {"PartNumber": 1, "Body": b"x"}),
                ("list_parts", {}),
                ("abort_multipart_upload", {}),
            ):
                with pytest.raises(ClientError) as caught:
                    getattr(client, operation)(**ids, **extra)
                assert code_of(caught) == "NoSuchUpload", (operation, target_bucket, key)
        # Nothing upstream leaks through the id: it names no upstream bucket or key.
        payload = base64.urlsafe_b64decode(upload_id + "=" * (-len(upload_id) % 4))[16:]
        assert HOME_BUCKET.encode() not in payload and b"alice/" not in payload
        assert set(json.loads(payload)) == {"u"}
    finally:
        alice.abort_multipart_upload(Bucket="shared", Key="mine", UploadId=upload_id)


def test_failed_upload_part_leaves_the_upload_usable(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    key = "retried"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, key, f"partNumber=1&uploadId={upload_id}")
    body = os.urandom(300_000)
    for headers, code in (
        ({"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}, "BadDigest"),
        ({"x-amz-checksum-crc32": crc32(b"other")}, "BadDigest"),
    ):
        response = signed("PUT", url, ak, sk, headers, body)
        assert (response.status, response.error_code) == (400, code)
    assert s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", []) == []
    good = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    response = signed("PUT", url, ak, sk, good, body)
    assert response.status == 200, response.body
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": response.header("ETag")}]},
    )
    assert done["ETag"] == multipart_etag([body])


def test_upload_part_as_aws_chunked_with_trailer(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="chunked")["UploadId"]
    data = os.urandom(200_000)
    wire = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, "chunked", f"partNumber=1&uploadId={upload_id}")
    for trailer, status in ((crc32(b"wrong"), 400), (crc32(data), 200)):
        body = wire + f"x-amz-checksum-crc32:{trailer}\r\n\r\n".encode()
        headers = sign(
            "PUT",
            url,
            ak,
            sk,
            aws_chunked_headers(len(data), "x-amz-checksum-crc32"),
            payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        )
        response = send("PUT", url, headers, body)
        assert response.status == status, response.body
    assert response.header("x-amz-checksum-crc32") == crc32(data)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="chunked",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": response.header("ETag")}]},
    )
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data
    assert done["ETag"] == multipart_etag([data])


def test_per_part_checksums_are_checked_on_complete(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    key = "checksummed"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    ids = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    one, two = os.urandom(5 * MiB), b"two"
    sent = [
        s3.upload_part(**ids, PartNumber=number, Body=body, ChecksumAlgorithm="CRC32")
        for number, body in ((1, one), (2, two))
    ]
    assert sent[0]["ChecksumCRC32"] == crc32(one)
    good = [
        {"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}
        for n, r in ((1, sent[0]), (2, sent[1]))
    ]
    for parts, code in (
        ([{**good[0], "ChecksumCRC32": crc32(b"not it")}, good[1]], "InvalidPart"),  # as S3
        ([good[0], {"PartNumber": 2, "ETag": sent[1]["ETag"]}], "InvalidRequest"),
        ([good[0], {**good[1], "ChecksumCRC32": "not base64!"}], "InvalidArgument"),
    ):
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
        assert code_of(caught) == code
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": good})
    assert done["ETag"] == multipart_etag([one, two])
    assert done.get("ChecksumCRC32", "").endswith("-2")


def test_complete_checks_the_checksum_type_it_names(proxy: Proxy, bucket: str) -> None:
    """``x-amz-checksum-type`` on Complete is optional; when sent it must be the upload's type
    (in any case), else S3's 400 InvalidRequest and the upload stays open: on an upload with a
    FULL_OBJECT CRC32 checksum and on one without any ("null")."""
    s3 = proxy.client("alice")
    expected = (
        "The upload was created using the {} checksum mode. The complete request must use the "
        "same checksum mode."
    )
    for create, named in (
        ({"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}, "FULL_OBJECT"),
        ({}, "null"),
    ):
        key = f"typed-{named}"
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
        ids = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        extra = {"ChecksumAlgorithm": "CRC32"} if create else {}
        sent = s3.upload_part(**ids, PartNumber=1, Body=b"typed", **extra)
        listed = {"PartNumber": 1, "ETag": sent["ETag"]}
        if create:
            listed["ChecksumCRC32"] = sent["ChecksumCRC32"]
        parts = {"Parts": [listed]}
        for wrong in ("COMPOSITE", "BOGUS"):
            with pytest.raises(ClientError) as caught:
                s3.complete_multipart_upload(**ids, MultipartUpload=parts, ChecksumType=wrong)
            assert (status_of(caught), code_of(caught)) == (400, "InvalidRequest")
            message = caught.value.response["Error"]["Message"]
            if wrong == "BOGUS":
                assert message == "Value for x-amz-checksum-type header is invalid."
            else:
                assert message == expected.format(named)
        if not create:
            s3.abort_multipart_upload(**ids)
            continue
        done = s3.complete_multipart_upload(
            **ids, MultipartUpload=parts, ChecksumType="full_object"
        )
        assert done["ChecksumCRC32"] == crc32(b"typed")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"typed"


@pytest.mark.parametrize(
    "body",
    [
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><CompleteMultipartUpload><Part>'
        b"<PartNumber>1</PartNumber><ETag>&x;</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload>"
        + b"<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>" * 10001
        + b"</CompleteMultipartUpload>",
    ],
    ids=["truncated", "entity", "no-parts", "too-many-parts"],
)
def test_hostile_or_malformed_complete_xml(proxy: Proxy, bucket: str, body: bytes) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="x")["UploadId"]
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, "x", f"uploadId={upload_id}")
    response = signed("POST", url, ak, sk, body=body)
    assert (response.status, response.error_code) == (400, "MalformedXML")


def test_bad_part_numbers_are_invalid_argument(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="n")["UploadId"]
    ak, sk = proxy.keys("alice")
    for number in ("0", "10001", "x", "-1"):
        url = object_url(proxy.endpoint, bucket, "n", f"partNumber={number}&uploadId={upload_id}")
        response = signed("PUT", url, ak, sk, body=b"data")
        assert (response.status, response.error_code) == (400, "InvalidArgument"), number


def test_two_replicas_serve_one_upload(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    """No upload state in a process: create on A, parts through A and B alternately, list on
    B, complete on B, read on A."""
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        replicas.append(start_proxy(seaweed, upstream_s3, tmp_path / name))
    try:
        a, b = (replica.client("alice") for replica in replicas)
        if "docs" not in {bucket["Name"] for bucket in a.list_buckets()["Buckets"]}:
            a.create_bucket(Bucket="docs")
        upload_id = a.create_multipart_upload(Bucket="docs", Key="replicated")["UploadId"]
        ids = {"Bucket": "docs", "Key": "replicated", "UploadId": upload_id}
        bodies = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
        done = []
        for number, body in enumerate(bodies, start=1):
            client = a if number % 2 else b
            etag = client.upload_part(**ids, PartNumber=number, Body=body)["ETag"]
            done.append({"PartNumber": number, "ETag": etag})
        assert [p["PartNumber"] for p in b.list_parts(**ids)["Parts"]] == [1, 2, 3]
        listed = b.list_multipart_uploads(Bucket="docs", Prefix="replicated")["Uploads"]
        assert [u["UploadId"] for u in listed] == [upload_id]
        result = b.complete_multipart_upload(**ids, MultipartUpload={"Parts": done})
        assert result["ETag"] == multipart_etag(bodies)
        assert a.get_object(Bucket="docs", Key="replicated")["Body"].read() == b"".join(bodies)
    finally:
        for replica in replicas:
            replica.process.stop()


def test_upload_part_copy_with_ranges(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    source = os.urandom(7 * MiB)
    photo = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    s3.put_object(Bucket="alice-photos", Key="copy-source", Body=photo)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    ids = {"Bucket": bucket, "Key": "assembled", "UploadId": upload_id}
    first = s3.upload_part_copy(
        **ids,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]
    second = s3.upload_part_copy(
        **ids, PartNumber=2, CopySource={"Bucket": "alice-photos", "Key": "copy-source"}
    )["CopyPartResult"]
    # (SeaweedFS's copied-part ETags are not the MD5 of the range: only the bytes are checked.)
    assert first["ETag"].startswith('"') and second["ETag"].startswith('"')
    for copy_range, code in (("bytes=5-1", "InvalidArgument"), ("5-9", "InvalidArgument")):
        with pytest.raises(ClientError) as caught:
            s3.upload_part_copy(
                **ids,
                PartNumber=3,
                CopySource={"Bucket": bucket, "Key": "source"},
                CopySourceRange=copy_range,
            )
        assert code_of(caught) == code
    with pytest.raises(ClientError) as caught:
        s3.upload_part_copy(**ids, PartNumber=3, CopySource={"Bucket": bucket, "Key": "absent"})
    assert code_of(caught) == "NoSuchKey"
    with pytest.raises(ClientError) as caught:  # bob's bucket of another name is not alice's
        s3.upload_part_copy(**ids, PartNumber=3, CopySource={"Bucket": "bob-only", "Key": "k"})
    assert code_of(caught) == "AccessDenied"
    done = s3.complete_multipart_upload(
        **ids,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["ETag"]},
            ]
        },
    )
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[: 5 * MiB] + photo


def test_aborting_an_upload_gone_upstream_clears_its_records(proxy: Proxy, bucket: str) -> None:
    """An upload aborted (or expired) on the upstream itself leaves the proxy's records of it
    (checksum records, tag mark) in the tenant's home; the client's Abort (S3's 404
    NoSuchUpload where the upstream says so) removes them. The local store has no such way
    around the proxy."""
    if proxy.upstream is None:
        pytest.skip("the local store's uploads end only through the proxy")
    s3 = proxy.client("alice")
    key = "gone-upstream"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Tagging="t=1"
    )
    ids = {"Bucket": bucket, "Key": key, "UploadId": created["UploadId"]}
    s3.upload_part(**ids, PartNumber=1, Body=b"part", ChecksumAlgorithm="SHA256")
    records = f"alice/.uploads/{bucket}/"
    listed = proxy.upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=records)
    assert len(listed.get("Contents", [])) == 3  # the upload, its part, its tags

    payload = tokens.verify(SERVER_SECRET, "upload", ("alice", bucket, key), created["UploadId"])
    assert payload is not None
    upstream = {"Bucket": HOME_BUCKET, "Key": upstream_key("alice", bucket, key)}
    proxy.upstream.abort_multipart_upload(**upstream, UploadId=payload["u"])
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    try:
        s3.abort_multipart_upload(**ids)  # SeaweedFS 4.48 aborts an unknown upload: 204
    except ClientError as error:  # S3 and Ceph RGW: 404
        assert error.response["Error"]["Code"] == "NoSuchUpload"
    listed = proxy.upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=records)
    assert listed.get("Contents", []) == []


def test_get_and_head_by_part_number(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    one, two = os.urandom(5 * MiB), os.urandom(1234)
    upload(s3, bucket, "parts", [one, two])
    head = s3.head_object(Bucket=bucket, Key="parts", PartNumber=1)
    assert (head["ContentLength"], head["PartsCount"]) == (len(one), 2)
    assert head["ContentRange"] == f"bytes 0-{len(one) - 1}/{len(one) + len(two)}"
    got = s3.get_object(Bucket=bucket, Key="parts", PartNumber=2)
    assert got["Body"].read() == two
    assert got["PartsCount"] == 2
    total = len(one) + len(two)
    assert got["ContentRange"] == f"bytes {len(one)}-{total - 1}/{total}"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="parts", PartNumber=3)
    assert (status_of(caught), code_of(caught)) == (416, "InvalidPartNumber")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="parts", PartNumber=1, Range="bytes=0-1")
    assert (status_of(caught), code_of(caught)) == (400, "InvalidRequest")
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, bucket, "parts", "partNumber=0"), ak, sk)
    assert (response.status, response.error_code) == (400, "InvalidArgument")
    s3.put_object(Bucket=bucket, Key="single", Body=b"whole")
    assert s3.get_object(Bucket=bucket, Key="single", PartNumber=1)["Body"].read() == b"whole"


def test_list_multipart_uploads_shows_client_keys_and_usable_ids(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    created = {
        (key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
        for key in ("a/1", "a/2", "b", "b", "c d")
    }
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert {(u["Key"], u["UploadId"]) for u in listed["Uploads"]} == created
    assert not listed["IsTruncated"]
    owner = {"ID": derived_owner_id("alice"), "DisplayName": "alice"}
    assert all(u["Initiated"] and u["Owner"] == owner for u in listed["Uploads"])
    ak, sk = proxy.keys("alice")
    raw = signed("GET", object_url(proxy.endpoint, bucket, None, "uploads"), ak, sk).body
    assert HOME_BUCKET.encode() not in raw and b"alice/" not in raw
    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")["Uploads"]
    assert sorted(u["Key"] for u in prefixed) == ["a/1", "a/2"]
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]
    assert sorted(u["Key"] for u in grouped["Uploads"]) == ["b", "b", "c d"]
    for key, upload_id in created:  # every listed id works
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


@pytest.mark.parametrize("style", ["plain", "aws-chunked"])
def test_boto3_over_tls_sends_parts_with_trailer_checksums(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path, style: str
) -> None:
    """Over TLS boto3 sends every part aws-chunked with a CRC32 trailer, and lists the CRCs in
    Complete. ``aws-chunked`` upstreams get the trailer passed on; ``plain`` ones get a plain
    body (SeaweedFS then computes the part CRC itself)."""
    from tests.integration.test_streaming import tls_client

    authority = trustme.CA()
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem")
    )
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls_proxy = start_proxy(
        seaweed,
        upstream_s3,
        tmp_path,
        server={"tls_cert": str(tmp_path / "server.pem"), "tls_key": str(tmp_path / "server.pem")},
        upstream_options={"request_style": style},
    )
    s3 = tls_client(tls_proxy, tmp_path / "ca.pem")
    if "docs" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="docs")
    try:
        data = os.urandom(12 * MiB + 1)
        source = tmp_path / "source.bin"
        source.write_bytes(data)
        config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        s3.upload_file(str(source), "docs", f"tls-multipart/{style}", Config=config)
        got = s3.get_object(Bucket="docs", Key=f"tls-multipart/{style}")
        assert got["Body"].read() == data
        chunks = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
        assert got["ETag"] == multipart_etag(chunks)
    finally:
        s3.close()
        # Idle TLS keep-alive connections from the transfer threads outlive close() here; the
        # proxy would drain them for server.shutdown_timeout: no need to wait for that.
        tls_proxy.process.stop(timeout=2)
