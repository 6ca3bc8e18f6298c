"""A response cut at shutdown counts the bytes it sent (wave 15, E3): when the shutdown timeout
cancelled a large GET part-way, its access line said ``bytes_out: 0`` (and the bytes-out metric
counted nothing) though megabytes had gone out, because the count came from
:func:`~s3proxy.responses.send_response`'s return, which a cancellation never reaches."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.responses import S3Response, send_response
from tests.support.s3http import object_url, sign
from tests.unit.test_rate_limits_app import ENDPOINT, LIMITED, call, settings

CHUNKS = 5


async def _chunks() -> Any:
    for _ in range(CHUNKS):
        yield b"x" * 1000


def test_send_response_leaves_the_count_a_cancellation_found() -> None:
    async def main() -> S3Response:
        response = S3Response(body=_chunks())
        bodies = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal bodies
            if message["type"] == "http.response.body":
                bodies += 1
                if bodies == 4:  # three chunks went out; the fourth waits as the timeout passes
                    raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await send_response(send, response, head=False, extra_headers=[])
        return response

    assert asyncio.run(main()).bytes_sent == 3000


def test_the_access_line_of_a_get_cut_at_shutdown_counts_what_went_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = 4 * 1024 * 1024

    async def main() -> int:
        gateway = Gateway(settings(tmp_path, {}))
        try:
            app = S3App(gateway)
            assert (await call(app, "PUT", LIMITED)).status == 200
            assert (await call(app, "PUT", LIMITED, "big", b"z" * size)).status == 200
            url = object_url(ENDPOINT, "docs", "big")
            signed = sign("GET", url, *LIMITED, {}, b"")
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/docs/big",
                "raw_path": b"/docs/big",
                "query_string": b"",
                "headers": [(k.lower().encode(), v.encode()) for k, v in signed.items()],
            }
            went_out = 0
            enough = asyncio.Event()
            stalled = asyncio.Event()

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                nonlocal went_out
                if message["type"] != "http.response.body":
                    return
                if went_out >= size // 2:  # a slow reader: the rest waits for the socket
                    enough.set()
                    await stalled.wait()
                went_out += len(message["body"])

            task = asyncio.create_task(app(scope, receive, send))
            await enough.wait()
            task.cancel()  # the server's shutdown timeout
            with pytest.raises(asyncio.CancelledError):
                await task
            return went_out
        finally:
            await gateway.close()

    with caplog.at_level(logging.INFO, logger="s3proxy.access"):
        went_out = asyncio.run(main())
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "s3proxy.access"]
    cut = [line for line in lines if line.get("error") == "Cancelled"]
    assert len(cut) == 1
    assert 0 < cut[0]["bytes_out"] == went_out < size
