"""One tenant's idle keep-alive connections no longer lock other tenants out (wave 16 F).

At ``server.max_client_connections`` (or the per-address bound, which README says to raise to
it behind a load balancer) every new connection was answered 503 SlowDown: a tenant that
opened that many and left them idle, after one request each, had every other tenant's
requests refused for as long as it kept them. Now an idle connection of the largest holder is
closed in the new one's place (s3proxy.connection_owners), on both engines. Decided at the
HTTP layer before any backend call: the local store serves it.
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
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

BOUND = 12
TIMEOUT = 10


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
        yield proxy
    finally:
        proxy.process.stop()


CONTEXT: list[ssl.SSLContext] = []
"""The TLS proxy's client context, while one is under test."""


REFUSED = 503
"""What a connection over the bounds gets: 503 SlowDown, or with TLS a close before the
handshake ends (no answer can be read before TLS)."""


def ask(proxy: Proxy, tenant: str, bucket: str) -> tuple[socket.socket | None, int]:
    """A new connection and a signed GET of a missing key on it (404: NoSuchKey or, on the TLS
    proxy, which has no buckets, NoSuchBucket): the connection and the status."""
    try:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        if CONTEXT:
            sock = CONTEXT[0].wrap_socket(sock, server_hostname="127.0.0.1")
    except OSError:  # closed during the TLS handshake: over the bounds
        return None, REFUSED
    return sock, request_on(proxy, sock, tenant, bucket)


def request_on(proxy: Proxy, sock: socket.socket, tenant: str, bucket: str) -> int:
    """A signed GET of a missing key sent on ``sock``: its status (0: closed unanswered)."""
    ak, sk = proxy.keys(tenant)
    key = "w16f-missing"
    headers = sign("GET", object_url(proxy.endpoint, bucket, key), ak, sk, {})
    sock.sendall(head_bytes("GET", f"/{bucket}/{key}", headers))
    answers = read_answers(sock, 1)
    return answers[0][0] if answers else 0


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
        # alice fills the process's connections, one request on each, and leaves them idle
        while refused == 0 and len(held) < 3 * BOUND:
            sock, status = ask(proxy, "alice", "docs")
            if sock is not None and status == 404:
                held.append(sock)
            else:
                assert status == REFUSED, status
                refused += 1
                if sock is not None:
                    sock.close()
        assert refused == 1  # the bound is reached: alice's next connection was refused
        # bob: each new connection was refused 503 for as long as alice held hers; now one of
        # alice's idle connections is closed in its place once it has been idle a moment
        deadline = time.monotonic() + TIMEOUT
        statuses: list[int] = []
        while len(kept) < BOUND // 2 and time.monotonic() < deadline:
            sock, status = ask(proxy, "bob", "shared")
            statuses.append(status)
            if sock is not None and status == 404:
                kept.append(sock)  # bob keeps them: the next is taken from the largest holder
            else:
                if sock is not None:
                    sock.close()
                time.sleep(0.2)
        assert len(kept) == BOUND // 2, statuses
        readable, _, _ = select.select(held, [], [], 1.0)
        # alice's were closed (she held the most), not bob's own
        assert sum(closed(sock) for sock in readable) >= BOUND // 3
        for sock in kept:  # bob's still serve
            assert request_on(proxy, sock, "bob", "shared") == 404
    finally:
        for sock in held + kept:
            sock.close()
