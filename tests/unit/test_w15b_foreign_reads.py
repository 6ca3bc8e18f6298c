"""What a reader who is not the owner learns of an object's tags (wave 15 B), in process over a
local store (tests/support/w14i_transport.py). S3 answers ``x-amz-tagging-count`` on GET and
HEAD only to a caller allowed s3:GetObjectTagging, which no ACL grant gives (an ACL's READ is
s3:GetObject); here such readers' GetObjectTagging is refused, yet their GET and HEAD said how
many tags the object has. The owner and the owner's scoped keys still see it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.w14i_transport import InProcess


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[InProcess]:
    transport = InProcess(tmp_path)
    try:
        yield transport
    finally:
        transport.close()


def test_a_foreign_or_anonymous_read_carries_no_tag_count(gateway: InProcess) -> None:
    send = gateway.send
    assert send("a", "PUT", "nm1").status == 200
    assert send("a", "PUT", "open", headers={"x-amz-acl": "public-read"}).status == 200
    tagged = {"x-amz-tagging": "k=v&l=w"}
    public = {**tagged, "x-amz-acl": "public-read"}
    assert send("a", "PUT", "nm1", "p/obj", headers=public, body=b"x").status == 200
    assert send("a", "PUT", "open", "obj", headers=tagged, body=b"y").status == 200
    for name, key in (("nm1", "p/obj"), ("open", "obj")):
        for method in ("GET", "HEAD"):
            for party in ("b", "anon"):
                answer = send(party, method, name, key)
                assert answer.status == 200, (party, method, name, answer)
                assert "x-amz-tagging-count" not in answer.headers, (party, method, name)
                assert send(party, "GET", name, key, [("tagging", "")]).status in (403, 404)
            assert send("a", method, name, key).headers["x-amz-tagging-count"] == "2"
    assert send("as", "HEAD", "nm1", "p/obj").headers["x-amz-tagging-count"] == "2"
