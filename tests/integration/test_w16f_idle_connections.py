"""One tenant's idle keep-alive connections no longer lock other tenants out (wave 16 F).

At ``server.max_client_connections`` (or the per-address bound, which README says to raise to
it behind a load balancer) every new connection was answered 503 SlowDown: a tenant that
opened that many and left them idle, after one request each, had every other tenant's
requests refused for as long as it kept them. Now an idle connection of the largest holder is
closed in the new one's place (s3proxy.connection_owners), on both engines. Decided at the
HTTP layer before any backend call: the local store serves it.

An idle connection is taken only once a second old (connection_owners.GRACE): alice fills the
bound with uploads waiting for their bodies (busy, never taken), so her next connection is
refused however slowly the box opens them, then ends each upload and leaves the connections
idle (wave 18, E3: twelve requests of one request each had to fit within the grace).
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import head_bytes
from tests.integration.test_w13e_connections import read_answers
from tests.support.busy_connections import CONTINUE, hold_busy, read_answer, upload_head
from tests.support.s3http import object_url, sign
from tests.support.waiting import DEADLINE, wait_for

pytestmark = pytest.mark.integration

BOUND = 12
TIMEOUT = DEADLINE
"""Seconds a socket operation may wait: reached only by an answer that never comes."""


@pytest.fixture(
    scope="module",
    params=[("uvicorn", False), ("hypercorn", False), ("uvicorn", True), ("hypercorn", True)],
    ids=["uvicorn", "hypercorn", "uvicorn-tls", "hypercorn-tls"],
)
def bounded_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy allowing BOUND connections; with TLS, its clients' context in ``CONTEXT``
    (a TLS proxy's test makes its own buckets: none here, NoSuchBucket is 404 too)."""
    engine, tls = request.param
    path = tmp_path_factory.mktemp("w16f")
    server: dict[str, object] = {
        "engine": engine,
        "max_client_connections": BOUND,
        "max_connections_per_client": BOUND,
    }
    CONTEXT.clear()
    if tls:
        authority = trustme.CA()
        pem = path / "server.pem"
        authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
        server.update(tls_cert=str(pem), tls_key=str(pem))
        context = ssl.create_default_context()
        authority.configure_trust(context)
        CONTEXT.append(context)
    proxy = start_proxy(None, None, path, server=server)
    try:
        if tls:  # alice's uploads need her bucket (start_proxy makes none behind TLS)
            sock = connect(proxy)
            assert sock is not None
            with sock:
                assert request_on(proxy, sock, "alice", "docs", method="PUT", key="") == 200
        yield proxy
    finally:
        proxy.process.stop()


CONTEXT: list[ssl.SSLContext] = []
"""The TLS proxy's client context, while one is under test."""


REFUSED = 503
"""What a connection over the bounds gets: 503 SlowDown, or with TLS a close before the
handshake ends (no answer can be read before TLS)."""


def connect(proxy: Proxy) -> socket.socket | None:
    """A new connection to the S3 port (TLS on the TLS proxy); None if it was closed during
    the TLS handshake (over the bounds)."""
    try:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        if CONTEXT:
            sock = CONTEXT[0].wrap_socket(sock, server_hostname="127.0.0.1")
    except OSError:
        return None
    return sock


def ask(proxy: Proxy, tenant: str, bucket: str) -> tuple[socket.socket | None, int]:
    """A new connection and a signed GET of a missing key on it (404: NoSuchKey or, on the TLS
    proxy, which has only alice's docs, NoSuchBucket): the connection and the status."""
    sock = connect(proxy)
    if sock is None:
        return None, REFUSED
    return sock, request_on(proxy, sock, tenant, bucket)


def request_on(
    proxy: Proxy,
    sock: socket.socket,
    tenant: str,
    bucket: str,
    method: str = "GET",
    key: str = "w16f-missing",
) -> int:
    """A signed request (a GET of a missing key) sent on ``sock``: its status (0: closed
    unanswered)."""
    ak, sk = proxy.keys(tenant)
    url = object_url(proxy.endpoint, bucket, key) if key else object_url(proxy.endpoint, bucket)
    headers = sign(method, url, ak, sk, {})
    path = f"/{bucket}/{key}" if key else f"/{bucket}"
    sock.sendall(head_bytes(method, path, headers))
    answers = read_answers(sock, 1)
    return answers[0][0] if answers else 0


def busy(proxy: Proxy, number: int) -> tuple[socket.socket | None, bytes]:
    """A new connection holding an upload of alice's that waits for its body, and the first
    answer on it: ``100 Continue`` once it is busy, else the refusal (b"" for a close)."""
    sock = connect(proxy)
    if sock is None:
        return None, b""
    upload = upload_head(proxy.endpoint, *proxy.keys("alice"), "docs", f"w16f/held-{number}")
    try:
        return sock, hold_busy(sock, upload).strip()
    except OSError:  # reset after the refusal
        return sock, b""


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except OSError:  # a reset, or TLS ended without its close_notify
        return True


def test_a_tenants_idle_connections_do_not_lock_another_tenant_out(bounded_proxy: Proxy) -> None:
    proxy = bounded_proxy
    held: list[socket.socket] = []
    kept: list[socket.socket] = []
    refused = 0
    try:
        # alice fills the process's connections, each busy with an upload
        while refused == 0 and len(held) < 3 * BOUND:
            sock, first = busy(proxy, len(held))
            if sock is not None and first.startswith(CONTINUE.strip()):
                held.append(sock)
            else:  # a 503, or with TLS a close
                assert CONTEXT or first.startswith(b"HTTP/1.1 503"), first
                refused += 1
                if sock is not None:
                    sock.close()
        assert refused == 1  # the bound is reached: alice's next connection was refused
        for sock in held:  # she ends her uploads and leaves the connections idle
            sock.sendall(b"x")
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
        # bob: each new connection is refused 503 while alice's are within their grace; then
        # one of alice's idle connections is closed in its place
        statuses: list[int] = []

        def bob_kept_half() -> bool:
            sock, status = ask(proxy, "bob", "shared")
            statuses.append(status)
            if sock is not None and status == 404:
                kept.append(sock)  # bob keeps them: the next is taken from the largest holder
            else:
                if sock is not None:
                    sock.close()
                time.sleep(0.2)
            return len(kept) == BOUND // 2

        wait_for(bob_kept_half, f"bob holding {BOUND // 2} connections")

        def alices_closed() -> int:
            readable, _, _ = select.select(held, [], [], 0)
            return sum(closed(sock) for sock in readable)

        # alice's were closed (she held the most), not bob's own
        wait_for(lambda: alices_closed() >= BOUND // 3, "alice's idle connections closed")
        for sock in kept:  # bob's still serve
            assert request_on(proxy, sock, "bob", "shared") == 404
    finally:
        for sock in held + kept:
            sock.close()
