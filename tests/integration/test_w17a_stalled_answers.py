"""Stalled answers bounded per worker, on both engines (wave 17 A, s3proxy.stalled_answers).

Each answer whose client stopped reading holds ~1.5 MiB of the worker and a few MiB of socket
buffers for as long as its client reads a little every ``body_idle_timeout``; with 64 slots per
tenant, four tenants' stalled downloads took one worker past the chart's memory limit. Past
``server.max_stalled_answers`` the longest-stalled answer of whoever holds the most is now
ended (a reset, logged 499). Decided at the HTTP layer, so a local store serves it. The proxy's
``body_idle_timeout`` is long here: only the bound ends an answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, head_bytes
from tests.integration.test_logs import access_lines, wait_for
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 30
BIG = 16 * 1024 * 1024
"""More than the kernel's socket buffers take while the client reads nothing: writes wait."""
KEY = "w17a/big"


@pytest.fixture(scope="module", params=ENGINES)
def bounded_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    server = {"engine": request.param, "body_idle_timeout": 120, "max_stalled_answers": 2}
    proxy = start_proxy(None, None, tmp_path_factory.mktemp("w17a"), server=server)
    try:
        yield proxy
    finally:
        proxy.process.stop()


def stalled_get(proxy: Proxy, tenant: str, bucket: str) -> socket.socket:
    """A GET of the big object whose client reads nothing (a 4 KiB receive buffer)."""
    ak, sk = proxy.keys(tenant)
    headers = sign("GET", object_url(proxy.endpoint, bucket, KEY), ak, sk, {})
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", proxy.port))
    sock.sendall(head_bytes("GET", f"/{bucket}/{KEY}", headers))
    return sock


def outcome(sock: socket.socket) -> str:
    """How the rest of the answer arrives: "whole" (a 200 and all of the body), "reset" (an
    ended answer: its unsent bytes dropped at once) or "cut" (a body ended short by a close)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)  # read it at once now
    received = b""
    try:  # the connection stays open after a whole answer (keep-alive)
        while len(received.partition(b"\r\n\r\n")[2]) < BIG and (chunk := sock.recv(1 << 20)):
            received += chunk
    except ConnectionResetError:
        return "reset"
    head, _, body = received.partition(b"\r\n\r\n")
    return "whole" if head.startswith(b"HTTP/1.1 200") and len(body) == BIG else "cut"


def test_the_largest_holders_stalled_answers_end_first(bounded_proxy: Proxy) -> None:
    """Alice stalls three downloads and bob one, with room for two. Before, all four stayed
    (held until each client read nothing for ``body_idle_timeout``, or forever at 4 KiB/s).
    Now two of alice's are ended (she holds the most each time) with a reset, which drops what
    the kernel still held for them (a close would leave it queued behind a FIN); bob's and her
    last one go on and arrive whole."""
    bounded_proxy.client("alice").put_object(Bucket="docs", Key=KEY, Body=b"a" * BIG)
    bounded_proxy.client("bob").put_object(Bucket="shared", Key=KEY, Body=b"b" * BIG)
    alice = [stalled_get(bounded_proxy, "alice", "docs") for _ in range(3)]
    bob = stalled_get(bounded_proxy, "bob", "shared")
    try:
        ended = wait_for(
            lambda: [
                line
                for line in access_lines(bounded_proxy.process, operation="GetObject", key=KEY)
                if line["status"] == 499
            ][1:],
            "no second stalled answer was ended",
        )
        assert all(line["tenant"] == "alice" for line in ended)
        assert outcome(bob) == "whole"
        assert sorted(outcome(sock) for sock in alice) == ["reset", "reset", "whole"]
        lines = wait_for(lambda: four_lines(bounded_proxy), "an answer never ended")
        assert sorted((line["tenant"], line["status"]) for line in lines) == [
            ("alice", 200),
            ("alice", 499),
            ("alice", 499),
            ("bob", 200),
        ]
    finally:
        for sock in [*alice, bob]:
            sock.close()


def four_lines(proxy: Proxy) -> list[dict[str, object]] | None:
    lines = access_lines(proxy.process, operation="GetObject", key=KEY)
    return lines if len(lines) == 4 else None
