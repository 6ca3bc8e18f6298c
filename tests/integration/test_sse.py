"""Server-side encryption through the proxy (s3proxy.sse), on every lane.

The SSE proxy of each S3 lane lists what its upstream really does in ``upstreams.NAME.sse``:
SeaweedFS 4.48 both SSE-C and SSE-S3, Ceph RGW 16 only SSE-C (it answers 200 to ``AES256`` and
stores the object in the clear). The local store encrypts nothing: there every SSE request is
refused and nothing is stored. What reaches the upstream is checked on the upstream itself: an
SSE-C object there cannot be read without its key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import trustme

from tests.integration.conftest import Proxy, start_proxy, upstream_key
from tests.support.s3http import object_url, signed

BUCKET = "docs"
PART = 5 * 1024 * 1024
MODES = {"seaweedfs": ["SSE-C", "AES256"], "ceph": ["SSE-C"], "local": []}


@pytest.fixture(scope="module")
def sse_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy whose upstream entry lists the lane's SSE modes (the session proxy on the local
    store, which has no such setting)."""
    if proxy.server is None:
        yield proxy
        return
    workdir = tmp_path_factory.mktemp(f"sse-{backend}")
    # These proxies serve plain HTTP, as one behind a TLS-terminating load balancer does.
    running = start_proxy(
        proxy.server,
        proxy.upstream,
        workdir,
        {"sse": MODES[backend]},
        server={"sse_c_over_http": True},
    )
    try:
        yield running
    finally:
        running.process.stop()


def ssec(key: bytes, prefix: str = "SSECustomer") -> dict[str, Any]:
    return {f"{prefix}Algorithm": "AES256", f"{prefix}Key": key}


def key_md5(key: bytes) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


def error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return dict(response["ResponseMetadata"]["HTTPHeaders"])


def supports(backend: str, mode: str) -> bool:
    return mode in MODES[backend]


def assert_not_stored(client: Any, key: str) -> None:
    assert error(client.head_object, Bucket=BUCKET, Key=key)[0] == 404


# --- SSE-C -------------------------------------------------------------------------------


def test_sse_c_put_get_head_and_ranges(sse_proxy: Proxy, backend: str) -> None:
    client = sse_proxy.client("alice")
    key, name = os.urandom(32), f"sse-c/{backend}/object"
    data = os.urandom(100_000)
    if not supports(backend, "SSE-C"):
        assert error(client.put_object, Bucket=BUCKET, Key=name, Body=data, **ssec(key)) == (
            501,
            "NotImplemented",
        )
        assert_not_stored(client, name)
        return
    put = client.put_object(Bucket=BUCKET, Key=name, Body=data, **ssec(key))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == key_md5(key)

    got = client.get_object(Bucket=BUCKET, Key=name, **ssec(key))
    assert got["Body"].read() == data
    assert got["SSECustomerAlgorithm"] == "AES256" and got["SSECustomerKeyMD5"] == key_md5(key)
    head = client.head_object(Bucket=BUCKET, Key=name, **ssec(key))
    assert head["ContentLength"] == len(data) and head["SSECustomerKeyMD5"] == key_md5(key)
    ranged = client.get_object(Bucket=BUCKET, Key=name, Range="bytes=70000-70999", **ssec(key))
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["Body"].read() == data[70000:71000]

    # Never without its key, through the proxy or on the upstream itself.
    assert error(client.get_object, Bucket=BUCKET, Key=name)[0] == 400
    assert error(client.get_object, Bucket=BUCKET, Key=name, Range="bytes=0-9")[0] == 400
    assert error(client.head_object, Bucket=BUCKET, Key=name)[0] == 400
    wrong = ssec(os.urandom(32))
    assert error(client.get_object, Bucket=BUCKET, Key=name, **wrong) == (403, "AccessDenied")
    assert error(client.head_object, Bucket=BUCKET, Key=name, **wrong)[0] == 403
    stored = upstream_key("alice", BUCKET, name)
    with pytest.raises(botocore.exceptions.ClientError):
        sse_proxy.upstream.get_object(Bucket=sse_proxy.home_bucket, Key=stored)


