"""Multipart uploads through the proxy on each real upstream: Ceph RGW (S3-faithful, with the
empty CompleteMultipartUpload ETag of RGW 16) and SeaweedFS.

ListMultipartUploads is merged over 16 shards like object listings and must page in key order
with key and upload-id markers; SeaweedFS's own uploads listing is not S3's (upload-id order,
broken key-marker), so its lane is a recorded expected failure (tests/expected_failures.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt_checksums  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3proxy.backends.upload_records import upload_digest
from tests.integration.conftest import (
    PHOTOS_BUCKET,
    UPSTREAM,
    Proxy,
    client_for,
    create_upstream_buckets,
    start_proxy,
    upstream_key,
)

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
BUCKET = "mpl"


@pytest.fixture(scope="module", params=["ceph", "seaweedfs", "local"])
def upstream_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Proxy]]:
    server: Any = None  # the local store: no upstream server
    client: Any = None
    if request.param == "ceph":
        server = request.getfixturevalue("ceph_rgw")
        client = request.getfixturevalue("ceph_s3")
    elif request.param == "seaweedfs":
        server = request.getfixturevalue("seaweed")
        client = request.getfixturevalue("upstream_s3")
    if client is not None:
        create_upstream_buckets(client)
    work: Path = tmp_path_factory.mktemp(f"multipart-{request.param}")
    proxy = start_proxy(server, client, work, layout={"shards": 16})
    s3 = proxy.client("alice")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    try:
        yield request.param, proxy
    finally:
        proxy.process.stop()


@pytest.fixture()
def s3(upstream_proxy: tuple[str, Proxy]) -> Iterator[Any]:
    """alice's client; every upload left in the bucket is aborted afterwards."""
    client = upstream_proxy[1].client("alice")
    yield client
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def test_complete_answers_the_multipart_etag(s3: Any, tmp_path: Path) -> None:
    """Ceph RGW 16 completes with ``<ETag></ETag>``: the client still gets md5-of-md5s-N."""
    data = os.urandom(20 * MiB + 5)
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(source), BUCKET, "transfer.bin", Config=config)
    s3.download_file(BUCKET, "transfer.bin", str(target), Config=config)
    assert target.read_bytes() == data
    chunks = [data[i : i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    assert s3.head_object(Bucket=BUCKET, Key="transfer.bin")["ETag"] == multipart_etag(chunks)

    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="direct")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "direct", "UploadId": upload_id}
    one, two = os.urandom(5 * MiB), b"two"
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(**ids, PartNumber=n, Body=body)["ETag"]}
        for n, body in ((1, one), (2, two))
    ]
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag([one, two])
    assert s3.head_object(Bucket=BUCKET, Key="direct")["ETag"] == done["ETag"]


def test_upload_part_copy_is_server_side(s3: Any) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=BUCKET, Key="copy-source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="copied")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "copied", "UploadId": upload_id}
    etags = [
        s3.upload_part_copy(
            **ids,
            PartNumber=n,
            CopySource={"Bucket": BUCKET, "Key": "copy-source"},
            CopySourceRange=f"bytes={first}-{last}",
        )["CopyPartResult"]["ETag"]
        for n, (first, last) in enumerate(((0, 5 * MiB - 1), (5 * MiB, len(source) - 1)), 1)
    ]
    done = s3.complete_multipart_upload(
        **ids,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=BUCKET, Key="copied")["Body"].read() == source


def test_wrong_per_part_checksum_is_refused(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="sums", ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    ids = {"Bucket": BUCKET, "Key": "sums", "UploadId": upload_id}
    etag = s3.upload_part(**ids, PartNumber=1, Body=b"only part", ChecksumAlgorithm="CRC32")["ETag"]
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(
            **ids,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag, "ChecksumCRC32": wrong}]},
        )
    assert caught.value.response["Error"]["Code"] in ("BadDigest", "InvalidPart")


def test_part_number_reads_never_serve_the_wrong_bytes(
    s3: Any, upstream_proxy: tuple[str, Proxy]
) -> None:
    one, two = os.urandom(5 * MiB), b"second part"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="by-part")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "by-part", "UploadId": upload_id}
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(**ids, PartNumber=n, Body=body)["ETag"]}
        for n, body in ((1, one), (2, two))
    ]
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    if upstream_proxy[0] == "ceph":
        # RGW 16 ignores partNumber and sends the whole object: refused, not passed on.
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=BUCKET, Key="by-part", PartNumber=2)
        assert caught.value.response["Error"]["Code"] == "NotImplemented"
    else:
        got = s3.get_object(Bucket=BUCKET, Key="by-part", PartNumber=2)
        assert (got["Body"].read(), got["PartsCount"]) == (two, 2)
    s3.put_object(Bucket=BUCKET, Key="single", Body=b"whole")
    assert s3.get_object(Bucket=BUCKET, Key="single", PartNumber=1)["Body"].read() == b"whole"


