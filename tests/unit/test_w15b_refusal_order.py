"""S3's order of refusals (authentication, then the bucket and access, then the request's
validity) in four corners wave 14 left (wave 15 B), in process over a local store
(tests/support/w14i_transport.py): a scoped key's copy source is refused with the request,
before an ACL header reads the destination's settings; ACL headers the gateway does not carry
out, a self-copy without changes and an empty Complete are the bucket's answer first when the
caller lacks the bucket."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.w14i_transport import Answer, InProcess

GRANT_READ = {"x-amz-grant-read": 'id="123456789012"'}  # no canned ACL says it: 501 NotImplemented


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[InProcess]:
    transport = InProcess(tmp_path)
    try:
        yield transport
    finally:
        transport.close()


def _is(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer


def test_a_scoped_copy_source_is_refused_before_the_acl_reads_the_bucket(
    gateway: InProcess,
) -> None:
    """Key ``as`` (nm1 under p/ only) copying nm2/p/src into its own nm1 with ``x-amz-acl``:
    403 naming the source, and the destination's settings were read first (README: a grant's
    refusal comes before any upstream request)."""
    send = gateway.send
    for name in ("nm1", "nm2"):
        assert send("a", "PUT", name).status == 200
    assert send("a", "PUT", "nm2", "p/src", body=b"a's").status == 200
    settings = gateway.gateway.runtime.storages["a"].buckets.settings
    reads: list[Any] = []
    real = settings.get

    async def counted(*args: Any, **named: Any) -> Any:
        reads.append(args)
        return await real(*args, **named)

    settings.get = counted  # type: ignore[method-assign]
    for headers in ({"x-amz-acl": "public-read"}, GRANT_READ):
        copied = send(
            "as", "PUT", "nm1", "p/q", headers={"x-amz-copy-source": "/nm2/p/src", **headers}
        )
        _is(copied, 403, "AccessDenied")
        assert b"copy source nm2/p/src" in copied.body
    assert reads == []
    assert send("a", "HEAD", "nm1", "p/q").status == 404


def test_refused_acl_headers_come_after_the_bucket(gateway: InProcess) -> None:
    """Grants no canned ACL says (501) into a bucket the caller lacks: NoSuchBucket where
    nobody has it, and b's authenticated-read nm1 answers a's writes 403 AccessDenied there,
    as without the header (501 first before)."""
    send = gateway.send
    assert send("b", "PUT", "nm1", headers={"x-amz-acl": "authenticated-read"}).status == 200
    assert send("a", "PUT", "nm2").status == 200
    assert send("a", "PUT", "nm2", "p/src", body=b"a's").status == 200
    _is(send("a", "PUT", "nobody", "k", headers=GRANT_READ, body=b"x"), 404, "NoSuchBucket")
    _is(send("a", "PUT", "nm1", "p/k", headers=GRANT_READ, body=b"x"), 403, "AccessDenied")
    _is(send("a", "POST", "nm1", "p/k", [("uploads", "")], GRANT_READ), 403, "AccessDenied")
    source = {"x-amz-copy-source": "/nm1/p/src"}  # inside the scoped key's grants
    _is(send("as", "PUT", "nm1", "p/q", headers={**source, **GRANT_READ}), 403, "AccessDenied")
    _is(send("a", "PUT", "nm2", "k", headers=GRANT_READ, body=b"x"), 501, "NotImplemented")


def test_a_self_copy_in_a_bucket_the_caller_lacks(gateway: InProcess) -> None:
    """A copy onto itself without changes is 400 InvalidRequest in the caller's own bucket
    only; elsewhere the bucket's answer comes first (400 before)."""
    send = gateway.send
    assert send("a", "PUT", "private").status == 200
    assert send("a", "PUT", "open", headers={"x-amz-acl": "public-read"}).status == 200
    for name in ("private", "open"):
        assert send("a", "PUT", name, "k", body=b"a's").status == 200

    def itself(party: str, name: str) -> Answer:
        return send(party, "PUT", name, "k", headers={"x-amz-copy-source": f"/{name}/k"})

    _is(itself("b", "nobody"), 404, "NoSuchBucket")
    _is(itself("b", "private"), 404, "NoSuchBucket")
    _is(itself("b", "open"), 403, "AccessDenied")  # b may list it: S3's 403 for its writes
    _is(itself("a", "private"), 400, "InvalidRequest")


def test_an_empty_complete_in_a_deleted_bucket(gateway: InProcess) -> None:
    """An upload's Complete with no parts after its bucket was deleted: NoSuchBucket, as any
    Complete there (MalformedXML before); in the bucket, still MalformedXML."""
    send = gateway.send
    empty = b"<CompleteMultipartUpload></CompleteMultipartUpload>"
    assert send("b", "PUT", "gone").status == 200
    created = send("b", "POST", "gone", "m", [("uploads", "")])
    upload_id = ET.fromstring(created.body).findtext("{*}UploadId") or ""
    query = [("uploadId", upload_id)]
    _is(send("b", "POST", "gone", "m", query, body=empty), 400, "MalformedXML")
    assert send("b", "DELETE", "gone", "m", query).status == 204
    assert send("b", "DELETE", "gone").status == 204
    _is(send("b", "POST", "gone", "m", query, body=empty), 404, "NoSuchBucket")
    unordered = (
        b'<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"a"</ETag></Part>'
        b'<Part><PartNumber>1</PartNumber><ETag>"b"</ETag></Part></CompleteMultipartUpload>'
    )
    _is(send("b", "POST", "gone", "m", query, body=unordered), 404, "NoSuchBucket")