def test_object_acls_of_an_sse_c_object_need_no_key(sse_proxy: Proxy, backend: str) -> None:
    """S3 answers Get/PutObjectAcl of an SSE-C object without its key: the proxy finds the
    object's ETag and Last-Modified in a one-key listing where the upstream refuses the HEAD.
    Such an object is never public (never served without its key): public-read is 501 on it,
    on PutObjectAcl as on PutObject and CreateMultipartUpload, and the record of a public
    object it replaced does not name it."""
    if not supports(backend, "SSE-C"):
        pytest.skip("no SSE-C object can be stored on this lane")
    client = sse_proxy.client("alice")
    key, name = os.urandom(32), f"sse-c/{backend}/acl"
    client.put_object(Bucket=BUCKET, Key=name, Body=b"secret", **ssec(key))
    private = client.get_object_acl(Bucket=BUCKET, Key=name)["Grants"]
    assert [grant["Permission"] for grant in private] == ["FULL_CONTROL"]
    client.put_object_acl(Bucket=BUCKET, Key=name, ACL="private")
    refused = error(client.put_object_acl, Bucket=BUCKET, Key=name, ACL="public-read")
    assert refused == (501, "NotImplemented")
    upload = {"Bucket": BUCKET, "Key": name + "-mp", "ACL": "public-read", **ssec(key)}
    multipart = error(client.create_multipart_upload, **upload)
    assert multipart == (501, "NotImplemented")
    missing = error(client.get_object_acl, Bucket=BUCKET, Key=name + "-missing")
    assert missing == (404, "NoSuchKey")
    replaced = name + "-was-public"
    client.put_object(Bucket=BUCKET, Key=replaced, Body=b"public", ACL="public-read")
    client.put_object(Bucket=BUCKET, Key=replaced, Body=b"secret now", **ssec(key))
    grants = client.get_object_acl(Bucket=BUCKET, Key=replaced)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    anonymous = urllib.request.Request(f"{sse_proxy.endpoint}/{BUCKET}/{replaced}")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(anonymous, timeout=30)
    assert denied.value.code == 403


def test_a_key_for_an_object_stored_without_one_is_refused(sse_proxy: Proxy, backend: str) -> None:
    """S3's 400 InvalidRequest. On the local store (no object there is ever SSE-C) this was 501
    until wave 14 H2; the session proxy serves plain HTTP, so there it is S3's refusal of a key
    sent over HTTP (test_w14h2_sse_reads: the answer behind TLS, "not applicable")."""
    client = sse_proxy.client("alice")
    name = f"sse-c/{backend}/plain"
    client.put_object(Bucket=BUCKET, Key=name, Body=b"plain")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.get_object(Bucket=BUCKET, Key=name, **ssec(os.urandom(32)))
    refused = caught.value.response
    assert (refused["ResponseMetadata"]["HTTPStatusCode"], refused["Error"]["Code"]) == (
        400,
        "InvalidRequest",
    )
    over_http = "secure connection" in refused["Error"]["Message"]
    assert over_http == (not supports(backend, "SSE-C"))


def attribute_key(raw: bytes) -> dict[str, str]:
    """An SSE-C key as GetObjectAttributes takes it from botocore: base64 and its MD5 (botocore
    encodes a raw key only for the operations it lists, GetObjectAttributes not among them)."""
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(raw).decode(),
        "SSECustomerKeyMD5": key_md5(raw),
    }


