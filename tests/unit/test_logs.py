"""Log lines an operator reads: the timestamp format, hashed keys, transport noise counted not
logged, how an aborted response is reported, and the start-up summary's lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypercorn.protocol.http_stream import HTTPStream
from prometheus_client import REGISTRY

from s3proxy import hypercorn_patch
from s3proxy.app import _logged_key
from s3proxy.config import Settings
from s3proxy.config.local_default import local_default_settings
from s3proxy.logs import CountTransportNoise, JsonFormatter, timestamp
from s3proxy.responses import ResponseAborted, S3Response, send_response
from s3proxy.startup import client_settings, readiness_line, summary

RFC3339_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_application_lines_use_rfc3339_utc_with_milliseconds() -> None:
    record = logging.LogRecord("s3proxy", logging.INFO, "", 0, "hello", None, None)
    record.created = datetime(2026, 12, 3, 8, 39, 45, 123456, tzinfo=UTC).timestamp()
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2026-12-03T08:39:45.123Z"
    assert RFC3339_MS_UTC.match(timestamp())


def test_write_after_disconnect_warnings_are_counted_not_logged() -> None:
    logger = logging.getLogger("test-asyncio-noise")
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.addFilter(CountTransportNoise())
    before = _noise()
    for _ in range(3):
        logger.warning("socket.send() raised exception.")
    logger.warning("Unclosed connection")
    assert stream.getvalue() == "Unclosed connection\n"
    assert _noise() - before == 3


def _noise() -> float:
    return REGISTRY.get_sample_value("s3proxy_transport_noise_total") or 0.0


def _settings(mode: str, secret: str) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": secret},
            "upstreams": {"local": {"type": "local", "path": "/tmp/unused"}},
            "tenants": {
                "t": {
                    "keys": [{"access_key": "AKLOGS0000000001", "secret_key": "s" * 32}],
                    "home": {"upstream": "local", "bucket": "home"},
                }
            },
            "logging": {"access_log_keys": mode},
        }
    )


def test_keys_are_logged_as_sent_or_as_a_keyed_hash() -> None:
    key = "invoices/2026/ACME Corp.pdf"
    assert _logged_key(key, _settings("plain", "a" * 32)) == key
    one, again = (_logged_key(key, _settings("hash", "a" * 32)) for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{32}", one)
    assert one == again  # stable: one key's requests can be followed, on every replica
    assert _logged_key("invoices/2026/other.pdf", _settings("hash", "a" * 32)) != one
    assert _logged_key(key, _settings("hash", "b" * 32)) != one  # keyed: not a bare SHA-256


async def _chunks(count: int, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise ConnectionResetError("upstream went away")
        yield b"x" * 1000


def _sender(fail_at: int | None) -> tuple[list[dict[str, Any]], Any]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if fail_at is not None and len(sent) == fail_at:
            raise hypercorn_patch.ClientGone("the client closed the connection")
        sent.append(message)

    return sent, send


def _send(body: Any, fail_at: int | None) -> int | ResponseAborted:
    _, send = _sender(fail_at)
    try:
        return asyncio.run(send_response(send, S3Response(body=body), head=False, extra_headers=[]))
    except ResponseAborted as aborted:
        return aborted


def test_a_client_that_leaves_mid_body_is_reported_with_the_bytes_sent() -> None:
    aborted = _send(_chunks(10), fail_at=4)  # the head and 3 chunks went out
    assert isinstance(aborted, ResponseAborted)
    assert (aborted.sent, aborted.client_gone) == (3000, True)
    gone_at_head = _send(b"small", fail_at=0)
    assert isinstance(gone_at_head, ResponseAborted)
    assert (gone_at_head.sent, gone_at_head.client_gone) == (0, True)
    assert _send(_chunks(10), fail_at=None) == 10_000


def test_a_body_that_fails_mid_stream_is_not_the_clients_doing() -> None:
    aborted = _send(_chunks(10, fail_after=5), fail_at=None)
    assert isinstance(aborted, ResponseAborted)
    assert (aborted.sent, aborted.client_gone) == (4000, False)  # one chunk is held back
    assert isinstance(aborted.__cause__, ConnectionResetError)


def test_hypercorn_raises_on_a_send_after_the_client_closed() -> None:
    hypercorn_patch.raise_on_send_after_close()
    stream = SimpleNamespace(closed=True)
    with pytest.raises(OSError):
        asyncio.run(HTTPStream.app_send(stream, {"type": "http.response.body", "body": b"x"}))  # type: ignore[arg-type]


def test_first_zero_config_start_prints_client_settings_once(tmp_path: Path) -> None:
    first = local_default_settings(tmp_path / "data", env={}, port=9100)
    text = "\n".join(first.banner)
    access_key = first.settings.tenants["default"].keys[0].access_key
    assert "aws --endpoint-url http://127.0.0.1:9100" in text
    assert "rclone config create s3proxy s3 provider=Other endpoint=http://127.0.0.1:9100" in text
    assert "s3cmd --access_key=" + access_key in text
    again = local_default_settings(tmp_path / "data", env={}, port=9100)
    assert not any("aws --endpoint-url" in line for line in again.banner)


def test_client_settings_quote_for_the_shell() -> None:
    lines = client_settings("http://127.0.0.1:9000", "AK", "se cret", "eu-west-1")
    assert any("AWS_SECRET_ACCESS_KEY='se cret'" in line for line in lines)
    assert any("--host=127.0.0.1:9000 --host-bucket=127.0.0.1:9000" in line for line in lines)


def test_readiness_and_summary_lines() -> None:
    assert readiness_line({"local/default": ("ok", "")}) == (
        True,
        "upstream readiness: local/default ok",
    )
    ready, line = readiness_line({"up/b": ("NoSuchBucket", "create it")})
    assert not ready
    assert "up/b NoSuchBucket (create it)" in line and "/readyz answers 503" in line
    settings = _settings("plain", "a" * 32)
    assert summary(settings, None, 1) == [
        "mode: zero-config local store; 1 process serving the S3 and admin ports",
        "data directory of upstream local: /tmp/unused",
    ]
    assert "3 worker processes" in summary(settings, Path("s3proxy.yaml"), 3)[0]
