"""What a client sees when its upstream misbehaves mid-request (wave 13 G).

A fault proxy (:mod:`tests.support.fault_proxy`) sits between a one-worker gateway and the
real SeaweedFS, keeping the gateway's connections alive as they are, and breaks one exchange
at a chosen byte: an answer stalled mid-body, a request reset mid-body, a request the upstream
carried out whose answer is then lost, or an answer of its own (a DeleteResult that leaves keys
out, an object HEAD or GET without what S3 always sends). What the client must see is what S3
would let it conclude: an error it retries (never a 200 for what was not done, never a body that
ends short yet reads complete), a retry that lands, and nothing of the upstream in any answer.
SeaweedFS only: the behaviour is the gateway's, not the upstream's (the relay tests cover
Ceph RGW's own answers).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    HOME_BUCKET,
    Proxy,
    create_upstream_buckets,
    lanes,
    start_proxy,
    upstream_key,
)
from tests.support.fault_proxy import Fault, FaultProxy, Request, fault_proxy_to
from tests.support.s3http import RawResponse, object_url, sign, signed

pytestmark = pytest.mark.integration

BUCKET = "w13g-faults"
MiB = 1024 * 1024
READ_TIMEOUT = 2
"""The upstream's read_timeout here: how long a stalled answer holds its request."""


@contextlib.contextmanager
def gateway_behind_faults(
    request: pytest.FixtureRequest, workdir: Path, bucket: str, **upstream: Any
) -> Iterator[tuple[Proxy, FaultProxy]]:
    """(gateway, fault proxy) on the SeaweedFS lane: one worker, so every request shares one
    connection pool; ``upstream`` settings beside the fault proxy's endpoint; ``bucket`` made."""
    if "seaweedfs" not in lanes():
        pytest.skip("needs the SeaweedFS lane")
    server = request.getfixturevalue("seaweed")
    upstream_s3 = request.getfixturevalue("upstream_s3")
    create_upstream_buckets(upstream_s3)
    with fault_proxy_to(server.endpoint) as faults:
        gateway = start_proxy(
            server, upstream_s3, workdir, {"endpoint": faults.endpoint, **upstream},
            server={"workers": 1},
        )  # fmt: skip
        try:
            gateway.client("alice").create_bucket(Bucket=bucket)
            yield gateway, faults
        finally:
            faults.clear()
            gateway.process.stop()


@pytest.fixture(scope="module")
def faulty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, FaultProxy]]:
    """(gateway, fault proxy) with a short read_timeout."""
    workdir = tmp_path_factory.mktemp("w13g")
    with gateway_behind_faults(request, workdir, BUCKET, read_timeout=READ_TIMEOUT) as pair:
        yield pair