def test_an_sse_c_objects_attributes_are_read_with_its_key(sse_proxy: Proxy, backend: str) -> None:
    """ceph/s3-tests test_get_sse_c_encrypted_object_attributes (wave 16 K): S3 reads an SSE-C
    object's attributes only with its key, sent as on HeadObject; the gateway answered the key
    headers 501 there, so such an object's attributes could not be read at all. HeadObject's
    answers now: 400 without the key, 403 AccessDenied with another, 400 InvalidRequest with a
    key for a plain object (over plain HTTP on the local store, which has no SSE-C)."""
    client, key = sse_proxy.client("alice"), os.urandom(32)
    name, plain = f"sse-c/{backend}/attributes", f"sse-c/{backend}/plain-attributes"

    def attributes(name: str, **extra: Any) -> Any:
        wanted = ["ETag", "ObjectSize", "StorageClass"]
        return client.get_object_attributes(
            Bucket=BUCKET, Key=name, ObjectAttributes=wanted, **extra
        )

    client.put_object(Bucket=BUCKET, Key=plain, Body=b"plain")
    assert error(attributes, name=plain, **attribute_key(key)) == (400, "InvalidRequest")
    if not supports(backend, "SSE-C"):
        return
    client.put_object(Bucket=BUCKET, Key=name, Body=b"hello", **ssec(key))
    etag = client.head_object(Bucket=BUCKET, Key=name, **ssec(key))["ETag"].strip('"')
    got = attributes(name, **attribute_key(key))
    assert (got["ETag"], got["ObjectSize"], got["StorageClass"]) == (etag, 5, "STANDARD")
    assert error(attributes, name=name) == (400, "InvalidRequest")
    assert error(attributes, name=name, **attribute_key(os.urandom(32))) == (403, "AccessDenied")
    assert error(attributes, name=f"sse-c/{backend}/absent", **attribute_key(key)) == (
        404,
        "NoSuchKey",
    )


def test_a_key_whose_md5_does_not_match_is_400_and_stores_nothing(
    sse_proxy: Proxy, backend: str
) -> None:
    name = f"sse-c/{backend}/bad-md5"
    headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(os.urandom(32)).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": key_md5(b"another key"),
    }
    url = object_url(sse_proxy.endpoint, BUCKET, name)
    response = signed("PUT", url, *sse_proxy.keys("alice"), headers, b"body")
    assert (response.status, response.error_code) == (400, "InvalidArgument")
    assert b"did not match" in response.body
    assert_not_stored(sse_proxy.client("alice"), name)


def test_sse_c_copies(sse_proxy: Proxy, backend: str) -> None:
    """Ceph RGW 16 does not copy SSE-C objects itself (501): the proxy streams them."""
    if not supports(backend, "SSE-C"):
        pytest.skip("refusals are proven by the PUT test on this lane")
    client = sse_proxy.client("alice")
    old, new = os.urandom(32), os.urandom(32)
    name, data = f"sse-c/{backend}/copy-source", os.urandom(20_000)
    client.put_object(Bucket=BUCKET, Key=name, Body=data, **ssec(old))
    source = {"Bucket": BUCKET, "Key": name}

    copied = client.copy_object(
        Bucket=BUCKET,
        Key=name + "-rekeyed",
        CopySource=source,
        **ssec(new),
        **ssec(old, "CopySourceSSECustomer"),
    )
    assert copied["SSECustomerKeyMD5"] == key_md5(new)
    got = client.get_object(Bucket=BUCKET, Key=name + "-rekeyed", **ssec(new))
    assert got["Body"].read() == data
    assert error(client.get_object, Bucket=BUCKET, Key=name + "-rekeyed", **ssec(old))[0] == 403

    client.copy_object(
        Bucket=BUCKET, Key=name + "-plain", CopySource=source, **ssec(old, "CopySourceSSECustomer")
    )
    assert client.get_object(Bucket=BUCKET, Key=name + "-plain")["Body"].read() == data

    # Without the source's key: 400, as S3 answers (the proxy's HEAD of the source says so on
    # Ceph RGW 16 too, whose own copy answered 501); nothing copied.
    status, code = error(client.copy_object, Bucket=BUCKET, Key=name + "-nokey", CopySource=source)
    assert (status, code) == (400, "InvalidRequest")
    assert_not_stored(client, name + "-nokey")

    # A self-copy that only changes the key (key rotation).
    client.copy_object(
        Bucket=BUCKET,
        Key=name,
        CopySource=source,
        **ssec(new),
        **ssec(old, "CopySourceSSECustomer"),
    )
    assert client.get_object(Bucket=BUCKET, Key=name, **ssec(new))["Body"].read() == data


