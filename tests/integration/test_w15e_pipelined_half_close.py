"""Pipelined requests followed by the client's half-close are all answered (wave 15 E).

A client sends several requests in one go and ends its input (``shutdown(SHUT_WR)``, as
``nc -N`` and scripts do). On the Hypercorn engine the last request was carried out (a PUT
stored) but its answer never sent: its reader handles one read's pipelined requests in turn,
and the end of input, which came meanwhile, ended its loop without the check that waits for an
answer still due (s3proxy.hypercorn_closing). The client saw N-1 answers and the connection
closed. The uvicorn engine answered all N; both engines are checked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

PUTS = 5


@pytest.fixture(scope="module")
def hypercorn_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    directory = tmp_path_factory.mktemp("w15e")
    proxy = start_proxy(None, None, directory, server={"engine": "hypercorn"})
    try:
        yield proxy
    finally:
        proxy.process.stop()


def _put(proxy: Proxy, key: str) -> bytes:
    url = object_url(proxy.endpoint, "docs", key)
    headers = sign(
        "PUT", url, *proxy.keys("alice"), {"Content-Length": "2"}, payload_hash="UNSIGNED-PAYLOAD"
    )
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"PUT /docs/{key} HTTP/1.1\r\n{lines}\r\n".encode("latin-1") + b"ok"


def _check(proxy: Proxy) -> None:
    run = os.urandom(4).hex()
    keys = [f"w15e/{run}/{index}" for index in range(PUTS)]
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as connection:
        connection.sendall(b"".join(_put(proxy, key) for key in keys))
        connection.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 200 OK\r\n") == PUTS
    listed = proxy.client("alice").list_objects_v2(Bucket="docs", Prefix=f"w15e/{run}/")
    assert sorted(item["Key"] for item in listed["Contents"]) == keys


def test_every_pipelined_request_is_answered_after_a_half_close(hypercorn_proxy: Proxy) -> None:
    _check(hypercorn_proxy)


@pytest.mark.one_lane
def test_the_same_on_the_default_engine(proxy: Proxy) -> None:
    _check(proxy)
