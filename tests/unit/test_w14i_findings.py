"""What the wave 14 I model-based fuzz (test_w14i_stateful.py) found, one direct test each, in
process over a local store (tests/support/w14i_transport.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.w14i_transport import InProcess

COMPLETE = (
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
    b'<ETag>"00000000000000000000000000000000"</ETag></Part></CompleteMultipartUpload>'
)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[InProcess]:
    transport = InProcess(tmp_path)
    try:
        yield transport
    finally:
        transport.close()


def _upload_calls(upload_id: str) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """UploadPart, ListParts, CompleteMultipartUpload and AbortMultipartUpload of one UploadId."""
    return [
        ("PUT", [("partNumber", "1"), ("uploadId", upload_id)], b"part"),
        ("GET", [("uploadId", upload_id)], b""),
        ("POST", [("uploadId", upload_id)], COMPLETE),
        ("DELETE", [("uploadId", upload_id)], b""),
    ]


def test_an_upload_id_in_a_bucket_the_caller_lacks_is_that_buckets_answer(
    gateway: InProcess,
) -> None:
    """An UploadId not bound to the caller's target was NoSuchUpload before the bucket was
    looked at: another tenant's UploadPart, ListParts, Complete or Abort in a bucket granting it
    READ was NoSuchUpload where every other write there is 403 AccessDenied (README "Reads
    signed by another tenant"), and in a bucket nobody has it was NoSuchUpload where S3 answers
    NoSuchBucket. Now the bucket comes first, as on S3; the owner's upload is untouched."""
    assert gateway.send("a", "PUT", "nm1", headers={"x-amz-acl": "public-read"}).status == 200
    created = gateway.send("a", "POST", "nm1", "k", [("uploads", "")])
    upload_id = ET.fromstring(created.body).findtext("{*}UploadId") or ""
    for method, query, body in _upload_calls(upload_id):
        answer = gateway.send("b", method, "nm1", "k", query, body=body)
        assert (answer.status, answer.code) == (403, "AccessDenied"), (method, answer)
        answer = gateway.send("b", method, "nobody", "k", query, body=body)
        assert (answer.status, answer.code) == (404, "NoSuchBucket"), (method, answer)
        answer = gateway.send("a", method, "nobody", "k", query, body=body)
        assert (answer.status, answer.code) == (404, "NoSuchBucket"), (method, answer)
    # b's own bucket of that name: the UploadId is none of b's uploads there.
    assert gateway.send("b", "PUT", "nm1").status == 200
    for method, query, body in _upload_calls(upload_id):
        answer = gateway.send("b", method, "nm1", "k", query, body=body)
        assert (answer.status, answer.code) == (404, "NoSuchUpload"), (method, answer)
    listed = gateway.send("a", "GET", "nm1", query=[("uploads", "")]).body
    assert upload_id.encode() in listed


def test_a_scoped_keys_copy_source_outside_its_grants_is_403_with_an_acl_too(
    gateway: InProcess,
) -> None:
    """a's scoped key (nm1 under p/ only) copying a source outside its grants into nm1, where a
    has no nm1 but b's nm1 grants a READ: 403 AccessDenied, as without an ACL header. With
    ``x-amz-acl`` the ACL check read the caller's bucket first (NoSuchBucket), and the look-up
    of another tenant's bucket then dropped the key's own refusal for that NoSuchBucket."""
    assert (
        gateway.send("b", "PUT", "nm1", headers={"x-amz-acl": "authenticated-read"}).status == 200
    )
    assert gateway.send("a", "PUT", "nm2").status == 200
    assert gateway.send("a", "PUT", "nm2", "p/src", body=b"a's").status == 200
    for acl in (None, "private", "public-read"):
        headers = {"x-amz-copy-source": "/nm2/p/src", **({"x-amz-acl": acl} if acl else {})}
        answer = gateway.send("as", "PUT", "nm1", "p/q", headers=headers)
        assert (answer.status, answer.code) == (403, "AccessDenied"), (acl, answer)
        assert b"copy source" in answer.body  # the key's own refusal, naming the source