UPLOAD_KEYS = ["a b", "a+b", "a/1", "a/2", "dir/x/y", "dir-x", "k", "k", "p/q", "p-q", "z", "é"]


def test_list_multipart_uploads_pages_in_key_order(s3: Any) -> None:
    created: dict[str, list[str]] = {}
    for key in UPLOAD_KEYS:
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        created.setdefault(key, []).append(upload_id)
    expected_keys = sorted(UPLOAD_KEYS, key=lambda k: k.encode())
    for max_uploads in (1, 2, 5, 1000):
        pages = list(
            s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=BUCKET, PaginationConfig={"PageSize": max_uploads}
            )
        )
        assert all(len(page.get("Uploads", [])) <= max_uploads for page in pages)
        listed = [(u["Key"], u["UploadId"]) for page in pages for u in page.get("Uploads", [])]
        assert [key for key, _ in listed] == expected_keys, max_uploads
        assert sorted(listed) == sorted((k, i) for k, ids in created.items() for i in ids)
    grouped = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "dir/", "p/"]
    assert [u["Key"] for u in grouped["Uploads"]] == [k for k in expected_keys if "/" not in k]
    under = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="a/", MaxUploads=1)
    assert [u["Key"] for u in under["Uploads"]] == ["a/1"] and under["IsTruncated"]
    rest = s3.list_multipart_uploads(
        Bucket=BUCKET,
        Prefix="a/",
        KeyMarker=under["NextKeyMarker"],
        UploadIdMarker=under["NextUploadIdMarker"],
    )
    assert [u["Key"] for u in rest["Uploads"]] == ["a/2"] and not rest["IsTruncated"]
    # The second upload of "k" is reached with the first's id as marker.
    first_k = s3.list_multipart_uploads(Bucket=BUCKET, KeyMarker="j", MaxUploads=1)["Uploads"][0]
    after = s3.list_multipart_uploads(
        Bucket=BUCKET, KeyMarker="k", UploadIdMarker=first_k["UploadId"], MaxUploads=1
    )["Uploads"]
    assert after[0]["Key"] == "k" and after[0]["UploadId"] != first_k["UploadId"]


def test_retried_complete_answers_200_with_the_same_etag(s3: Any) -> None:
    """SDKs retry Complete after a timeout: the upload it completed answers again, as on S3."""
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="retried")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "retried", "UploadId": upload_id}
    one, two = os.urandom(5 * MiB), b"tail"
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(**ids, PartNumber=n, Body=body)["ETag"]}
        for n, body in ((1, one), (2, two))
    ]
    first = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"] == multipart_etag([one, two])
    assert s3.get_object(Bucket=BUCKET, Key="retried")["Body"].read() == one + two
    # Not a blank cheque: another part list for the gone upload is still NoSuchUpload.
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts[:1]})
    assert caught.value.response["Error"]["Code"] == "NoSuchUpload"


def test_list_parts_shows_a_resent_part_once(s3: Any) -> None:
    """SeaweedFS lists every upload of a re-sent part; S3 lists the latest only."""
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="resent")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "resent", "UploadId": upload_id}
    s3.upload_part(**ids, PartNumber=1, Body=b"first try")
    s3.upload_part(**ids, PartNumber=2, Body=b"two")
    time.sleep(1.1)  # LastModified has whole seconds on SeaweedFS: the re-send must be later
    latest = s3.upload_part(**ids, PartNumber=1, Body=b"second try")["ETag"]
    for page_size in (1, 2, 1000):
        pages = s3.get_paginator("list_parts").paginate(
            **ids, PaginationConfig={"PageSize": page_size}
        )
        listed = [(p["PartNumber"], p["ETag"]) for page in pages for p in page.get("Parts", [])]
        assert [number for number, _ in listed] == [1, 2], page_size
        assert listed[0][1] == latest


