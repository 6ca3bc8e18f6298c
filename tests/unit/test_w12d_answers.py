"""Memory of large XML answers: rendered as they are sent, in bounded chunks (wave 12, D).

A listing page of 1,000 keys of 1,024 '&' is ~5 MiB of XML (each '&' written ``&amp;``), and
so are ListObjectVersions, ListMultipartUploads and a non-quiet DeleteObjects of such keys.
They were rendered whole and handed to the server as one body message; the uvicorn engine's
``send`` writes a last message into the connection's buffer without waiting, so a client that
did not read held the whole document in the worker after its request slot was given back
(48 stalled readers of one listing: +245 MiB, benchmarks/xml_answer_rss.py). Now an answer
larger than one chunk (``CHUNK_CHARS``) goes out in chunks, each rendered only once the
previous one was taken, and the server's ``send`` waits while its buffer is full. Counted here
through the ASGI app over a local store: the size of each body message the server is handed,
and how much of a document is rendered before the client has taken its first chunk.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.handlers import bucket as bucket_handlers
from s3proxy.owner import Owner
from s3proxy.responses import (
    CHUNK_CHARS,
    ResponseAborted,
    encoded_chunks,
    send_response,
    xml_stream,
)
from s3proxy.xmlcodec import list_buckets_pieces, list_buckets_xml
from tests.support.asgi import call_app
from tests.support.s3http import object_url, sign
from tests.unit.test_w10a_expensive import ENDPOINT, HEAVY, _settings

KEYS = [f"{n:03d}" + "&" * 997 for n in range(40)]  # ~200 KB of XML per listing: 4 chunks
LONGEST_PIECE = 16 * 1024  # one entry of any document here, escaped, with slack
BUCKET = "docs"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _messages(
    app: S3App, method: str, query: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """What the app hands the server for one signed request: every ASGI message."""
    url = object_url(ENDPOINT, BUCKET) + query
    signed = sign(method, url, *HEAVY, dict(headers or {}), body)
    split = urlsplit(url)
    raw = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": split.path,
        "raw_path": split.path.encode(),
        "query_string": split.query.encode(),
        "headers": raw,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _delete_body(keys: list[str]) -> bytes:
    items = "".join(f"<Object><Key>{key.replace('&', '&amp;')}</Key></Object>" for key in keys)
    return f"<Delete><Quiet>false</Quiet>{items}</Delete>".encode()


ANSWERS = {
    "ListObjectsV2": ("GET", "?list-type=2", "{*}Contents/{*}Key"),
    "ListObjectsV2 fetch-owner": ("GET", "?list-type=2&fetch-owner=true", "{*}Contents/{*}Key"),
    "ListObjects": ("GET", "", "{*}Contents/{*}Key"),
    "ListObjectVersions": ("GET", "?versions", "{*}Version/{*}Key"),
    "ListMultipartUploads": ("GET", "?uploads", "{*}Upload/{*}Key"),
    "DeleteObjects": ("POST", "?delete", "{*}Deleted/{*}Key"),
}


def test_large_answers_reach_the_server_in_bounded_chunks(tmp_path: Path) -> None:
    """Each large answer (listings of 40 keys of 1,000 '&', ~200 KB; ListMultipartUploads of
    40 such uploads; DeleteObjects of 40 such keys) is handed to the server in several body
    messages, none larger than a chunk and one entry, without a Content-Length (chunked, as S3
    sends its listings); the document they make is whole and lists every key. Before: one
    message of the whole document, with its Content-Length."""

    async def scenario() -> dict[str, list[dict[str, Any]]]:
        gateway = Gateway(_settings(tmp_path, {}))
        app = S3App(gateway)
        try:
            assert (await call_app(app, "PUT", object_url(ENDPOINT, BUCKET), HEAVY)).status == 200
            for key in KEYS:
                url = object_url(ENDPOINT, BUCKET, key)
                assert (await call_app(app, "PUT", url, HEAVY, b"x")).status == 200
                assert (await call_app(app, "POST", url + "?uploads", HEAVY)).status == 200
            answers = {}
            for name, (method, query, _) in ANSWERS.items():
                body, headers = b"", {}
                if method == "POST":
                    body = _delete_body(KEYS)
                    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
                    headers = {"Content-MD5": md5}
                answers[name] = await _messages(app, method, query, body, headers)
            return answers
        finally:
            await gateway.close()

    for name, messages in run(scenario()).items():
        start, bodies = messages[0], messages[1:]
        assert start["status"] == 200, name
        head = {key.decode().lower(): value.decode() for key, value in start["headers"]}
        assert "content-length" not in head, name
        assert head["content-type"] == "application/xml", name
        sizes = [len(message["body"]) for message in bodies]
        assert len(sizes) >= 3 and max(sizes) <= CHUNK_CHARS + LONGEST_PIECE, (name, sizes)
        assert all(message.get("more_body") for message in bodies[:-1]), name
        assert not bodies[-1].get("more_body"), name
        document = ET.fromstring(b"".join(message["body"] for message in bodies))
        found = [element.text for element in document.iterfind(ANSWERS[name][2])]
        assert found == KEYS, name


def test_a_small_answer_is_sent_whole_with_its_length(tmp_path: Path) -> None:
    """A listing that fits one chunk (most do) is one message with its Content-Length, as
    before: nothing changes for it on the wire."""

    async def scenario() -> list[dict[str, Any]]:
        gateway = Gateway(_settings(tmp_path, {}))
        app = S3App(gateway)
        try:
            assert (await call_app(app, "PUT", object_url(ENDPOINT, BUCKET), HEAVY)).status == 200
            url = object_url(ENDPOINT, BUCKET, "a&b")
            assert (await call_app(app, "PUT", url, HEAVY, b"x")).status == 200
            return await _messages(app, "GET", "?list-type=2")
        finally:
            await gateway.close()

    start, *bodies = run(scenario())
    head = {key.decode().lower(): value.decode() for key, value in start["headers"]}
    assert len(bodies) == 1 and head["content-length"] == str(len(bodies[0]["body"]))
    assert ET.fromstring(bodies[0]["body"]).findtext("{*}Contents/{*}Key") == "a&b"


def _counted(total: int, rendered: list[int]) -> Iterator[str]:
    """``total`` pieces of 1,000 characters, counting in ``rendered`` how many were made."""
    yield "<Doc>"
    for n in range(total):
        rendered[0] += 1
        yield f"<K>{n:04d}{'x' * 989}</K>"
    yield "</Doc>"


def test_a_slow_reader_holds_about_two_chunks_not_the_document() -> None:
    """While the server has not taken the first body message (its send waits on a client that
    reads nothing), at most two chunks of a 2 MB document have been rendered."""
    rendered = [0]
    response = xml_stream(_counted(2000, rendered))
    per_chunk = CHUNK_CHARS // 1000 + 1
    seen: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            seen.append(rendered[0])

    sent = run(send_response(send, response, head=False, extra_headers=[]))
    assert seen[0] <= 3 * per_chunk  # the first message out: two chunks made, a third held
    assert all(made - index * per_chunk <= 3 * per_chunk for index, made in enumerate(seen))
    assert sent == len(b"".join(encoded_chunks(_counted(2000, [0]))))


def test_a_rendering_that_fails_after_the_head_aborts_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the 200 head and the first chunks are out, a failure ends the exchange without the
    body's last message: the server cuts the connection, and the client sees a broken
    transfer, never a clean, shorter document."""

    def failing(*_args: Any, **_kwargs: Any) -> Iterator[str]:
        yield '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
        for n in range(400):
            yield f"<Contents><Key>{n:04d}{'k' * 990}</Key></Contents>"
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(bucket_handlers, "list_objects_pieces", failing)

    async def scenario() -> tuple[list[dict[str, Any]], BaseException | None]:
        gateway = Gateway(_settings(tmp_path, {}))
        app = S3App(gateway)
        try:
            assert (await call_app(app, "PUT", object_url(ENDPOINT, BUCKET), HEAVY)).status == 200
            sent: list[dict[str, Any]] = []
            url = object_url(ENDPOINT, BUCKET) + "?list-type=2"
            split = urlsplit(url)
            signed = sign("GET", url, *HEAVY)
            scope = {
                "type": "http",
                "method": "GET",
                "path": split.path,
                "raw_path": split.path.encode(),
                "query_string": split.query.encode(),
                "headers": [(n.lower().encode(), v.encode()) for n, v in signed.items()],
            }

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            try:
                await app(scope, receive, send)
            except Exception as failure:  # what the server sees: the app did not finish
                return sent, failure
            return sent, None
        finally:
            await gateway.close()

    sent, failure = run(scenario())
    assert isinstance(failure, ResponseAborted) and not failure.client_gone
    assert sent[0]["status"] == 200
    assert len(sent) > 2 and all(message.get("more_body") for message in sent[1:])