def test_sse_c_multipart_with_a_copied_part(sse_proxy: Proxy, backend: str) -> None:
    client = sse_proxy.client("alice")
    key = os.urandom(32)
    name = f"sse-c/{backend}/multipart"
    if not supports(backend, "SSE-C"):
        status = error(client.create_multipart_upload, Bucket=BUCKET, Key=name, **ssec(key))
        assert status == (501, "NotImplemented")
        return
    source_key, tail = os.urandom(32), os.urandom(30_000)
    client.put_object(Bucket=BUCKET, Key=name + "-tail", Body=tail, **ssec(source_key))

    created = client.create_multipart_upload(Bucket=BUCKET, Key=name, **ssec(key))
    assert created["SSECustomerKeyMD5"] == key_md5(key)
    upload = created["UploadId"]
    first = os.urandom(PART)
    part1 = client.upload_part(
        Bucket=BUCKET, Key=name, UploadId=upload, PartNumber=1, Body=first, **ssec(key)
    )
    assert part1["SSECustomerKeyMD5"] == key_md5(key)
    part2 = client.upload_part_copy(
        Bucket=BUCKET,
        Key=name,
        UploadId=upload,
        PartNumber=2,
        CopySource={"Bucket": BUCKET, "Key": name + "-tail"},
        CopySourceRange="bytes=0-19999",
        **ssec(key),
        **ssec(source_key, "CopySourceSSECustomer"),
    )
    parts = [
        {"PartNumber": 1, "ETag": part1["ETag"]},
        {"PartNumber": 2, "ETag": part2["CopyPartResult"]["ETag"]},
    ]
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=name, UploadId=upload, MultipartUpload={"Parts": parts}, **ssec(key)
    )
    whole = first + tail[:20000]
    head = client.head_object(Bucket=BUCKET, Key=name, **ssec(key))
    assert head["ContentLength"] == len(whole)
    span = f"bytes={PART - 100}-{PART + 99}"
    ranged = client.get_object(Bucket=BUCKET, Key=name, Range=span, **ssec(key))
    assert ranged["Body"].read() == whole[PART - 100 : PART + 100]
    assert error(client.get_object, Bucket=BUCKET, Key=name)[0] == 400


def test_a_part_without_the_uploads_key_is_refused(sse_proxy: Proxy, backend: str) -> None:
    if not supports(backend, "SSE-C"):
        pytest.skip("SSE-C uploads are refused on this lane")
    client = sse_proxy.client("alice")
    name = f"sse-c/{backend}/part-without-key"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=name, **ssec(os.urandom(32)))
    try:
        call = client.upload_part
        kwargs = {"UploadId": upload["UploadId"], "PartNumber": 1, "Body": b"in the clear"}
        assert error(call, Bucket=BUCKET, Key=name, **kwargs)[0] == 400
    finally:
        client.abort_multipart_upload(Bucket=BUCKET, Key=name, UploadId=upload["UploadId"])


def test_an_sse_c_upload_takes_parts_only_with_a_key(sse_proxy: Proxy, backend: str) -> None:
    """S3's InvalidRequest for a part without the upload's key, UploadPartCopy too, before any
    byte moves; the UploadId (which says so) is the same in ListMultipartUploads; tags given
    with the upload reach the SSE-C object."""
    if not supports(backend, "SSE-C"):
        pytest.skip("SSE-C uploads are refused on this lane")
    client = sse_proxy.client("alice")
    name, source, key = f"sse-c/{backend}/keyed-parts", f"sse-c/{backend}/plain", os.urandom(32)
    client.put_object(Bucket=BUCKET, Key=source, Body=b"plain source")
    created = client.create_multipart_upload(Bucket=BUCKET, Key=name, Tagging="k=1", **ssec(key))
    upload = {"Bucket": BUCKET, "Key": name, "UploadId": created["UploadId"], "PartNumber": 1}
    try:
        listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=name)["Uploads"]
        assert [entry["UploadId"] for entry in listed] == [created["UploadId"]]
        assert error(client.upload_part, Body=b"in the clear", **upload) == (400, "InvalidRequest")
        copy_source = {"Bucket": BUCKET, "Key": source}
        assert error(client.upload_part_copy, CopySource=copy_source, **upload) == (
            400,
            "InvalidRequest",
        )
        part = client.upload_part(Body=b"secret part", **upload, **ssec(key))
        del upload["PartNumber"]
        client.complete_multipart_upload(
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            **upload,
            **ssec(key),
        )
    except BaseException:
        client.abort_multipart_upload(Bucket=BUCKET, Key=name, UploadId=created["UploadId"])
        raise
    assert client.get_object(Bucket=BUCKET, Key=name, **ssec(key))["Body"].read() == b"secret part"
    tag_set = client.get_object_tagging(Bucket=BUCKET, Key=name)["TagSet"]
    assert [(tag["Key"], tag["Value"]) for tag in tag_set] == [("k", "1")]


