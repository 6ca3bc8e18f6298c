"""Raw UTF-8 targets pipelined past a full queue, on both engines (wave 18, review R2 of
80e05a7; the unit proof is tests/unit/test_w18r2f_raw_target_queue.py).

On uvicorn, a request line with raw UTF-8 (``/docs/été``, as curl sends it) is parsed again
percent-encoded from inside the handler of llhttp's error; when that re-read filled the
connection's queue (s3proxy.uvicorn_pipeline.MAX_PIPELINED), the queue's stop was taken for a
parse error: the 34th request was answered 400 and the connection closed. Hypercorn answered
all. Now both answer every request as they answer it percent-encoded (anonymous: 403 here).
Framing and routing come before any backend call, so a local store serves this."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from s3proxy.uvicorn_pipeline import MAX_PIPELINED
from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES

pytestmark = pytest.mark.integration

RAW = "GET /docs/\u00e9t\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n".encode()
LAST = b"GET /docs/last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
COUNT = MAX_PIPELINED + 8


@pytest.fixture(scope="module", params=ENGINES)
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    proxy = start_proxy(
        None, None, tmp_path_factory.mktemp("w18r2f"), server={"engine": request.param}
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def test_pipelined_raw_targets_past_a_full_queue_are_all_answered(engine_proxy: Proxy) -> None:
    with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=60) as sock:
        sock.sendall(RAW * COUNT + LAST)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    statuses = [int(part.split(None, 1)[0]) for part in reply.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [403] * (COUNT + 1)  # uvicorn: 33 x 403, then 400 and the close
