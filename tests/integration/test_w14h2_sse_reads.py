"""Wave 14 H2: a GET/HEAD with an SSE-C key on a bucket whose upstream does not take SSE-C
(no ``upstreams.NAME.sse``), on the S3 lanes (the local store's answer is tested in process),
through a proxy the operator says TLS ends in front of (``server.sse_c_over_http``).

It was 501 for any such read, so a client that sends its key on every request (``rclone
--s3-sse-customer-key``) took a missing destination for an existing file. No object there can
be SSE-C encrypted, so S3's answers for a plain object are exact and given; a write with a key
stays 501 (the upstream would not encrypt it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.integration.conftest import Proxy, start_proxy

BUCKET = "docs"
NOT_APPLICABLE = "The encryption parameters are not applicable to this object."


@pytest.fixture(scope="module")
def keyless_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    if proxy.server is None:
        pytest.skip("the local store: in process, tests/unit/test_w14h2_sse_reads.py")
    workdir = tmp_path_factory.mktemp(f"w14h2-{backend}")
    running = start_proxy(
        proxy.server, proxy.upstream, workdir, {"sse": []}, server={"sse_c_over_http": True}
    )
    try:
        yield running
    finally:
        running.process.stop()


def refusal(call: Any, **kwargs: Any) -> tuple[int, str, str | None]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"]["Code"], response["Error"].get("Message")


def test_a_reads_key_is_answered_as_s3_answers_it_for_a_plain_object(
    keyless_proxy: Proxy, backend: str
) -> None:
    client = keyless_proxy.client("alice")
    key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    plain, missing = f"w14h2/{backend}/plain", f"w14h2/{backend}/missing"
    client.put_object(Bucket=BUCKET, Key=plain, Body=b"in the clear")

    got = refusal(client.get_object, Bucket=BUCKET, Key=plain, **key)
    assert got == (400, "InvalidRequest", NOT_APPLICABLE)
    assert refusal(client.head_object, Bucket=BUCKET, Key=plain, **key)[0] == 400
    ranged = refusal(client.get_object, Bucket=BUCKET, Key=plain, Range="bytes=0-1", **key)
    assert ranged[:2] == (400, "InvalidRequest")
    absent = refusal(client.get_object, Bucket=BUCKET, Key=missing, **key)
    assert absent[:2] == (404, "NoSuchKey")
    assert refusal(client.head_object, Bucket=BUCKET, Key=missing, **key)[:2] == (404, "404")

    written = refusal(client.put_object, Bucket=BUCKET, Key=missing, Body=b"secret", **key)
    assert written[:2] == (501, "NotImplemented")
    assert refusal(client.head_object, Bucket=BUCKET, Key=missing)[0] == 404
    assert client.get_object(Bucket=BUCKET, Key=plain)["Body"].read() == b"in the clear"