def test_upload_part_copy_answers_the_parts_own_etag(s3: Any) -> None:
    """S3: a copied part's ETag is the MD5 of its bytes, and the object's follows from it."""
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=BUCKET, Key="copy-etag-source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="copy-etag")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "copy-etag", "UploadId": upload_id}
    pieces = [source, source[:10]]
    etags = []
    for number, copy_range in ((1, None), (2, "bytes=0-9")):
        extra = {"CopySourceRange": copy_range} if copy_range else {}
        result = s3.upload_part_copy(
            **ids,
            PartNumber=number,
            CopySource={"Bucket": BUCKET, "Key": "copy-etag-source"},
            **extra,
        )
        etags.append(result["CopyPartResult"]["ETag"])
    assert etags == [f'"{hashlib.md5(piece).hexdigest()}"' for piece in pieces]
    parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag(pieces)
    assert s3.get_object(Bucket=BUCKET, Key="copy-etag")["Body"].read() == source + source[:10]


@pytest.mark.parametrize("value", ["not base64!", "AAAA", "AAAAAA==-x", "AAAAAAAAAAA="])
def test_malformed_object_checksum_on_complete_is_400(s3: Any, value: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="bad-sum")["UploadId"]
    ids = {"Bucket": BUCKET, "Key": "bad-sum", "UploadId": upload_id}
    etag = s3.upload_part(**ids, PartNumber=1, Body=b"only")["ETag"]

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-amz-checksum-crc32"] = value

    s3.meta.events.register_first("before-sign.s3.CompleteMultipartUpload", add_header)
    try:
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
            )
    finally:
        s3.meta.events.unregister("before-sign.s3.CompleteMultipartUpload", add_header)
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        400,
        "InvalidRequest",
    )


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


CRCS = {
    "CRC32": (lambda data: zlib.crc32(data), 4),
    "CRC32C": (lambda data: crt_checksums.crc32c(data), 4),
    "CRC64NVME": (lambda data: crt_checksums.crc64nvme(data), 8),
}


@pytest.mark.parametrize(
    ("algorithm", "requested", "expected_type"),
    [
        ("CRC32", "FULL_OBJECT", "FULL_OBJECT"),
        ("CRC32C", "FULL_OBJECT", "FULL_OBJECT"),
        ("CRC64NVME", None, "FULL_OBJECT"),  # S3's only type for CRC64NVME
        ("CRC32", None, "COMPOSITE"),  # the default for the others
    ],
)
def test_multipart_checksum_types(
    s3: Any, algorithm: str, requested: str | None, expected_type: str
) -> None:
    """S3's 2025 rules: the type chosen at Create, reported by Complete, ListParts and HEAD;
    a FULL_OBJECT checksum is the CRC of the whole object (combined from the parts' CRCs)."""
    crc, size = CRCS[algorithm]
    key = f"sums-{algorithm}-{expected_type}"
    extra = {"ChecksumType": requested} if requested else {}
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, ChecksumAlgorithm=algorithm, **extra
    )
    assert created.get("ChecksumType") == expected_type
    ids = {"Bucket": BUCKET, "Key": key, "UploadId": created["UploadId"]}
    pieces = [os.urandom(5 * MiB), b"the last part"]
    field = "Checksum" + algorithm
    parts = []
    for number, piece in enumerate(pieces, 1):
        value = _b64(crc(piece), size)
        etag = s3.upload_part(**ids, PartNumber=number, Body=piece, **{field: value})["ETag"]
        parts.append({"PartNumber": number, "ETag": etag, field: value})
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    if expected_type == "FULL_OBJECT":
        expected = _b64(crc(b"".join(pieces)), size)
    else:
        digests = b"".join(base64.b64decode(part[field]) for part in parts)
        expected = f"{_b64(crc(digests), size)}-{len(parts)}"
    assert (done.get(field), done.get("ChecksumType")) == (expected, expected_type)
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert (head.get(field), head.get("ChecksumType")) == (expected, expected_type)


def test_list_parts_reports_the_checksum_type(s3: Any) -> None:
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key="listed-sums", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    ids = {"Bucket": BUCKET, "Key": "listed-sums", "UploadId": created["UploadId"]}
    value = _b64(zlib.crc32(b"part"), 4)
    s3.upload_part(**ids, PartNumber=1, Body=b"part", ChecksumCRC32=value)
    listed = s3.list_parts(**ids)
    assert (listed.get("ChecksumAlgorithm"), listed.get("ChecksumType")) == ("CRC32", "FULL_OBJECT")
    assert listed["Parts"][0].get("ChecksumCRC32") == value


