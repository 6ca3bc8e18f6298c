"""The early 200 of CopyObject, UploadPartCopy and CompleteMultipartUpload (wave 18 A,
s3proxy.early_answer), in process on the local store.

The work is held on an event that only the client's side of the test sets, once it has
received a space of the early answer: so the work cannot end before the early answer began,
whatever the box's load, and no assertion depends on a clock (the delay and the space
interval are 10 ms). The real clients against a slowed upstream, on both engines:
tests/integration/test_w18a_early_answer.py.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.handlers import _looks_like_special_case_error

from s3proxy.app import Gateway, S3App
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.mapped_completion import MappedCompletion
from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.s3http import sign

ENDPOINT = "http://127.0.0.1:9000"
KEYS = {
    "t": ("AKEARLYANSWER0000001", "early-answer-secret-eeeeeeeeeeee"),
    "u": ("AKEARLYANSWER0000002", "early-answer-secret-uuuuuuuuuuuu"),
}
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
SOURCE = b"the copy source, thirty-nine bytes long"
QUICK = 0.01
"""The delay and space interval where the work is held: the answer begins at once."""
NEVER = 3600.0
"""The delay where the work must be answered as before (it ends long before)."""
GUARD = 60.0
"""Only a gateway that never answers meets this: the test then fails instead of hanging."""
COPY = {"x-amz-copy-source": "/bkt/src"}


@dataclass
class Sent:
    """What the app sent for one request: status, headers, each body message's bytes."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def settings(store: Path, delay: float) -> Settings:
    tenants = {
        name: {
            "keys": [{"access_key": access, "secret_key": secret}],
            "home": {"upstream": "u", "bucket": "home"},
        }
        for name, (access, secret) in KEYS.items()
    }
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "early_answer_seconds": delay},
            "upstreams": {"u": {"type": "local", "path": str(store)}},
            "tenants": tenants,
        }
    )


async def request(
    app: S3App,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    on_body: Callable[[bytes], None] | None = None,
    tenant: str = "t",
    receive_first: Awaitable[None] | None = None,
) -> Sent:
    """One signed request straight into ``app``; ``on_body`` sees each body message as it is
    sent (it may raise OSError: the client left); ``receive_first`` is awaited before the
    request body is handed over (a slow client)."""
    url = f"{ENDPOINT}/{path}"
    split = urlsplit(url)
    signed = sign(method, url, *KEYS[tenant], dict(headers or {}), body)
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
    sent = Sent()

    async def receive() -> dict[str, Any]:
        if receive_first is not None:
            await receive_first
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = int(message["status"])
            sent.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        else:
            sent.chunks.append(message.get("body", b""))
            if on_body is not None:
                on_body(message.get("body", b""))

    await asyncio.wait_for(app(scope, receive, send), GUARD)
    return sent


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request's access line as :meth:`S3App._log` gets it (the metrics' values too)."""
    written: list[dict[str, Any]] = []
    log = S3App._log

    def kept(entry: dict[str, Any], started: float, bytes_in: int, bytes_out: int) -> None:
        written.append(dict(entry))
        log(entry, started, bytes_in, bytes_out)

    monkeypatch.setattr(S3App, "_log", staticmethod(kept))
    return written


def line_of(lines: list[dict[str, Any]], operation: str) -> dict[str, Any]:
    (line,) = [line for line in lines if line.get("operation") == operation]
    return line


class Held:
    """A storage method whose work waits until the client received a space of the early
    answer (:meth:`release`), then runs as before or raises ``error``."""

    def __init__(self, error: S3Error | None = None) -> None:
        self.error = error
        self.gate: asyncio.Event | None = None
        self.calls = 0
        self.cancelled = self.finished = False

    def release(self, chunk: bytes) -> None:
        if chunk == b" " and self.gate is not None:
            self.gate.set()

    def around(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def held(*args: Any, **kwargs: Any) -> Any:
            self.gate = self.gate or asyncio.Event()
            self.calls += 1
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
            if self.error is not None:
                raise self.error
            result = await original(*args, **kwargs)
            self.finished = True
            return result

        return held


def hold(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, held: Held) -> Held:
    monkeypatch.setattr(owner, name, held.around(getattr(owner, name)))
    return held


def run(store: Path, delay: float, scenario: Callable[[S3App], Awaitable[None]]) -> None:
    """``scenario`` against a gateway on a local store in ``store``, with bucket ``bkt`` and
    its object ``src`` (:data:`SOURCE`) made."""

    async def main() -> None:
        gateway = Gateway(settings(store, delay))
        try:
            app = S3App(gateway)
            assert (await request(app, "PUT", "bkt")).status == 200
            assert (await request(app, "PUT", "bkt/src", SOURCE)).status == 200
            await scenario(app)
        finally:
            await gateway.close()

    asyncio.run(main())


def document(sent: Sent) -> ET.Element:
    """An early answer's document: the declaration first, spaces, then the root element."""
    assert sent.body.startswith(DECLARATION)
    rest = sent.body.removeprefix(DECLARATION)
    assert rest.startswith(b" ") and rest.lstrip(b" ").startswith(b"<")
    return ET.fromstring(sent.body)


def tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


async def upload(app: S3App, key: str = "mp") -> tuple[str, str]:
    """A new upload of ``b/<key>`` with one part: its UploadId and its Complete's body."""
    created = await request(app, "POST", f"bkt/{key}?uploads")
    upload_id = ET.fromstring(created.body).findtext("{*}UploadId")
    part = await request(app, "PUT", f"bkt/{key}?partNumber=1&uploadId={upload_id}", b"part")
    body = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
    )
    assert upload_id is not None
    return upload_id, body


def test_a_copy_still_working_after_the_delay_is_answered_200_with_spaces_then_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]]
) -> None:
    """Its 200 goes out with the declaration, a space each interval while the copy works
    (each its own message, none held back), then the CopyObjectResult; no Content-Length.
    Before wave 18 nothing went out until the copy was done, and the client's read timeout
    ran all along."""
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())

    async def scenario(app: S3App) -> None:
        sent = await request(app, "PUT", "bkt/dst", headers=COPY, on_body=held.release)
        assert sent.status == 200 and "content-length" not in sent.headers
        assert sent.headers["content-type"] == "application/xml"
        assert sent.chunks[:2] == [DECLARATION, b" "]
        result = document(sent)
        assert tag(result) == "CopyObjectResult"
        source = await request(app, "HEAD", "bkt/src")
        assert result.findtext("{*}ETag") == source.headers["etag"]
        assert (await request(app, "GET", "bkt/dst")).body == SOURCE
        assert not _looks_like_special_case_error(200, sent.body)  # botocore: a success

    run(tmp_path, QUICK, scenario)
    assert held.finished and held.calls == 1
    copy = line_of(lines, "CopyObject")
    assert (copy["status"], copy.get("error"), copy.get("early")) == (200, None, True)


def test_a_part_copy_and_a_complete_still_working_are_answered_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]]
) -> None:
    part_copy = hold(monkeypatch, MappedUploads, "upload_part_copy", Held())
    complete = hold(monkeypatch, MappedCompletion, "complete", Held())

    async def scenario(app: S3App) -> None:
        upload_id, _ = await upload(app)
        copied = await request(
            app, "PUT", f"bkt/mp?partNumber=2&uploadId={upload_id}", headers=COPY,
            on_body=part_copy.release,
        )  # fmt: skip
        assert copied.status == 200 and tag(document(copied)) == "CopyPartResult"
        etag = document(copied).findtext("{*}ETag")
        only = (  # the copied part alone (the 4-byte part 1 is too small to come first)
            "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber>"
            f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        )
        done = await request(
            app, "POST", f"bkt/mp?uploadId={upload_id}", only.encode(), on_body=complete.release
        )
        assert done.status == 200 and tag(document(done)) == "CompleteMultipartUploadResult"
        assert (await request(app, "GET", "bkt/mp")).body == SOURCE

    run(tmp_path, QUICK, scenario)
    assert part_copy.finished and complete.finished
    for operation in ("UploadPartCopy", "CompleteMultipartUpload"):
        assert line_of(lines, operation).get("early") is True


