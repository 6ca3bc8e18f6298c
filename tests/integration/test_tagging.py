"""Object tagging (issue 17.1) on every lane: Put/Get/DeleteObjectTagging, ``x-amz-tagging`` on
PutObject, CreateMultipartUpload and CopyObject (with the tagging directive),
``x-amz-tagging-count`` on GET/HEAD, and S3's limits answered before anything is stored."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"


def _key(name: str) -> str:
    return f"tagging/{name}-{uuid.uuid4().hex[:8]}"


def _tags(client: Any, key: str) -> list[tuple[str, str]]:
    """The object's tag set, sorted: a tag set has no order (SeaweedFS returns it sorted)."""
    tag_set = client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    return sorted((tag["Key"], tag["Value"]) for tag in tag_set)


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_tags_given_on_put_are_kept_and_counted(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("put")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", Tagging="team=blue%20sky&tier=1")
    assert _tags(client, key) == [("team", "blue sky"), ("tier", "1")]
    assert (
        client.head_object(Bucket=BUCKET, Key=key)["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "2"
    )
    assert client.get_object(Bucket=BUCKET, Key=key)["TagCount"] == 2
    plain = _key("plain")
    client.put_object(Bucket=BUCKET, Key=plain, Body=b"x")
    assert (
        "x-amz-tagging-count"
        not in client.head_object(Bucket=BUCKET, Key=plain)["ResponseMetadata"]["HTTPHeaders"]
    )
    assert _tags(client, plain) == []


def test_put_get_delete_object_tagging(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("ops")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", Tagging="old=1")
    tag_set = [{"Key": "project", "Value": "s3proxy"}, {"Key": "owner", "Value": "ops@example.org"}]
    client.put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": tag_set})
    assert _tags(client, key) == [("owner", "ops@example.org"), ("project", "s3proxy")]
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x"  # body untouched
    deleted = client.delete_object_tagging(Bucket=BUCKET, Key=key)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _tags(client, key) == []
    assert "TagCount" not in client.head_object(Bucket=BUCKET, Key=key)


def test_raw_get_object_tagging_document(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("raw")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", Tagging="a=1")
    access, secret = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, key, "tagging"), access, secret)
    assert response.status == 200
    assert response.body.endswith(
        b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>'
        b"<Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>"
    )
    null = signed(
        "GET", object_url(proxy.endpoint, BUCKET, key, "tagging&versionId=null"), access, secret
    )
    assert null.status == 200 and null.body == response.body
    other = signed(
        "GET",
        object_url(proxy.endpoint, BUCKET, key, "tagging&versionId=" + "A" * 32),
        access,
        secret,
    )
    assert other.status == 404 and b"<Code>NoSuchVersion</Code>" in other.body


@pytest.mark.parametrize(
    ("tag_set", "code"),
    [
        ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "BadRequest"),  # AWS's code
        ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
        ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
        ([{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}], "InvalidTag"),
        ([{"Key": "aws:cost", "Value": "1"}], "InvalidTag"),
        ([{"Key": "k", "Value": "semi;colon"}], "InvalidTag"),
    ],
)
def test_put_object_tagging_refuses_what_s3_refuses(
    proxy: Proxy, tag_set: list[dict[str, str]], code: str
) -> None:
    client = proxy.client("alice")
    key = _key("limits")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", Tagging="keep=me")
    status, got = _error(
        client.put_object_tagging, Bucket=BUCKET, Key=key, Tagging={"TagSet": tag_set}
    )
    assert (status, got) == (400, code)
    assert _tags(client, key) == [("keep", "me")]


def test_limits_are_inclusive(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("max")
    tag_set = [{"Key": f"k{i}", "Value": "v"} for i in range(9)]
    tag_set.append({"Key": "k" * 128, "Value": "v" * 256})
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    client.put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": tag_set})
    assert len(_tags(client, key)) == 10


@pytest.mark.parametrize(
    ("tagging", "code"),
    [
        ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),
        ("a=1&a=2", "InvalidArgument"),
        ("aws:x=1", "InvalidTag"),
    ],
)
def test_a_put_with_bad_tags_stores_nothing(proxy: Proxy, tagging: str, code: str) -> None:
    client = proxy.client("alice")
    key = _key("badput")
    status, got = _error(client.put_object, Bucket=BUCKET, Key=key, Body=b"x", Tagging=tagging)
    assert (status, got) == (400, code)
    assert _error(client.head_object, Bucket=BUCKET, Key=key)[0] == 404


def test_tagging_a_missing_object_or_bucket(proxy: Proxy) -> None:
    client = proxy.client("alice")
    assert _error(client.get_object_tagging, Bucket=BUCKET, Key=_key("none")) == (404, "NoSuchKey")
    tagging = {"TagSet": [{"Key": "a", "Value": "b"}]}
    assert _error(client.put_object_tagging, Bucket=BUCKET, Key=_key("none"), Tagging=tagging) == (
        404,
        "NoSuchKey",
    )
    assert _error(client.get_object_tagging, Bucket="no-such-bucket-t", Key="k") == (
        404,
        "NoSuchBucket",
    )
    # Another tenant's object is out of reach, whatever the key.
    key = _key("alice-only")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", Tagging="a=1")
    assert _error(proxy.client("bob").get_object_tagging, Bucket=BUCKET, Key=key)[0] == 404


def test_copy_keeps_or_replaces_tags(proxy: Proxy) -> None:
    client = proxy.client("alice")
    source = _key("source")
    client.put_object(Bucket=BUCKET, Key=source, Body=b"x", Tagging="from=source")
    copied, replaced, emptied = _key("copied"), _key("replaced"), _key("emptied")
    copy_source = {"Bucket": BUCKET, "Key": source}
    client.copy_object(Bucket=BUCKET, Key=copied, CopySource=copy_source)
    client.copy_object(
        Bucket=BUCKET, Key=replaced, CopySource=copy_source, TaggingDirective="REPLACE",
        Tagging="new=1",
    )  # fmt: skip
    client.copy_object(
        Bucket=BUCKET, Key=emptied, CopySource=copy_source, TaggingDirective="REPLACE"
    )
    assert _tags(client, copied) == [("from", "source")]
    assert _tags(client, replaced) == [("new", "1")]
    assert _tags(client, emptied) == []
    assert _error(
        client.copy_object, Bucket=BUCKET, Key=_key("bad"), CopySource=copy_source,
        TaggingDirective="MERGE",
    ) == (400, "InvalidArgument")  # fmt: skip


def _upload_records(proxy: Proxy, key: str, upload_id: str) -> list[str]:
    """The names of an upload's records in alice's home (README, "The upstream layout"):
    ``.uploads/B/D…`` with D from the client key and the upstream upload id, which the
    UploadId carries in the clear after its 16-byte MAC. None on the local store."""
    raw = base64.urlsafe_b64decode(upload_id + "=" * (-len(upload_id) % 4))[16:]
    material = key.encode() + b"\x00" + json.loads(raw)["u"].encode()
    prefix = f"alice/.uploads/{BUCKET}/" + hashlib.sha256(material).hexdigest()[:32]
    listed = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=prefix)
    return sorted(entry["Key"][len(prefix) :] for entry in listed.get("Contents", []))