# --- SSE-S3 and SSE-KMS ----------------------------------------------------------------------


def test_sse_s3(sse_proxy: Proxy, backend: str) -> None:
    client = sse_proxy.client("alice")
    name, data = f"sse-s3/{backend}/object", os.urandom(10_000)
    if not supports(backend, "AES256"):
        status = error(
            client.put_object, Bucket=BUCKET, Key=name, Body=data, ServerSideEncryption="AES256"
        )
        assert status == (501, "NotImplemented")
        assert_not_stored(client, name)
        status = error(
            client.create_multipart_upload, Bucket=BUCKET, Key=name, ServerSideEncryption="AES256"
        )
        assert status == (501, "NotImplemented")
        return
    put = client.put_object(Bucket=BUCKET, Key=name, Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=BUCKET, Key=name)["ServerSideEncryption"] == "AES256"
    ranged = client.get_object(Bucket=BUCKET, Key=name, Range="bytes=10-19")
    assert ranged["ServerSideEncryption"] == "AES256" and ranged["Body"].read() == data[10:20]
    stored = upstream_key("alice", BUCKET, name)
    upstream_head = sse_proxy.upstream.head_object(Bucket=sse_proxy.home_bucket, Key=stored)
    assert upstream_head["ServerSideEncryption"] == "AES256"

    copied = client.copy_object(
        Bucket=BUCKET,
        Key=name + "-copy",
        CopySource={"Bucket": BUCKET, "Key": name},
        ServerSideEncryption="AES256",
    )
    assert copied["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=BUCKET, Key=name + "-copy")["ServerSideEncryption"] == (
        "AES256"
    )
    created = client.create_multipart_upload(
        Bucket=BUCKET, Key=name + "-mp", ServerSideEncryption="AES256"
    )
    assert created["ServerSideEncryption"] == "AES256"
    client.abort_multipart_upload(Bucket=BUCKET, Key=name + "-mp", UploadId=created["UploadId"])


def test_an_sse_s3_upload_reports_it_on_every_call(sse_proxy: Proxy, backend: str) -> None:
    """As S3 does, UploadPart, UploadPartCopy and CompleteMultipartUpload of an upload created
    with SSE-S3 answer ``x-amz-server-side-encryption`` (their requests carry none); the parts
    of a plain upload do not."""
    if not supports(backend, "AES256"):
        pytest.skip("SSE-S3 is refused on this lane (test_sse_s3)")
    client = sse_proxy.client("alice")
    name = f"sse-s3/{backend}/multipart"
    client.put_object(Bucket=BUCKET, Key=name + "-source", Body=b"c" * PART)
    for encrypted in (True, False):
        create = {"ServerSideEncryption": "AES256"} if encrypted else {}
        key = f"{name}-{encrypted}"
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
        ids = {"Bucket": BUCKET, "Key": key, "UploadId": upload_id}
        copied = client.upload_part_copy(
            **ids, PartNumber=1, CopySource={"Bucket": BUCKET, "Key": name + "-source"}
        )
        part = client.upload_part(**ids, PartNumber=2, Body=b"last part")
        parts = [
            {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": part["ETag"]},
        ]
        done = client.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
        expected = "AES256" if encrypted else None
        assert copied.get("ServerSideEncryption") == expected
        assert part.get("ServerSideEncryption") == expected
        assert done.get("ServerSideEncryption") == expected
        assert client.head_object(Bucket=BUCKET, Key=key).get("ServerSideEncryption") == expected


def test_an_sse_s3_upload_keeps_its_upload_id_in_listings(sse_proxy: Proxy, backend: str) -> None:
    """ListMultipartUploads issues the UploadId Create did for an SSE-S3 upload (a ``.sse-s3``
    mark in the tenant's home says so), and calls through it answer SSE-S3 as S3 does."""
    if not supports(backend, "AES256"):
        pytest.skip("SSE-S3 is refused on this lane (test_sse_s3)")
    client = sse_proxy.client("alice")
    key = f"sse-s3/{backend}/listed"
    created = client.create_multipart_upload(Bucket=BUCKET, Key=key, ServerSideEncryption="AES256")
    try:
        listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=key)["Uploads"]
        assert [upload["UploadId"] for upload in listed] == [created["UploadId"]]
        ids = {"Bucket": BUCKET, "Key": key, "UploadId": listed[0]["UploadId"]}
        part = client.upload_part(**ids, PartNumber=1, Body=b"listed part")
        assert part.get("ServerSideEncryption") == "AES256"
        parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
        done = client.complete_multipart_upload(**ids, MultipartUpload=parts)
    except BaseException:
        client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=created["UploadId"])
        raise
    assert done.get("ServerSideEncryption") == "AES256"
    marks = sse_proxy.upstream.list_objects_v2(
        Bucket=sse_proxy.home_bucket, Prefix=f"alice/.uploads/{BUCKET}/"
    )
    assert not [
        item["Key"] for item in marks.get("Contents", []) if item["Key"].endswith(".sse-s3")
    ]


