"""Memory per request for small XML bodies read whole (wave 11, K).

README "Fair sharing" promises a request buffers about 1.5 MiB, so request slots bound a
tenant's body memory. XML bodies are read whole: DeleteObjects up to 6 MiB, Complete 4 MiB,
the others 2 MiB. Here: a body declared over ``HELD_BODY_BYTES`` (1 MiB) is not read before its
request holds one of the tenant's expensive-operation slots, so a tenant holds at most
``max_concurrent_expensive`` of them per worker (counted through the app: ``receives`` is how
often the app asked for body bytes); DeleteObjects finds its bucket before reading; and the
read itself holds the body once, not twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

from s3proxy.app import Gateway, S3App
from s3proxy.body import HELD_BODY_BYTES, held_body, read_small_body
from s3proxy.handlers.bucket import MAX_DELETE_BODY
from s3proxy.request import S3Request
from tests.support.asgi import call_app
from tests.support.s3http import object_url, sign
from tests.unit.test_w10a_expensive import ENDPOINT, HEAVY, LIGHT, _settings


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class _Headers:
    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def header(self, name: str) -> str | None:
        return self._headers.get(name)


def _request(headers: dict[str, str]) -> S3Request:
    return cast(S3Request, _Headers(headers))


def _drive(coro: Coroutine[Any, Any, bytes]) -> bytes:
    """Run a coroutine that never suspends, without an event loop (whose first start imports
    modules and would count in tracemalloc's peak)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(bytes, done.value)
    raise AssertionError("the receive never waits")


def test_held_body_is_decided_from_the_head() -> None:
    over = str(HELD_BODY_BYTES + 1)
    cases = {
        (("content-length", over),): True,
        (("content-length", str(HELD_BODY_BYTES)),): False,
        (("content-length", "120"),): False,
        (("transfer-encoding", "chunked"),): True,  # a size known only once read
        (): False,  # no Content-Length, no Transfer-Encoding: no body (RFC 9112 6.3)
        (("content-length", "12x"),): True,
        (("content-length", str(2 * HELD_BODY_BYTES + 1)),): False,  # refused unread, no wait
        (("content-length", str(2 * HELD_BODY_BYTES)),): True,
    }
    for headers, held in cases.items():
        assert held_body(_request(dict(headers)), 2 * HELD_BODY_BYTES) is held, headers


def _receiver(pattern: bytes, count: int) -> Any:
    """``count`` reads of ``pattern``, each a new bytes object made as it is received (as the
    server's reads are), so tracemalloc counts what the reader keeps of them."""
    left = count

    async def receive() -> dict[str, Any]:
        nonlocal left
        left -= 1
        return {"type": "http.request", "body": bytes(bytearray(pattern)), "more_body": left > 0}

    return receive


def test_a_small_body_is_read_exactly_and_held_once() -> None:
    """6 MiB in 64 KiB reads: the bytes as sent, and at most ~1.25 x their size allocated at the
    peak (joining a list of reads held the body twice: 12 MiB for a 6 MiB DeleteObjects)."""
    size = 6 * 1024 * 1024
    pattern = bytes(range(256)) * 256
    count = size // len(pattern)
    expected = hashlib.sha256(pattern * count).hexdigest()
    receive = _receiver(pattern, count)
    request = _request({"content-length": str(size)})
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        body = _drive(read_small_body(receive, request, 6 * 1024 * 1024))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(body) == size and hashlib.sha256(body).hexdigest() == expected
    assert peak < 1.25 * size, peak / size


# -- through the app ------------------------------------------------------------------------


def _md5(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def _big_delete() -> bytes:
    """300 legal keys of 1,000 '&', escaped as SDKs write them: 1.5 MB."""
    entry = "<Object><Key>" + "&amp;" * 1000 + "</Key></Object>"
    body = ("<Delete><Quiet>true</Quiet>" + entry * 300 + "</Delete>").encode()
    assert len(body) > HELD_BODY_BYTES
    return body


def test_large_xml_bodies_are_not_read_until_the_tenant_has_a_slot(tmp_path: Path) -> None:
    """The heavy tenant's one expensive slot is held by another of its requests: a DeleteObjects,
    CompleteMultipartUpload and PutBucketCors body over 1 MiB gets 503 SlowDown with no body
    byte read (before: each was read whole first, 64 of them at once per tenant and worker);
    the light tenant's same DeleteObjects is read and served."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 1}))
        app = S3App(gateway)
        bucket = object_url(ENDPOINT, "docs")
        big = _big_delete()
        try:
            for keys in (HEAVY, LIGHT):
                assert (await call_app(app, "PUT", bucket, keys)).status == 200
            key = object_url(ENDPOINT, "docs", "big")
            created = await call_app(app, "POST", key + "?uploads", HEAVY)
            upload = ET.fromstring(created.body).findtext("{*}UploadId")
            assert upload
            # (the bodies' content does not matter: they are refused before a byte is read)
            complete = (
                b"<CompleteMultipartUpload>"
                + b" " * HELD_BODY_BYTES
                + b"</CompleteMultipartUpload>"
            )
            cors = b"<CORSConfiguration>" + b" " * HELD_BODY_BYTES + b"</CORSConfiguration>"
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)
            requests = {
                "DeleteObjects": ("POST", bucket + "?delete", big, _md5(big)),
                "CompleteMultipartUpload": (
                    "POST",
                    f"{key}?uploadId={quote(upload, safe='')}",
                    complete,
                    None,
                ),
                "PutBucketCors": ("PUT", bucket + "?cors", cors, _md5(cors)),
            }
            for name, (method, url, body, headers) in requests.items():
                refused = await call_app(app, method, url, HEAVY, body, headers)
                assert (refused.status, refused.code, refused.receives) == (503, "SlowDown", 0), (
                    name,
                    refused.status,
                    refused.code,
                    refused.receives,
                )
            # A body over DeleteObjects' 6 MiB is refused from its Content-Length, not made to
            # wait for a slot first: 400, not 503.
            huge = b" " * (MAX_DELETE_BODY + 1)
            refused = await call_app(app, "POST", bucket + "?delete", HEAVY, huge, _md5(huge))
            assert (refused.status, refused.code, refused.receives) == (400, "MalformedXML", 0)
            served = await call_app(app, "POST", bucket + "?delete", LIGHT, big, _md5(big))
            assert served.status == 200 and served.receives == 1, served.code
            slot.leave()
            served = await call_app(app, "POST", bucket + "?delete", HEAVY, big, _md5(big))
            assert served.status == 200, served.code
            assert slot.active == 0
        finally:
            await gateway.close()

    run(scenario())


def test_delete_objects_on_a_missing_bucket_reads_no_body(tmp_path: Path) -> None:
    """S3's NoSuchBucket, answered before the body is read (the server drains or closes)."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {}))
        app = S3App(gateway)
        big = _big_delete()
        try:
            url = object_url(ENDPOINT, "nowhere") + "?delete"
            missing = await call_app(app, "POST", url, HEAVY, big, _md5(big))
            assert (missing.status, missing.code, missing.receives) == (404, "NoSuchBucket", 0)
        finally:
            await gateway.close()

    run(scenario())


def test_a_tenant_reads_at_most_its_expensive_limit_of_large_bodies_at_once(
    tmp_path: Path,
) -> None:
    """Eight large DeleteObjects of one tenant at once, max_concurrent_expensive 2: while the
    clients are slow to send, two bodies are being read and six requests wait for a slot
    without reading; once the bodies arrive all eight are served (before: all eight read)."""
    big = _big_delete()
    reading = 0
    most = 0
    arrived = asyncio.Event()

    async def delete(app: Any) -> int:
        url = object_url(ENDPOINT, "docs") + "?delete"
        signed = sign("POST", url, *HEAVY, _md5(big), big)
        split = urlsplit(url)
        headers = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
        headers.append((b"content-length", str(len(big)).encode()))
        scope = {
            "type": "http",
            "method": "POST",
            "path": split.path,
            "raw_path": split.path.encode(),
            "query_string": split.query.encode(),
            "headers": headers,
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal reading, most
            reading += 1
            most = max(most, reading)
            await arrived.wait()  # a slow client: the body is still on its way
            reading -= 1
            return {"type": "http.request", "body": big, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return int(sent[0]["status"])

    async def scenario() -> list[int]:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 2}))
        gateway.admission.max_wait = 30.0  # waiting requests wait for the slot, never 503
        app = S3App(gateway)
        try:
            assert (await call_app(app, "PUT", object_url(ENDPOINT, "docs"), HEAVY)).status == 200
            tasks = [asyncio.create_task(delete(app)) for _ in range(8)]
            for _ in range(50):  # let every request run up to where it waits
                await asyncio.sleep(0)
            assert (reading, gateway.admission.expensive["heavy"].active) == (2, 2)
            arrived.set()
            return await asyncio.gather(*tasks)
        finally:
            await gateway.close()

    assert run(scenario()) == [200] * 8
    assert most == 2
