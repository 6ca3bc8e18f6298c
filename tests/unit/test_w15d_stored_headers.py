"""Wave 15 D: what the gateway stores upstream for an object's content headers and metadata.

- An empty content header (``Content-Type: ``, ``Cache-Control: `` …) is kept by S3, Ceph RGW
  16 and the local store, but dropped by SeaweedFS 4.48, which then answered its own guess for
  the type (``text/plain; charset=utf-8``): it travels in an ``s3proxy-meta-<name>`` entry
  there, as an odd ``Expires`` does, and reads back empty.
- On AWS S3 (its endpoint, or ``Server: AmazonS3``) nothing is added: every added entry counts
  toward S3's 2 KB of user metadata, so a write S3 takes became S3's MetadataTooLarge.
"""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_kind import is_aws
from s3proxy.backends.upstream_metadata import stored_headers
from s3proxy.backends.wire import object_info
from s3proxy.model import CONTENT_HEADERS, ObjectAttributes

WHOLE = {"Content-Length": "6", "ETag": '"e"', "Last-Modified": "Sun, 29 Nov 2026 00:00:00 GMT"}


def _read_back(stored: dict[str, str], guessed: str | None) -> ObjectAttributes:
    """What a read finds where SeaweedFS keeps ``stored`` (dropping empty values, guessing a
    type when none is kept)."""
    kept = {name: value for name, value in stored.items() if value}
    if guessed is not None:
        kept.setdefault("content-type", guessed)
    return object_info({**kept, **WHOLE}, 6).attributes


@pytest.mark.parametrize("name", CONTENT_HEADERS)
def test_an_empty_content_header_is_carried_and_read_back_empty(name: str) -> None:
    sent = {"content-type": "text/x", name: ""}
    stored = stored_headers(ObjectAttributes(headers=sent), ceph_rgw=False, aws=False)
    assert all(stored.values())  # nothing SeaweedFS would drop
    attributes = _read_back(stored, "text/plain; charset=utf-8")
    assert attributes.headers == sent
    assert attributes.metadata == {}


def test_an_empty_content_header_goes_as_it_is_where_it_is_kept() -> None:
    sent = {"content-type": "", "cache-control": "", "content-language": "en"}
    for ceph_rgw, aws in ((True, False), (None, True), (False, True)):
        stored = stored_headers(ObjectAttributes(headers=sent), ceph_rgw=ceph_rgw, aws=aws)
        assert stored == sent


def test_an_aws_upstream_stores_the_client_s_entries_as_sent() -> None:
    """No encoded word for an empty value, no carried ``Expires``, no packed names: on AWS the
    user metadata stored is the client's own, which the gateway already holds to 2 KB. Only a
    value that begins with ``=?`` is wrapped (reads would take it for the gateway's word)."""
    metadata = {"empty": "", "a_b": "x", "l" * 100: "long name", "plain": "v"}
    headers = {"content-type": "t", "expires": "in 5 days", "cache-control": "max-age=x"}
    attributes = ObjectAttributes(headers=headers, metadata=metadata)
    stored = stored_headers(attributes, ceph_rgw=None, aws=True)
    assert stored == {**headers, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
    wrapped = stored_headers(ObjectAttributes(metadata={"w": "=?x"}), ceph_rgw=None, aws=True)
    assert wrapped["x-amz-meta-w"] != "=?x"
    assert object_info({**wrapped, **WHOLE}, 6).attributes.metadata == {"w": "=?x"}


def test_elsewhere_the_entries_every_upstream_keeps_are_added_as_before() -> None:
    metadata = {"empty": "", "plain": "v"}
    attributes = ObjectAttributes(headers={"expires": "in 5 days"}, metadata=metadata)
    stored = stored_headers(attributes, ceph_rgw=False, aws=False)
    assert stored["x-amz-meta-empty"] == "=?UTF-8?Q??="
    assert "expires" not in stored and "x-amz-meta-s3proxy-meta-expires" in stored
    read = object_info({**stored, **WHOLE}, 6).attributes
    assert (dict(read.headers), dict(read.metadata)) == ({"expires": "in 5 days"}, metadata)


@pytest.mark.parametrize(
    ("host", "server", "aws"),
    [
        ("s3.us-east-1.amazonaws.com", "", True),
        ("bucket.vpce-1a2b.s3.eu-west-1.vpce.amazonaws.com", "nginx", True),
        ("s3.cn-north-1.amazonaws.com.cn", "", True),
        ("127.0.0.1", "AmazonS3", True),
        ("127.0.0.1", "SeaweedFS 4.48", False),
        ("minio.internal", "MinIO", False),
        ("amazonaws.com.example.org", "", False),
        ("notamazonaws.com", "", False),
    ],
)
def test_aws_is_known_by_its_endpoint_or_its_server_header(
    host: str, server: str, aws: bool
) -> None:
    assert is_aws(host, server) is aws
