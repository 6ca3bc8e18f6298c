"""Another chunk after the final (empty) one in an aws-chunked body (wave 13, D).

S3 answers framing that is not aws-chunked, data past the end included, with 400 IncompleteBody
(versitygw's suite measured it). A chunk line after the final chunk was read as a malformed
trailer, 400 MalformedTrailerError. Either way nothing may be stored: the old object stays.
"""

from __future__ import annotations

import base64
import os
import zlib

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import aws_chunked_headers, object_url, send, sign

pytestmark = pytest.mark.integration


def test_a_chunk_after_the_final_chunk_is_incomplete_body(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = "w13d-" + os.urandom(4).hex()
    s3.put_object(Bucket="docs", Key=key, Body=b"old object")
    data = os.urandom(20_000)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = (
        f"{len(data):x}\r\n".encode()
        + data
        + b"\r\n0\r\n5\r\nhello\r\n0\r\n"
        + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    )
    url = object_url(proxy.endpoint, "docs", key)
    try:
        headers = sign(
            "PUT",
            url,
            *proxy.keys("alice"),
            aws_chunked_headers(len(data), "x-amz-checksum-crc32"),
            payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        )
        answer = send("PUT", url, headers, body)
        assert (answer.status, answer.error_code) == (400, "IncompleteBody"), answer.body
        assert s3.get_object(Bucket="docs", Key=key)["Body"].read() == b"old object"
    finally:
        s3.delete_object(Bucket="docs", Key=key)