def test_a_copy_done_within_the_delay_is_answered_as_before(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    """No whitespace, its Content-Length, the document whole in one message."""

    async def scenario(app: S3App) -> None:
        sent = await request(app, "PUT", "bkt/dst", headers=COPY)
        assert sent.status == 200
        assert sent.headers["content-length"] == str(len(sent.body))
        assert len(sent.chunks) == 1
        assert sent.body.startswith(DECLARATION + b"<CopyObjectResult")

    run(tmp_path, NEVER, scenario)
    copy = line_of(lines, "CopyObject")
    assert (copy["status"], "early" in copy) == (200, False)


def test_an_error_after_the_200_is_the_error_document_the_plain_answer_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]]
) -> None:
    """A Complete whose upload went away while it worked: once the 200 began, the very
    ``<Error>`` of the plain 404 (code, message, fields, this request's id), which botocore
    reads as that error (``_handle_200_error``); the access line (and so the metrics) has
    404 NoSuchUpload, the outcome, not the 200 sent first."""
    gone = S3Error(S3ErrorCode.NoSuchUpload)
    answers: list[Sent] = []

    async def complete(app: S3App, on_body: Callable[[bytes], None] | None = None) -> None:
        upload_id, body = await upload(app)
        path = f"bkt/mp?uploadId={upload_id}"
        answers.append(await request(app, "POST", path, body.encode(), on_body=on_body))

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise gone

    with monkeypatch.context() as patched:
        patched.setattr(MappedCompletion, "complete", failing)
        run(tmp_path / "plain", NEVER, complete)
    held = hold(monkeypatch, MappedCompletion, "complete", Held(gone))
    run(tmp_path / "early", QUICK, lambda app: complete(app, held.release))
    plain, early = answers
    assert (plain.status, early.status) == (404, 200)
    error = document(early)
    assert tag(error) == "Error" and _looks_like_special_case_error(200, early.body)
    expected = {child.tag: child.text for child in ET.fromstring(plain.body)}
    shown = {child.tag: child.text for child in error}
    assert shown.pop("RequestId") == early.headers["x-amz-request-id"]
    assert expected.pop("RequestId") == plain.headers["x-amz-request-id"]
    assert shown == expected and shown["Code"] == "NoSuchUpload"
    completes = [line for line in lines if line.get("operation") == "CompleteMultipartUpload"]
    assert [(c["status"], c["error"], c.get("early")) for c in completes] == [
        (404, "NoSuchUpload", None),
        (404, "NoSuchUpload", True),
    ]


def test_a_refusal_before_the_work_begins_stays_a_plain_answer_however_long_it_took(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    """The delay runs from the work's beginning, not from the request's: a Complete whose
    body arrived slowly (ten delays) and is malformed is a plain 400 MalformedXML."""

    async def scenario(app: S3App) -> None:
        upload_id, _ = await upload(app)
        slow = asyncio.sleep(10 * QUICK)
        path = f"bkt/mp?uploadId={upload_id}"
        sent = await request(app, "POST", path, b"<Complete", receive_first=slow)
        assert (sent.status, sent.headers.get("content-length")) == (400, str(len(sent.body)))
        assert ET.fromstring(sent.body).findtext("Code") == "MalformedXML"

    run(tmp_path, QUICK, scenario)
    assert "early" not in line_of(lines, "CompleteMultipartUpload")


def test_a_granted_source_tried_after_the_200_began_is_still_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenant u copies from t's public-read bucket: u's own storage answers NoSuchBucket (the
    source is not u's) after the 200 began, and the copy is made from t's grant all the same
    (the early answer runs the handler with its granted retry), as its plain answer is."""
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())

    async def scenario(app: S3App) -> None:
        acl = {"x-amz-acl": "public-read"}
        assert (await request(app, "PUT", "bkt?acl", headers=acl)).status == 200
        assert (await request(app, "PUT", "ubk", tenant="u")).status == 200
        sent = await request(app, "PUT", "ubk/c", headers=COPY, on_body=held.release, tenant="u")
        assert sent.status == 200 and tag(document(sent)) == "CopyObjectResult", sent.body
        assert (await request(app, "GET", "ubk/c", tenant="u")).body == SOURCE

    run(tmp_path, QUICK, scenario)
    assert held.calls == 2 and held.finished


def test_a_client_that_leaves_during_the_wait_leaves_the_work_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]]
) -> None:
    """The work goes on to its end (as without the early answer: nothing cancels a request
    whose client left) and the request ends with it; the line says 499."""
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())

    def leave(chunk: bytes) -> None:
        held.release(chunk)
        if chunk == b" ":
            raise ConnectionResetError("the client left")

    async def scenario(app: S3App) -> None:
        await request(app, "PUT", "bkt/dst", headers=COPY, on_body=leave)
        assert held.finished  # before the request ended
        assert (await request(app, "GET", "bkt/dst")).body == SOURCE

    run(tmp_path, QUICK, scenario)
    copy = line_of(lines, "CopyObject")
    assert (copy["status"], copy["error"]) == (499, "ClientDisconnected")


def test_a_request_cut_by_the_shutdown_timeout_cancels_its_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]]
) -> None:
    """As a cut cancels any request's handler: the work is cancelled, not left running."""
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())

    async def scenario(app: S3App) -> None:
        began = asyncio.Event()
        answer = asyncio.ensure_future(
            request(app, "PUT", "bkt/dst", headers=COPY, on_body=lambda c: began.set())
        )
        await began.wait()
        answer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await answer
        assert held.cancelled and not held.finished

    run(tmp_path, QUICK, scenario)
    assert line_of(lines, "CopyObject")["error"] == "Cancelled"
