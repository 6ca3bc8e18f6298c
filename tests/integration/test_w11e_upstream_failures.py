"""Upstream failures mid-flight, as a client sees them (wave 11 E).

A relay (tests/support/relay.py) in front of real SeaweedFS and Ceph RGW forces each case: an
Abort that loses a race to a Complete (Ceph RGW 16 answers it 500), an Abort of an upload that
is already gone (SeaweedFS 4.48 answers 204), a conditional Complete sent again after its own
first attempt succeeded (the upstream then answers 412), an InternalError inside a Complete's
200, and a listing page that does not say whether it is the last. What S3 answers is the
reference: NoSuchUpload for an upload completed or aborted, the Complete's own 200, never a 5xx
for a race and never a listing cut short.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    Proxy,
)
from tests.integration.relayed import relayed_proxy, upstream_lanes
from tests.support.relay import Exchange, Relay
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "w11e-failures"


@pytest.fixture(scope="module", params=upstream_lanes())
def relayed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay, str]]:
    """(proxy, relay, lane): a one-worker proxy whose upstream answers through a relay."""
    with relayed_proxy(request, tmp_path_factory, "w11e", BUCKET) as (running, relay, _):
        yield running, relay, request.param


def call(
    proxy: Proxy, method: str, key: str | None, query: str = "", body: bytes = b"", **headers: str
) -> RawResponse:
    ak, sk = proxy.keys("alice")
    if key is None:
        url = f"{proxy.endpoint}/{BUCKET}" + (f"?{query}" if query else "")
    else:
        url = object_url(proxy.endpoint, BUCKET, key, query)
    return signed(method, url, ak, sk, headers, body)


def one_part_upload(client: Any, key: str) -> tuple[str, list[dict[str, Any]]]:
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = client.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=os.urandom(10_000)
    )
    return upload, [{"PartNumber": 1, "ETag": part["ETag"]}]


def complete_xml(parts: list[dict[str, Any]]) -> bytes:
    items = "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>"
        for p in parts
    )
    return f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()


def failure_500(exchange: Exchange) -> bytes:
    """Ceph RGW 16's 500 to the side of a race that lost."""
    exchange.status, exchange.reason = 500, "Internal Server Error"
    exchange.response_headers = [("Content-Type", "application/xml")]
    exchange.response_body = b"<Error><Code>UnknownError</Code></Error>"
    return exchange.raw()


def answer_200(body: bytes) -> bytes:
    """A 200 of the relay's own, closing its connection as every relayed answer does."""
    return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def aborts(exchange: Exchange) -> bool:
    return exchange.method == "DELETE" and "uploadId" in exchange.query