def _records(upstream_proxy: tuple[str, Proxy]) -> list[str]:
    """The upload checksum records in the tenants' homes, read on the upstream itself."""
    proxy = upstream_proxy[1]
    pages = proxy.upstream.get_paginator("list_objects_v2").paginate(
        Bucket=proxy.home_bucket, Prefix=f"alice/.uploads/{BUCKET}/"
    )
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def test_list_parts_reports_each_parts_own_checksum_page_by_page(s3: Any) -> None:
    """Parts uploaded with the upload's algorithm are listed with their checksums, on every
    page; a re-sent part shows the checksum of the bytes its listed ETag names."""
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key="paged-sums", ChecksumAlgorithm="CRC32C"
    )
    ids = {"Bucket": BUCKET, "Key": "paged-sums", "UploadId": created["UploadId"]}
    crc, size = CRCS["CRC32C"]
    bodies = {1: b"one", 2: b"two", 3: b"three"}
    for number, body in [*bodies.items(), (2, b"two again")]:
        s3.upload_part(**ids, PartNumber=number, Body=body, ChecksumCRC32C=_b64(crc(body), size))
    by_etag = {f'"{hashlib.md5(b).hexdigest()}"': b for b in [*bodies.values(), b"two again"]}
    for page_size in (1, 2, 1000):
        pages = list(
            s3.get_paginator("list_parts").paginate(**ids, PaginationConfig={"PageSize": page_size})
        )
        for page in pages:
            assert (page.get("ChecksumAlgorithm"), page.get("ChecksumType")) == (
                "CRC32C",
                "COMPOSITE",
            )
        parts = [part for page in pages for part in page.get("Parts", [])]
        assert [part["PartNumber"] for part in parts] == [1, 2, 3], page_size
        for part in parts:
            body = by_etag[part["ETag"]]
            assert part.get("ChecksumCRC32C") == _b64(crc(body), size), (page_size, part)


def test_checksum_uploads_keep_their_upload_id_in_listings(s3: Any) -> None:
    """The UploadId of an upload with a checksum says so (ListParts and Complete then read its
    records); ListMultipartUploads must still name it exactly as CreateMultipartUpload did."""
    created = {}
    for key, extra in (
        ("ids/crc32-full", {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}),
        ("ids/sha256", {"ChecksumAlgorithm": "SHA256"}),
        ("ids/none", {}),
    ):
        created[key] = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **extra)["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="ids/")["Uploads"]
    assert {upload["Key"]: upload["UploadId"] for upload in listed} == created
    assert {u["Key"]: (u.get("ChecksumAlgorithm"), u.get("ChecksumType")) for u in listed} == {
        "ids/crc32-full": ("CRC32", "FULL_OBJECT"),
        "ids/sha256": ("SHA256", "COMPOSITE"),
        "ids/none": (None, None),
    }
    parts = s3.list_parts(Bucket=BUCKET, Key="ids/sha256", UploadId=created["ids/sha256"])
    assert (parts.get("ChecksumAlgorithm"), parts.get("ChecksumType")) == ("SHA256", "COMPOSITE")
    plain = s3.list_parts(Bucket=BUCKET, Key="ids/none", UploadId=created["ids/none"])
    assert plain.get("ChecksumAlgorithm") is None


def test_whole_object_checksum_on_complete_is_checked(s3: Any) -> None:
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key="whole-sum", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    ids = {"Bucket": BUCKET, "Key": "whole-sum", "UploadId": created["UploadId"]}
    pieces = [os.urandom(5 * MiB), b"tail"]
    parts = []
    for number, piece in enumerate(pieces, 1):
        value = _b64(zlib.crc32(piece), 4)
        etag = s3.upload_part(**ids, PartNumber=number, Body=piece, ChecksumCRC32=value)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag, "ChecksumCRC32": value})
    whole = _b64(zlib.crc32(b"".join(pieces)), 4)
    wrong = _b64(zlib.crc32(b"something else"), 4)
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(
            **ids,
            MultipartUpload={"Parts": parts},
            ChecksumCRC32=wrong,
        )
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="whole-sum")
    assert missing.value.response["Error"]["Code"] == "404"
    done = s3.complete_multipart_upload(
        **ids, MultipartUpload={"Parts": parts}, ChecksumCRC32=whole
    )
    assert (done.get("ChecksumCRC32"), done.get("ChecksumType")) == (whole, "FULL_OBJECT")


