"""Upstream faults wave 13 left (wave 14 B), through the fault proxy.

``client: aiohttp`` sent a conditional write (``If-None-Match`` / ``If-Match`` on a PUT or a
copy) a second time when its answer was lost: aiohttp re-sends any PUT whose connection fails
before an answer (RFC 9112 9.3.1 lets a client re-send an idempotent request), the first
attempt had written the object, and the second failed its own condition, so the client got
412 PreconditionFailed for its own write. The native client was fixed in wave 13 G; the aiohttp
client now sends it once too (503, which the client retries). SeaweedFS only: the behaviour is
the gateway's client, not the upstream's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy
from tests.integration.test_w13g_upstream_faults import gateway_behind_faults
from tests.support.fault_proxy import Fault, FaultProxy, Request
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "w14b-faults"


@pytest.fixture(scope="module")
def faulty_aiohttp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, FaultProxy]]:
    """(gateway on ``client: aiohttp``, fault proxy): one worker, one session per tenant."""
    workdir = tmp_path_factory.mktemp("w14b")
    with gateway_behind_faults(request, workdir, BUCKET, client="aiohttp") as pair:
        yield pair


def call(
    gateway: Proxy, method: str, key: str, body: bytes = b"",
    headers: dict[str, str] | None = None, query: str = "",
) -> RawResponse:  # fmt: skip
    ak, sk = gateway.keys("alice")
    url = object_url(gateway.endpoint, BUCKET, key, query)
    return signed(method, url, ak, sk, headers, body)


@pytest.mark.parametrize("how", ["put", "copy", "if-match"])
def test_aiohttp_sends_a_conditional_write_whose_answer_was_lost_once(
    faulty_aiohttp: tuple[Proxy, FaultProxy], how: str
) -> None:
    """A PutObject (``If-None-Match: *`` or ``If-Match``) or CopyObject (``If-None-Match: *``)
    the upstream carried out, its answer then lost: aiohttp sent it again, the upstream
    refused the second on its condition (the first had changed the object), and the client got
    412 for its own write. Now one PUT goes upstream, the client gets 503, the object is
    there, and the client's retry meets the condition as it would on S3 after a lost answer."""
    gateway, faults = faulty_aiohttp
    s3 = gateway.client("alice")
    key = f"cond{how.replace('-', '')}"
    old = s3.put_object(Bucket=BUCKET, Key="source", Body=b"source")["ETag"]
    headers = {"If-None-Match": "*"}
    body = b"small body"
    if how == "copy":
        body, headers["x-amz-copy-source"] = b"", f"/{BUCKET}/source"
    if how == "if-match":
        key, headers = "source", {"If-Match": old}
    assert call(gateway, "HEAD", "source").status == 200  # a connection back in the pool

    def match(request: Request) -> bool:
        return request.method == "PUT" and request.path.endswith(f"/{key}")

    faults.add(Fault(match, where="done"))
    before = {id(r) for link in faults.links for r in link.requests}
    response = call(gateway, "PUT", key, body=body, headers=headers)
    sent = [r for link in faults.links for r in link.requests if id(r) not in before]
    assert [r.method for r in sent if match(r)] == ["PUT"]
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert call(gateway, "GET", key).body == (b"source" if how == "copy" else body)
    retried = call(gateway, "PUT", key, body=body, headers=headers)
    assert (retried.status, retried.error_code) == (412, "PreconditionFailed")


OBJECT_ANSWERS = {
    "head-without-etag": ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
                                  b"Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT\r\n\r\n"),
    "get-without-date": ("GET", b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\nETag: "%s"\r\n\r\n'
                                b"source"),
}  # fmt: skip
"""Object answers S3 never gives (``%s``: the object's ETag): framed, so the connection stays."""


@pytest.mark.parametrize("case", OBJECT_ANSWERS)
def test_an_object_answer_without_an_etag_or_a_date_is_refused(
    faulty_aiohttp: tuple[Proxy, FaultProxy], case: str
) -> None:
    """An S3 object always has an ETag and a Last-Modified, and S3 sends both on every 200 or
    206 to its HEAD or GET. One without either (from something in front of the upstream) was
    passed on as a 200 without them (the client's sync or conditional request then compares
    nothing): now it is 500 InternalError, as one without a length is."""
    gateway, faults = faulty_aiohttp
    gateway.client("alice").put_object(Bucket=BUCKET, Key="obj", Body=b"source")
    method, raw = OBJECT_ANSWERS[case]
    raw = raw.replace(b"%s", hashlib.md5(b"source").hexdigest().encode())

    def match(request: Request) -> bool:
        return request.method == method and request.path.endswith("/obj")

    fault = faults.add(Fault(match, where="raw", raw=raw, keep_open=True))
    response = call(gateway, method, "obj")
    assert fault.hits
    assert response.status == 500, (response.status, response.headers)
    if method == "GET":
        assert response.error_code == "InternalError"
    again = call(gateway, "HEAD", "obj")
    assert (again.status, again.header("ETag")) == (200, f'"{hashlib.md5(b"source").hexdigest()}"')


PAGE_404 = b"<html><body><h1>404 Not Found</h1></body></html>"
NOT_FOUND_PAGE = (
    b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(PAGE_404), PAGE_404)
)


def test_the_abort_mode_is_learnt_from_s3_answers_only(
    faulty_aiohttp: tuple[Proxy, FaultProxy],
) -> None:
    """SeaweedFS answers 204 to an Abort of an upload it no longer has, where S3 answers
    NoSuchUpload, so the gateway asks first (ListParts) until it has learnt from an Abort's
    ``Server`` that its upstream is not SeaweedFS. It learnt that from any answer below 500:
    a load balancer's 404 page to one Abort (``Server: nginx``) made it skip the question for
    the life of the process, and an Abort of a completed upload was then 204, telling the
    client its object was gone. A page is no S3 answer: nothing is learnt from it."""
    gateway, faults = faulty_aiohttp
    s3 = gateway.client("alice")
    first = s3.create_multipart_upload(Bucket=BUCKET, Key="aborted")["UploadId"]

    def abort(request: Request) -> bool:
        return request.method == "DELETE" and "uploadId" in request.query

    fault = faults.add(Fault(abort, where="raw", raw=NOT_FOUND_PAGE, keep_open=True))
    response = call(gateway, "DELETE", "aborted", query=f"uploadId={first}")
    assert fault.hits
    assert (response.status, response.error_code) == (500, "InternalError")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="completed")["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key="completed", UploadId=upload, PartNumber=1, Body=b"c")
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="completed", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    response = call(gateway, "DELETE", "completed", query=f"uploadId={upload}")
    assert (response.status, response.error_code) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="aborted", UploadId=first)