def call(
    gateway: Proxy, method: str, key: str | None, query: str = "", body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:  # fmt: skip
    ak, sk = gateway.keys("alice")
    if key is None:
        url = f"{gateway.endpoint}/{BUCKET}" + (f"?{query}" if query else "")
    else:
        url = object_url(gateway.endpoint, BUCKET, key, query)
    return signed(method, url, ak, sk, headers, body)


def of_key(method: str, key: str, *query: str) -> Fault:
    """A fault for the upstream request of ``method`` on client key ``key`` (letters and
    digits only: the flat layout keeps them) whose query names all of ``query``."""

    def match(request: Request) -> bool:
        return (
            request.method == method
            and request.path.endswith(f"/{key}")
            and all(name in request.query for name in query)
        )

    return Fault(match)


def clean(response: RawResponse, faults: FaultProxy) -> None:
    """Nothing of the upstream in a client answer: its bucket, the tenant's upstream prefix,
    the fault proxy's address, a traceback."""
    blob = response.body + "".join(f"{k}: {v}\n" for k, v in response.headers).encode()
    for needle in (HOME_BUCKET, "alice/w13g", f":{faults.port}", "Traceback", "<html"):
        assert needle.encode() not in blob, needle


def access_line(gateway: Proxy, request_id: str) -> str:
    lines = [line for line in gateway.process.log_text().splitlines() if request_id in line]
    assert lines, request_id
    return lines[-1]


def test_a_get_body_stalled_mid_way_breaks_the_client_connection_and_is_never_reused(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """The upstream sends 1 MiB of an 8 MiB body, then nothing, its connection open: after
    read_timeout the client's connection breaks (a 200 whose body cannot read complete), the
    access log says why, and the stalled upstream connection is closed by the gateway, never
    pooled with the rest of a body still owed on it: the next GET, on the same pool, is whole."""
    gateway, faults = faulty
    data = os.urandom(8 * MiB)
    gateway.client("alice").put_object(Bucket=BUCKET, Key="stalled", Body=data)
    fault = of_key("GET", "stalled")
    fault.after, fault.how = MiB, "stall"
    faults.add(fault)
    ak, sk = gateway.keys("alice")
    url = object_url(gateway.endpoint, BUCKET, "stalled")
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest("GET", f"/{BUCKET}/stalled", skip_host=True)
        for name, value in sign("GET", url, ak, sk).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(len(data))
        with pytest.raises(http.client.IncompleteRead):
            response.read()
        request_id = response.getheader("x-amz-request-id") or ""
    finally:
        connection.close()
    (link,) = faults.links_of(fault)
    assert link.ended.wait(10), "the stalled upstream connection stayed open"
    assert fault.gateway_gave_up
    assert link.requests[-1] is fault.hits[0], "a request went out on the stalled connection"
    line = access_line(gateway, request_id)
    assert '"status":200' in line and '"error":"aborted: TimeoutError"' in line, line
    again = call(gateway, "GET", "stalled")
    assert (again.status, again.body == data) == (200, True)


def _complete_xml(etags: list[str]) -> bytes:
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        for n, etag in enumerate(etags, 1)
    )
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def test_writes_broken_mid_way_are_a_503_and_a_retry_lands(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """A PUT reset mid-body stores nothing; an UploadPart, a Complete, a DeleteObjects the
    upstream carried out but whose answer was lost, and a Complete whose 200 result broke off,
    are 503 ServiceUnavailable (never a 200 the gateway cannot vouch for, never a 500), and the
    client's retry of the same request lands as S3's would: the same part, the object its parts
    make (200 with its ETag though the upload is already gone), Deleted for every key."""
    gateway, faults = faulty
    s3 = gateway.client("alice")

    put = faults.add(of_key("PUT", "putcut"))
    put.where, put.after = "request", MiB
    response = call(gateway, "PUT", "putcut", body=os.urandom(3 * MiB))
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    clean(response, faults)
    assert call(gateway, "HEAD", "putcut").status == 404

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    part = os.urandom(5 * MiB)
    faults.add(of_key("PUT", "mp", "partNumber")).where = "done"
    query = f"partNumber=1&uploadId={upload}"
    response = call(gateway, "PUT", "mp", query, part)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    clean(response, faults)
    first = call(gateway, "PUT", "mp", query, part)
    assert first.status == 200
    second = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload, PartNumber=2, Body=b"end")
    body = _complete_xml([first.header("ETag") or "", second["ETag"]])
    faults.add(of_key("POST", "mp", "uploadId")).where = "done"
    response = call(gateway, "POST", "mp", f"uploadId={upload}", body)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    retried = call(gateway, "POST", "mp", f"uploadId={upload}", body)
    assert retried.status == 200, retried.body
    etag = re.search(rb"<ETag>&#34;([0-9a-f]+-2)&#34;</ETag>|<ETag>\"([0-9a-f]+-2)\"</ETag>",
                     retried.body)  # fmt: skip
    assert etag is not None, retried.body
    assert call(gateway, "GET", "mp").body == part + b"end"

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="cut")["UploadId"]
    only = s3.upload_part(Bucket=BUCKET, Key="cut", UploadId=upload, PartNumber=1, Body=b"c")
    cut = faults.add(of_key("POST", "cut", "uploadId"))
    cut.after, cut.how = 300, "close"  # the head and the first bytes of the result
    body = _complete_xml([only["ETag"]])
    response = call(gateway, "POST", "cut", f"uploadId={upload}", body)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert call(gateway, "POST", "cut", f"uploadId={upload}", body).status == 200
    assert call(gateway, "GET", "cut").body == b"c"

    for key in ("del1", "del2"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    request = b"<Delete><Object><Key>del1</Key></Object><Object><Key>del2</Key></Object></Delete>"
    md5 = {"Content-MD5": base64.b64encode(hashlib.md5(request).digest()).decode()}
    deletes = faults.add(Fault(lambda r: r.method == "POST" and "delete" in r.query, "done"))
    response = call(gateway, "POST", None, "delete", request, md5)
    assert deletes.hits
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    response = call(gateway, "POST", None, "delete", request, md5)
    assert response.status == 200
    assert re.findall(rb"<Deleted><Key>(\w+)</Key></Deleted>", response.body) == [b"del1", b"del2"]


@pytest.mark.parametrize("how", ["put", "copy"])
def test_a_conditional_write_whose_answer_was_lost_is_not_sent_again(
    faulty: tuple[Proxy, FaultProxy], how: str
) -> None:
    """A PutObject or CopyObject with ``If-None-Match: *`` that the upstream carried out, its
    answer then lost on a reused pooled connection: the pool sent it again as it does an
    idempotent request, the upstream refused the second on its condition, and the client got
    412 PreconditionFailed for its own write, with nothing to tell it two were made. Now it is
    sent once: 503, the object is there, and the client's retry meets the condition as it would
    on S3 after a lost answer."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    s3.put_object(Bucket=BUCKET, Key="source", Body=b"source")
    key = f"cond{how}"
    headers = {"If-None-Match": "*"}
    body = b"" if how == "copy" else b"small body"
    if how == "copy":
        headers["x-amz-copy-source"] = f"/{BUCKET}/source"
    assert call(gateway, "HEAD", "source").status == 200  # a connection back in the pool
    faults.add(of_key("PUT", key)).where = "done"
    response = call(gateway, "PUT", key, body=body, headers=headers)
    sent = [r for link in faults.links for r in link.requests if r.path.endswith(f"/{key}")]
    assert [r.method for r in sent] == ["PUT"]
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert call(gateway, "HEAD", key).status == 200
    retried = call(gateway, "PUT", key, body=body, headers=headers)
    assert (retried.status, retried.error_code) == (412, "PreconditionFailed")


def test_a_copy_whose_source_breaks_off_while_it_is_summed_is_a_503(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """A CopyObject that asks for a checksum is summed through the gateway first (S3 gives the
    copy a checksum of its own): the source's body breaking off there was an exception nobody
    caught, 500 InternalError and a traceback in the log; now it is the 503 ServiceUnavailable
    of any upstream body that broke off, and nothing is stored."""
    gateway, faults = faulty
    gateway.client("alice").put_object(Bucket=BUCKET, Key="summed", Body=os.urandom(3 * MiB))
    fault = faults.add(of_key("GET", "summed"))
    fault.after, fault.how = MiB, "close"
    headers = {"x-amz-copy-source": f"/{BUCKET}/summed", "x-amz-checksum-algorithm": "SHA256"}
    response = call(gateway, "PUT", "summedcopy", headers=headers)
    assert fault.hits
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    clean(response, faults)
    assert call(gateway, "HEAD", "summedcopy").status == 404
    line = access_line(gateway, response.header("x-amz-request-id") or "-")
    assert '"error":"ServiceUnavailable"' in line, line
    assert "Traceback" not in gateway.process.log_text()


def test_a_delete_result_that_leaves_keys_out_does_not_call_them_deleted(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """Asked to delete three keys (Quiet false), the upstream's 200 DeleteResult names one:
    the two it leaves out are errors the client retries (InternalError), not "Deleted" — they
    are still there, and a sync that deletes what its source lost would take them for gone.
    The gateway answered all three Deleted."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    keys = ["gone1", "kept2", "kept3"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    named = upstream_key("alice", BUCKET, "gone1")
    result = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Deleted><Key>{named}</Key></Deleted></DeleteResult>"
    ).encode()
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(result) + result
    faults.add(Fault(lambda r: r.method == "POST" and "delete" in r.query, "raw", raw=raw,
                     keep_open=True))  # fmt: skip
    objects = "".join(f"<Object><Key>{key}</Key></Object>" for key in keys)
    request = f"<Delete>{objects}</Delete>".encode()
    md5 = {"Content-MD5": base64.b64encode(hashlib.md5(request).digest()).decode()}
    response = call(gateway, "POST", None, "delete", request, md5)
    assert response.status == 200, response.body
    clean(response, faults)
    assert re.findall(rb"<Deleted><Key>(\w+)</Key></Deleted>", response.body) == [b"gone1"]
    errors = re.findall(rb"<Error><Key>(\w+)</Key><Code>(\w+)</Code>", response.body)
    assert errors == [(b"kept2", b"InternalError"), (b"kept3", b"InternalError")]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="kept")["Contents"]
    assert [entry["Key"] for entry in listed] == ["kept2", "kept3"]