@pytest.mark.parametrize("method", ["aws:kms", "aws:kms:dsse"])
def test_sse_kms_is_501_everywhere(sse_proxy: Proxy, backend: str, method: str) -> None:
    client = sse_proxy.client("alice")
    name = f"sse-kms/{backend}/{method}"
    status = error(
        client.put_object, Bucket=BUCKET, Key=name, Body=b"x", ServerSideEncryption=method
    )
    assert status == (501, "NotImplemented")
    assert_not_stored(client, name)


def test_headers_s3_takes_nowhere_else_stay_refused(sse_proxy: Proxy, backend: str) -> None:
    url = object_url(sse_proxy.endpoint, BUCKET, f"sse/{backend}/refused")
    response = signed(
        "PUT",
        url,
        *sse_proxy.keys("alice"),
        {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": "e30="},
        b"x",
    )
    assert (response.status, response.error_code) == (501, "NotImplemented")


def test_sse_c_needs_tls_unless_the_operator_says_tls_ends_in_front(
    seaweed: Any, upstream_s3: Any, tmp_path: Path
) -> None:
    """S3 refuses a customer key sent over plain HTTP (400 InvalidRequest) and stores nothing;
    over TLS the same upload is served (SeaweedFS: the transport, not the upstream, is tested)."""
    from tests.integration.test_streaming import tls_client

    key, name = os.urandom(32), "sse-c/tls-only"
    plain = start_proxy(seaweed, upstream_s3, tmp_path / "http", {"sse": ["SSE-C"]})
    try:
        client = plain.client("alice")
        refused = error(client.put_object, Bucket=BUCKET, Key=name, Body=b"secret", **ssec(key))
        assert refused == (400, "InvalidRequest")
        assert_not_stored(client, name)
        assert error(client.get_object, Bucket=BUCKET, Key=name, **ssec(key))[1] == "InvalidRequest"
        client.put_object(Bucket=BUCKET, Key=name + "-plain", Body=b"no key, no refusal")
    finally:
        plain.process.stop()
    authority = trustme.CA()
    pem, ca = tmp_path / "server.pem", tmp_path / "ca.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    authority.cert_pem.write_to_path(str(ca))
    secure = start_proxy(
        seaweed,
        upstream_s3,
        tmp_path / "https",
        {"sse": ["SSE-C"]},
        server={"tls_cert": str(pem), "tls_key": str(pem)},
    )
    s3 = tls_client(secure, ca)
    try:
        s3.put_object(Bucket=BUCKET, Key=name, Body=b"secret", **ssec(key))
        assert s3.get_object(Bucket=BUCKET, Key=name, **ssec(key))["Body"].read() == b"secret"
    finally:
        s3.close()
        secure.process.stop(timeout=2)