def test_an_abort_that_lost_a_race_to_a_complete_is_no_such_upload(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """The client's Complete lands while the upstream handles its Abort, which it then answers
    500 (as Ceph RGW 16 does): S3 orders the two, the Abort came second, 404 NoSuchUpload. It
    was a 503 the client would retry into the same NoSuchUpload. The object stays whole."""
    proxy, relay, _ = relayed
    client = proxy.client("alice")
    upload, parts = one_part_upload(client, "abort-race")
    completed: list[str] = []

    def complete_first(exchange: Exchange) -> bytes | None:
        if not aborts(exchange) or completed:
            return None
        done = client.complete_multipart_upload(
            Bucket=BUCKET, Key="abort-race", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        completed.append(done["ETag"])
        return failure_500(exchange)

    relay.answer = complete_first
    try:
        response = call(proxy, "DELETE", "abort-race", f"uploadId={upload}")
    finally:
        relay.clear()
    assert completed
    assert (response.status, response.error_code) == (404, "NoSuchUpload")
    assert client.head_object(Bucket=BUCKET, Key="abort-race")["ETag"] == completed[0]


def test_an_abort_of_a_completed_upload_is_no_such_upload(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """SeaweedFS 4.48 answers 204 to an Abort of an upload it no longer has, where S3 says 404
    NoSuchUpload: a client told its completed upload was aborted takes the object for gone.
    An Abort racing nothing still aborts (204), and the upload is gone."""
    proxy, _, _ = relayed
    client = proxy.client("alice")
    upload, parts = one_part_upload(client, "abort-done")
    client.complete_multipart_upload(
        Bucket=BUCKET, Key="abort-done", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    for _ in range(2):  # the first Abort on an upstream learns what its Aborts answer
        response = call(proxy, "DELETE", "abort-done", f"uploadId={upload}")
        assert (response.status, response.error_code) == (404, "NoSuchUpload")
    open_upload, _ = one_part_upload(client, "abort-open")
    assert call(proxy, "DELETE", "abort-open", f"uploadId={open_upload}").status == 204
    with pytest.raises(ClientError) as raised:
        client.list_parts(Bucket=BUCKET, Key="abort-open", UploadId=open_upload)
    assert raised.value.response["Error"]["Code"] == "NoSuchUpload"


def test_a_conditional_complete_sent_again_after_its_own_success_is_that_success(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """``If-None-Match: *`` Complete: the upstream completes it but answers 500; ListParts
    (the relay answers as an upstream slow to drop the upload would) still shows the upload,
    so the proxy sends the Complete again, and the upstream answers it 412: the object is
    there — the one this Complete made. The client gets that success (200, the object's ETag),
    not a 412 for its own write. Ceph RGW 16 takes no conditional Complete (501): SeaweedFS."""
    proxy, relay, lane = relayed
    if lane != "seaweedfs":
        pytest.skip("Ceph RGW 16 refuses a conditional Complete (501 NotImplemented)")
    client = proxy.client("alice")
    key = "cond-complete"
    upload, parts = one_part_upload(client, key)
    steps: list[str] = []

    def completes(exchange: Exchange) -> bool:  # not the proxy's probe of a `.` key
        return (
            exchange.method == "POST"
            and "uploadId" in exchange.query
            and "/." not in (exchange.path)
        )

    def still_listed(exchange: Exchange) -> bytes | None:
        if steps == ["500"] and exchange.method == "GET" and "uploadId" in exchange.query:
            steps.append("listed")
            page = (
                "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1"
                f"</PartNumber><ETag>{parts[0]['ETag']}</ETag><Size>10000</Size></Part>"
                "</ListPartsResult>"
            ).encode()
            return (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(page)
                + page
            )
        return None

    def hidden_success(exchange: Exchange) -> bytes | None:
        if completes(exchange) and not steps and exchange.status == 200:
            steps.append("500")
            return failure_500(exchange)
        if completes(exchange) and steps == ["500", "listed"]:
            steps.append(str(exchange.status))
        return None

    relay.answer, relay.rewrite = still_listed, hidden_success
    try:
        response = call(
            proxy, "POST", key, f"uploadId={upload}", complete_xml(parts), **{"If-None-Match": "*"}
        )
    finally:
        relay.clear()
    assert steps == ["500", "listed", "412"], steps
    assert response.status == 200, response.body
    etag = re.search(rb"<ETag>([^<]+)</ETag>", response.body)
    assert etag is not None
    assert (
        html.unescape(etag.group(1).decode()) == client.head_object(Bucket=BUCKET, Key=key)["ETag"]
    )


def test_an_internal_error_inside_a_complete_s_200_is_asked_again(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """S3 may fail a Complete after its 200 status line (an ``<Error>`` after keep-alive
    whitespace) and says to retry a failed Complete, 500s included: the proxy asks again, as
    for a 500 status, and the client gets the Complete's own 200 (it got 500 InternalError)."""
    proxy, relay, _ = relayed
    client = proxy.client("alice")
    upload, parts = one_part_upload(client, "embedded-500")
    failed: list[str] = []

    def first_fails(exchange: Exchange) -> bytes | None:
        if exchange.method != "POST" or "uploadId" not in exchange.query or failed:
            return None
        failed.append(exchange.path)
        error = b"<Error><Code>InternalError</Code><Message>later</Message></Error>"
        return answer_200(b" \n" * 3 + error)

    relay.answer = first_fails
    try:
        response = call(proxy, "POST", "embedded-500", f"uploadId={upload}", complete_xml(parts))
    finally:
        relay.clear()
    assert failed
    assert response.status == 200, response.body
    assert client.head_object(Bucket=BUCKET, Key="embedded-500")["ContentLength"] == 10_000


def test_a_listing_page_that_says_nothing_of_its_end_is_an_error(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """A ListObjectsV2 page without ``IsTruncated`` (a broken upstream or something in front of
    it) is not the last page: 500 InternalError, never a 200 listing that may be cut short
    (sync --delete removes what a listing leaves out). V1 and V2 alike."""
    proxy, relay, _ = relayed
    proxy.client("alice").put_object(Bucket=BUCKET, Key="listed", Body=b"x")

    def no_end(exchange: Exchange) -> bytes | None:
        if exchange.method != "GET" or exchange.query.get("list-type") != "2":
            return None
        page = b"<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount></ListBucketResult>"
        return (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(page) + page
        )

    relay.answer = no_end
    try:
        answers = [call(proxy, "GET", None, "list-type=2"), call(proxy, "GET", None)]
    finally:
        relay.clear()
    for response in answers:
        assert (response.status, response.error_code) == (500, "InternalError")
        assert b"could not be read" in response.body
    assert call(proxy, "GET", None, "list-type=2").status == 200