OBJECT_ANSWERS = {
    "head-without-length": ("HEAD", b'HTTP/1.1 200 OK\r\nETag: "%s"\r\nLast-Modified: %s\r\n'
                                    b"Connection: close\r\n\r\n"),
    "head-204": ("HEAD", b"HTTP/1.1 204 No Content\r\n\r\n"),
    "get-204": ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
}  # fmt: skip
"""Object answers S3 never gives: (method, raw answer with %s for ETag / Last-Modified)."""


@pytest.mark.parametrize("case", OBJECT_ANSWERS)
def test_an_object_answer_without_a_length_is_refused(
    faulty: tuple[Proxy, FaultProxy], case: str
) -> None:
    """A 2xx to an object's HEAD or GET is 200 (or 206) with the object's length on S3. A HEAD
    answered without a length (or 204, from something in front of the upstream) reached the
    client as a 200 with Content-Length 0, an empty object that is not one: now 500
    InternalError, as a GET without a length already was."""
    gateway, faults = faulty
    gateway.client("alice").put_object(Bucket=BUCKET, Key="obj", Body=b"source")
    etag, modified = hashlib.md5(b"source").hexdigest(), "Sun, 29 Nov 2026 00:00:00 GMT"
    method, template = OBJECT_ANSWERS[case]
    raw = template.replace(b"%s", etag.encode(), 1) if b'"%s"' in template else template
    raw = raw.replace(b"%s", modified.encode())
    fault = faults.add(of_key(method, "obj"))
    fault.where, fault.raw, fault.keep_open = "raw", raw, b"close" not in raw
    response = call(gateway, method, "obj")
    assert fault.hits
    assert response.status == 500, (response.status, response.headers)
    if method == "GET":
        assert response.error_code == "InternalError"
        assert b"could not be read" in response.body
        clean(response, faults)
    assert call(gateway, "HEAD", "obj").header("Content-Length") == "6"