def test_upload_records_live_only_as_long_as_their_upload(
    s3: Any, upstream_proxy: tuple[str, Proxy]
) -> None:
    """Records are written only for uploads with a checksum, on upstreams that need them, and
    are gone once the upload is completed or aborted."""
    if upstream_proxy[0] == "local":
        pytest.skip("the local store keeps checksums in its index: no records")
    before = set(_records(upstream_proxy))
    plain = s3.create_multipart_upload(Bucket=BUCKET, Key="rec-plain")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="rec-plain", UploadId=plain, PartNumber=1, Body=b"x")
    assert set(_records(upstream_proxy)) == before  # nothing to pay without a checksum
    uploads = {}
    for key in ("rec-done", "rec-aborted"):
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")[
            "UploadId"
        ]
        sent = s3.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=1,
            Body=b"p",
            ChecksumAlgorithm="CRC32",
        )
        uploads[key] = (upload_id, sent["ETag"], sent["ChecksumCRC32"])
    during = set(_records(upstream_proxy)) - before
    assert len(during) == 4  # one upload record and one part record each
    assert all(BUCKET in key for key in during)
    upload_id, etag, value = uploads["rec-done"]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="rec-done",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag, "ChecksumCRC32": value}]},
    )
    s3.abort_multipart_upload(Bucket=BUCKET, Key="rec-aborted", UploadId=uploads["rec-aborted"][0])
    assert set(_records(upstream_proxy)) == before


def test_a_whole_bucket_listing_drops_records_of_uploads_gone_upstream(
    s3: Any, upstream_proxy: tuple[str, Proxy]
) -> None:
    """An upload aborted on the upstream itself (or expired there) leaves its records behind;
    ListMultipartUploads of the whole bucket drops them, and keeps a live upload's — and for a
    day those of a tagged one (its tags record may still be needed by a Complete's retry)."""
    if upstream_proxy[0] == "local":
        pytest.skip("the local store keeps checksums in its index: no records")
    proxy = upstream_proxy[1]
    before = set(_records(upstream_proxy))
    for key, tags in (("sweep-live", "t=1"), ("sweep-gone", ""), ("sweep-tagged", "t=2")):
        upload_id = s3.create_multipart_upload(
            Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32", Tagging=tags
        )["UploadId"]
        s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p",
            ChecksumAlgorithm="CRC32",
        )  # fmt: skip
    written = set(_records(upstream_proxy)) - before
    assert len(written) == 8  # per upload: its upload record, a part record, its tags if any
    for key in ("sweep-gone", "sweep-tagged"):
        stored = upstream_key("alice", BUCKET, key, shards=16)
        upstream = proxy.upstream.list_multipart_uploads(Bucket=proxy.home_bucket, Prefix=stored)
        (gone,) = upstream["Uploads"]
        proxy.upstream.abort_multipart_upload(
            Bucket=proxy.home_bucket, Key=stored, UploadId=gone["UploadId"]
        )
    listed = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="sweep-")["Uploads"]
    assert [upload["Key"] for upload in listed] == ["sweep-live"]
    assert set(_records(upstream_proxy)) - before == written  # a prefix: nothing swept
    listed = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [upload["Key"] for upload in listed] == ["sweep-live"]
    kept = set(_records(upstream_proxy)) - before
    assert len(kept) == 6 and kept < written  # sweep-gone's two records went


def test_a_complete_retried_after_a_sweep_still_tags_the_object(
    s3: Any, upstream_proxy: tuple[str, Proxy]
) -> None:
    """A Complete that completed the upload upstream and then failed to tag the object (or
    whose process stopped there) leaves the tags to the client's retry: a whole-bucket
    ListMultipartUploads in between must not sweep them away (Ceph RGW 16 drops the tags
    given on Create, so there the record is all that is left of them)."""
    if upstream_proxy[0] == "local":
        pytest.skip("the local store keeps an upload's tags in its index: no records")
    proxy = upstream_proxy[1]
    key = "retry-tagged"
    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(**ids, Tagging="team=blue")["UploadId"]
    etag = s3.upload_part(**ids, PartNumber=1, Body=b"tagged body")["ETag"]
    s3.create_multipart_upload(Bucket=BUCKET, Key="retry-live")  # something to list
    stored = upstream_key("alice", BUCKET, key, shards=16)
    (upload,) = proxy.upstream.list_multipart_uploads(Bucket=proxy.home_bucket, Prefix=stored)[
        "Uploads"
    ]
    proxy.upstream.complete_multipart_upload(  # as the failed Complete did, on the upstream
        Bucket=proxy.home_bucket,
        Key=stored,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    listed = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [item["Key"] for item in listed] == ["retry-live"]  # the sweep's listing
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    s3.complete_multipart_upload(**ids, MultipartUpload=parts)
    try:
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
        assert tags == [{"Key": "team", "Value": "blue"}]
        record = f"alice/.uploads/{BUCKET}/{upload_digest(key, upload['UploadId'])}.tags"
        assert record not in _records(upstream_proxy)  # gone with the answer that tagged
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)