def test_encoded_chunks_join_to_the_document_and_split_only_between_pieces() -> None:
    pieces = ["<a>", *(quote(str(n)) * (n % 50) for n in range(3000)), "é", "</a>"]
    chunks = list(encoded_chunks(iter(pieces), size=1000))
    assert b"".join(chunks) == "".join(pieces).encode()
    assert all(1000 <= len(chunk.decode()) < 1000 + 200 for chunk in chunks[:-1])
    assert list(encoded_chunks(iter([]))) == []


def test_list_buckets_is_streamed_as_the_same_document() -> None:
    """ListBuckets of 2,000 buckets (~200 KB; a tenant may have 10,000): chunked, and the
    chunks make exactly the document rendered whole."""
    owner = Owner("0" * 64, "tenant")
    buckets = [(f"bucket-{n:05d}", "2026-12-04T10:00:00.000Z") for n in range(2000)]
    response = xml_stream(list_buckets_pieces(owner, buckets, prefix="b"))

    async def collect() -> bytes:
        assert not isinstance(response.body, bytes)
        return b"".join([chunk async for chunk in response.body])

    body = run(collect())
    assert body == list_buckets_xml(owner, buckets, prefix="b")
    names = [e.text for e in ET.fromstring(body).iterfind("{*}Buckets/{*}Bucket/{*}Name")]
    assert names == [name for name, _ in buckets]
