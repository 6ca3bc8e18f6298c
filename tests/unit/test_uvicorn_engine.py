"""The uvicorn engine's own parts (s3proxy.uvicorn_engine), driven with bytes through its protocol
over a recording transport: S3 errors for what the HTTP layer refuses, the header section limit
over one read or many, the response head joined to the first body write, the lingering close,
send after a disconnect, connection bounds; and ``server.engine`` in the settings."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from uvicorn.server import ServerState

from s3proxy import uvicorn_engine
from s3proxy.cli import main
from s3proxy.config import ConfigError, load_settings
from s3proxy.config.loading import quick_start_settings
from s3proxy.connection_writer import COALESCE_LIMIT, ConnectionWriter
from s3proxy.connections import ConnectionCounts
from s3proxy.hypercorn_patch import AMBIGUOUS_FRAMING, ClientGone
from s3proxy.uvicorn_engine import (
    MAX_HEAD_BYTES,
    S3Cycle,
    S3Protocol,
    error_bytes,
    parser_error,
)


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.eof = False
        self.reading: list[bool] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def writelines(self, parts: Any) -> None:
        self.writes.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.reading.append(False)

    def resume_reading(self) -> None:
        self.reading.append(True)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("10.0.0.7", 5000), "sockname": ("127.0.0.1", 9000)}.get(name, default)


Calls = list[dict[str, Any]]

BASE = {
    "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
    "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
    "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
}


def app_answering(calls: Calls) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body = body or b"ok"
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": body})

    return app


def connect(
    app: Any, counts: ConnectionCounts | None = None
) -> tuple[S3Protocol, RecordingTransport]:
    uvicorn_engine.install()
    config = uvicorn_engine.uvicorn_config(app, load_settings(None, env=BASE), counts)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}
    )
    assert isinstance(protocol, S3Protocol)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


def feed(pieces: list[bytes], app: Any = None) -> tuple[RecordingTransport, Calls]:
    calls: Calls = []

    async def run() -> RecordingTransport:
        protocol, transport = connect(app or app_answering(calls))
        for piece in pieces:
            protocol.data_received(piece)
            await settle()
        return transport

    return asyncio.run(run()), calls


def error_of(transport: RecordingTransport) -> tuple[bytes, ET.Element]:
    reply = b"".join(transport.writes)
    head, _, body = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], ET.fromstring(body)


class TestParserErrors:
    def test_mapping(self) -> None:
        ambiguous = parser_error("Content-Length can't be present with Transfer-Encoding")
        assert (ambiguous.code.name, ambiguous.message) == ("InvalidRequest", AMBIGUOUS_FRAMING)
        assert parser_error("Request has invalid `Transfer-Encoding`").status == 501
        assert parser_error("Invalid header token").code.name == "InvalidRequest"

    def test_error_bytes_are_a_closing_xml_answer(self) -> None:
        reply = error_bytes(parser_error("Invalid header token"))
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"connection: close" in head
        assert f"content-length: {len(body)}".encode() in head
        assert ET.fromstring(body).findtext("Code") == "InvalidRequest"


class TestRefusals:
    def test_a_bad_header_line_gets_xml_and_a_lingering_close(self) -> None:
        transport, calls = feed([b"GET /b HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n"])
        status, error = error_of(transport)
        assert (status, error.findtext("Code")) == (b"HTTP/1.1 400 Bad Request", "InvalidRequest")
        assert transport.eof and not calls  # half-closed; the rest would be read and dropped

    def test_gzip_before_chunked_is_not_implemented(self) -> None:
        head = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        transport, calls = feed([head, b"5\r\nhello\r\n0\r\n\r\n"])
        status, error = error_of(transport)
        assert status == b"HTTP/1.1 501 Not Implemented"
        assert error.findtext("Header") == "Transfer-Encoding"
        assert not calls

    def test_a_second_transfer_encoding_header_is_refused(self) -> None:
        head = (
            b"PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        transport, calls = feed([head])
        assert error_of(transport)[0] == b"HTTP/1.1 501 Not Implemented"
        assert not calls

    def test_a_head_over_the_limit_in_one_read(self) -> None:
        head = b"GET /b HTTP/1.1\r\nHost: h\r\nX-Filler: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
        transport, calls = feed([head])
        assert error_of(transport)[1].findtext("Code") == "RequestHeaderSectionTooLarge"
        assert not calls

    def test_an_unfinished_head_over_many_reads(self) -> None:
        pieces = [b"GET /b HTTP/1.1\r\nHost: h\r\nX-Filler: "] + [b"a" * 4096] * 5
        transport, _ = feed(pieces)
        assert error_of(transport)[1].findtext("Code") == "RequestHeaderSectionTooLarge"

    def test_a_head_below_the_limit_is_served(self) -> None:
        head = b"GET /b HTTP/1.1\r\nHost: h\r\nX-Filler: " + b"a" * 12_000 + b"\r\n\r\n"
        transport, calls = feed([head[:5000], head[5000:]])
        assert len(calls) == 1
        assert b"".join(transport.writes).startswith(b"HTTP/1.1 200 OK\r\n")

    def test_a_body_before_the_next_head_in_one_read_is_not_counted_as_head(self) -> None:
        body = b"x" * (3 * MAX_HEAD_BYTES)
        put = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body)
        second = b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        transport, calls = feed([put + body + second[:10], second[10:]])
        assert [scope["method"] for scope in calls] == ["PUT", "GET"]
        assert b"".join(transport.writes).count(b"HTTP/1.1 200 OK\r\n") == 2


class TestWriter:
    def test_the_head_goes_out_with_the_first_body_bytes(self) -> None:
        transport, _ = feed([b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"])
        assert len(transport.writes) == 1
        assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.writes[0].endswith(b"\r\n\r\nok")

    def test_a_head_response_writes_its_head_alone(self) -> None:
        transport, _ = feed([b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"])
        assert len(transport.writes) == 1
        assert transport.writes[0].endswith(b"\r\n\r\n")

    def test_a_large_first_chunk_is_not_copied_into_the_head(self) -> None:
        transport = RecordingTransport()
        writer = ConnectionWriter(transport, None)  # type: ignore[arg-type]
        writer.hold()
        writer.write(b"HEAD\r\n\r\n")
        assert transport.writes == []
        big = b"b" * (COALESCE_LIMIT + 1)
        writer.write(big)
        writer.write(b"tail")
        assert transport.writes == [b"HEAD\r\n\r\n" + big, b"tail"]  # writelines, then write

    def test_close_with_the_body_still_coming_lingers(self) -> None:
        async def refuse_early(scope: Any, receive: Any, send: Any) -> None:
            headers = [(b"content-length", b"2"), (b"connection", b"close")]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": b"no"})

        head = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n"
        transport, _ = feed([head + b"x" * 1000, b"y" * 1000], app=refuse_early)
        assert b"".join(transport.writes).startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert transport.eof and not transport.closed  # reading on, for LINGER_SECONDS

    def test_close_after_a_complete_request_closes_at_once(self) -> None:
        transport, _ = feed([b"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"])
        assert transport.closed and not transport.eof


def test_send_after_the_client_left_raises() -> None:
    cycle = S3Cycle.__new__(S3Cycle)
    cycle.disconnected = True

    with pytest.raises(ClientGone) as caught:
        asyncio.run(cycle.send({"type": "http.response.body", "body": b"x"}))
    assert isinstance(caught.value, OSError)  # what ASGI applications catch


def test_connections_past_the_bound_get_503_and_release_on_close() -> None:
    async def run() -> None:
        counts = ConnectionCounts(total=1, per_client=1)
        first, _ = connect(app_answering([]), counts)
        second, refused = connect(app_answering([]), counts)
        reply = b"".join(refused.writes)
        assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and refused.closed
        assert b"<Code>SlowDown</Code>" in reply
        second.connection_lost(None)
        assert counts.open == 1
        first.connection_lost(None)
        assert (counts.open, counts.by_client) == (0, {})
        third, transport = connect(app_answering([]), counts)
        assert transport.writes == []
        third.connection_lost(None)

    asyncio.run(run())


class TestSetting:
    def test_default_and_choices(self, tmp_path: Path) -> None:
        assert load_settings(None, env=BASE).server.engine == "uvicorn"
        env = {**BASE, "S3PROXY_SERVER__ENGINE": "hypercorn"}
        assert load_settings(None, env=env).server.engine == "hypercorn"
        with pytest.raises(ConfigError, match="engine"):
            load_settings(None, env={**BASE, "S3PROXY_SERVER__ENGINE": "granian"})

    def test_the_quick_start_takes_the_override(self) -> None:
        env = {
            "S3PROXY_ACCESS_KEY": "AKQUICK",
            "S3PROXY_SECRET_KEY": "quick-secret-key-000000000000",
            "S3PROXY_SERVER__ENGINE": "uvicorn",
        }
        settings = quick_start_settings("http://127.0.0.1:8333", "data", env)
        assert settings.server.engine == "uvicorn"

    def test_check_config_reports_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        config = tmp_path / "s3proxy.yaml"
        config.write_text(
            "server: {engine: uvicorn, secret: " + "s" * 40 + "}\n"
            "upstreams: {main: {endpoint: 'http://127.0.0.1:8333'}}\n"
            "tenants:\n  alice:\n    keys: [{access_key: AKALICE, secret_key: alice-secret-key}]\n"
            "    home: {upstream: main, bucket: data}\n"
        )
        assert main(["check-config", str(config)]) == 0
        assert yaml.safe_load(capsys.readouterr().out)["server"]["engine"] == "uvicorn"


def test_the_idle_timer_runs_from_the_start_until_a_head_is_complete() -> None:
    """As Hypercorn's: a connection that sends nothing, or only part of a head, is closed
    after ``keep_alive_timeout`` like one idle between requests."""

    async def run() -> None:
        protocol, _ = connect(app_answering([]))
        assert protocol.timeout_keep_alive_task is not None
        protocol.data_received(b"GET /b HTTP/1.1\r\nHost")
        assert protocol.timeout_keep_alive_task is not None
        protocol.data_received(b": h\r\n\r\n")
        assert protocol.timeout_keep_alive_task is None
        await settle()
        assert protocol.timeout_keep_alive_task is not None  # again, after the response
        protocol.connection_lost(None)
        assert protocol.timeout_keep_alive_task is None

    asyncio.run(run())


def test_the_body_reaches_the_application_whole_with_reading_paused_past_64_kib() -> None:
    body = bytes(range(256)) * 400  # 100 KiB, in one read with its head
    head = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body)
    transport, calls = feed([head + body[:70_000], body[70_000:]])
    assert len(calls) == 1
    reply = b"".join(transport.writes)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\n" + body)
    assert transport.reading[0] is False and True in transport.reading  # paused, then resumed