def test_checksum_type_on_complete_is_refused_where_no_record_can_say_it(
    upstream_proxy: tuple[str, Proxy], tmp_path: Path
) -> None:
    """A tenant without a home keeps no upload records, and these upstreams list no upload
    checksum: ``x-amz-checksum-type`` on Complete is 501 (not "null" for an upload created
    with a checksum), the upload stays open, and Complete without the header succeeds."""
    if upstream_proxy[0] == "local":
        pytest.skip("the local store lists the upload's checksum type")
    proxy = upstream_proxy[1]
    keys = ("AKCAROL000000000003", "carol-secret-key-cccccccccccccccc")
    carol = {
        "keys": [{"access_key": keys[0], "secret_key": keys[1]}],
        "buckets": {"carol-mp": {"upstream": UPSTREAM, "bucket": PHOTOS_BUCKET, "prefix": "c/"}},
    }
    homeless = start_proxy(proxy.server, proxy.upstream, tmp_path, tenants={"carol": carol})
    try:
        s3 = client_for(homeless.endpoint, *keys)
        ids = {"Bucket": "carol-mp", "Key": "typed"}
        created = s3.create_multipart_upload(**ids, ChecksumAlgorithm="CRC32")
        ids["UploadId"] = created["UploadId"]
        sent = s3.upload_part(**ids, PartNumber=1, Body=b"typed", ChecksumAlgorithm="CRC32")
        part = {"PartNumber": 1, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]}
        parts = {"Parts": [part]}
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(**ids, MultipartUpload=parts, ChecksumType="COMPOSITE")
        assert caught.value.response["Error"]["Code"] == "NotImplemented"
        s3.complete_multipart_upload(**ids, MultipartUpload=parts)
        assert s3.get_object(Bucket="carol-mp", Key="typed")["Body"].read() == b"typed"
        s3.delete_object(Bucket="carol-mp", Key="typed")
    finally:
        homeless.process.stop()


def test_encrypted_uploads_are_refused_where_no_record_can_name_them(
    upstream_proxy: tuple[str, Proxy], tmp_path: Path
) -> None:
    """A tenant without a home keeps no upload records: an SSE-C or SSE-S3 upload could not be
    named as such by the UploadId ListMultipartUploads issues (its parts would be taken without
    the key, its answers lack SSE-S3), so Create refuses it with 501 and starts nothing."""
    name, proxy = upstream_proxy
    if name == "local":
        pytest.skip("the local store refuses server-side encryption")
    keys = ("AKCAROL000000000003", "carol-secret-key-cccccccccccccccc")
    carol = {
        "keys": [{"access_key": keys[0], "secret_key": keys[1]}],
        "buckets": {"carol-mp": {"upstream": UPSTREAM, "bucket": PHOTOS_BUCKET, "prefix": "c/"}},
    }
    modes = ["SSE-C", "AES256"] if name == "seaweedfs" else ["SSE-C"]
    homeless = start_proxy(
        proxy.server,
        proxy.upstream,
        tmp_path,
        {"sse": modes},
        tenants={"carol": carol},
        server={"sse_c_over_http": True},
    )
    try:
        s3 = client_for(homeless.endpoint, *keys)
        asked: list[dict[str, Any]] = [
            {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
        ]
        if "AES256" in modes:
            asked.append({"ServerSideEncryption": "AES256"})
        for encryption in asked:
            with pytest.raises(ClientError) as caught:
                s3.create_multipart_upload(Bucket="carol-mp", Key="encrypted", **encryption)
            assert caught.value.response["Error"]["Code"] == "NotImplemented"
        assert not s3.list_multipart_uploads(Bucket="carol-mp").get("Uploads")
    finally:
        homeless.process.stop()