def test_multipart_upload_tags_the_object(proxy: Proxy) -> None:
    """On every upstream with the default configuration: Ceph RGW 16 drops tags given on
    CreateMultipartUpload, so the proxy keeps them in a record and sets them at Complete."""
    client = proxy.client("alice")
    key = _key("multipart")
    upload_id = client.create_multipart_upload(
        Bucket=BUCKET, Key=key, Tagging="mp=yes&team=blue%20sky"
    )["UploadId"]
    listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=key)["Uploads"]
    assert [upload["UploadId"] for upload in listed] == [upload_id]  # the same UploadId
    if proxy.upstream is not None:
        assert _upload_records(proxy, key, upload_id) == [".tags"]
    part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p")
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert _tags(client, key) == [("mp", "yes"), ("team", "blue sky")]
    headers = client.head_object(Bucket=BUCKET, Key=key)["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-tagging-count"] == "2"
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"p"
    if proxy.upstream is not None:
        assert _upload_records(proxy, key, upload_id) == []  # removed at Complete


def test_tag_records_go_with_abort_and_untagged_uploads_have_none(proxy: Proxy) -> None:
    client = proxy.client("alice")
    tagged, plain = _key("aborted"), _key("untagged")
    tagged_id = client.create_multipart_upload(Bucket=BUCKET, Key=tagged, Tagging="a=1")["UploadId"]
    plain_id = client.create_multipart_upload(Bucket=BUCKET, Key=plain)["UploadId"]
    if proxy.upstream is not None:
        assert _upload_records(proxy, tagged, tagged_id) == [".tags"]
        assert _upload_records(proxy, plain, plain_id) == []
    client.abort_multipart_upload(Bucket=BUCKET, Key=tagged, UploadId=tagged_id)
    if proxy.upstream is not None:
        assert _upload_records(proxy, tagged, tagged_id) == []
    part = client.upload_part(Bucket=BUCKET, Key=plain, UploadId=plain_id, PartNumber=1, Body=b"q")
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=plain,
        UploadId=plain_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert _tags(client, plain) == []