PAGE_404 = b"<html><body><h1>404 Not Found</h1>nginx</body></html>"
NOT_FOUND_PAGE = (
    b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(PAGE_404), PAGE_404)
)
BARE_404 = {
    "put": ("PUT", "obj", b"data"),
    "get": ("GET", "obj", b""),
    "delete": ("DELETE", "obj", b""),
    "list": ("GET", None, b""),
}


@pytest.mark.parametrize("case", BARE_404)
def test_a_404_page_in_front_of_the_upstream_is_no_s3_answer(
    faulty: tuple[Proxy, FaultProxy], case: str
) -> None:
    """Wave 13 G2: a load balancer in front of the storage answers a route it does not know
    with a 404 page, no S3 error document. The status alone told a PUT's client NoSuchKey,
    a listing's NoSuchKey, and a DELETE's 204 (the key still stored): 500 InternalError now,
    as any answer the gateway cannot read (a HEAD's 404, never a body, is still NoSuchKey)."""
    gateway, faults = faulty
    method, key, body = BARE_404[case]

    def match(request: Request) -> bool:
        if key is None:
            return request.method == "GET" and "list-type" in request.query
        return request.method == method and request.path.endswith("/obj")

    fault = faults.add(Fault(match, where="raw", raw=NOT_FOUND_PAGE))
    response = call(gateway, method, key, body=body)
    assert fault.hits
    assert (response.status, response.error_code) == (500, "InternalError"), response.body
    clean(response, faults)
    assert b"nginx" not in response.body
