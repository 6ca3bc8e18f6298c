"""Resource exhaustion by one hostile client must not take the proxy from the other tenants.

Each probe runs on both engines (uvicorn, the default, and Hypercorn). What it asserts is a
count or an answer, never a duration: a well-behaved tenant is still served, and at a bound the
hostile client gets S3's refusal (503 SlowDown), never a connection left hanging.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypercorn.config import Config as HypercornConfig

from s3proxy.uvicorn_engine import MAX_PIPELINED
from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, code, head_bytes
from tests.integration.test_http_layer import split
from tests.support.busy_connections import CONTINUE, hold_busy, upload_head
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 60
"""Socket timeout: a probe that waits this long for an answer has found a hang (an answer of a
box at a load of 20 or 30 can take seconds, never a minute)."""
HELD_BODY_WAIT = 3600.0
"""few_files_proxy's ``server.body_idle_timeout``: an upload whose body never comes stays in
progress for longer than any run of the test."""


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def signed_get(proxy: Proxy, tenant: str, bucket: str, key: str) -> bytes:
    ak, sk = proxy.keys(tenant)
    headers = sign("GET", object_url(proxy.endpoint, bucket, key), ak, sk, {})
    return head_bytes("GET", f"/{bucket}/{key}", headers)


def ask(proxy: Proxy, request: bytes, source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A new connection from ``source`` with ``request`` sent; it and the first answer read."""
    sock = socket.create_connection(
        ("127.0.0.1", proxy.port), timeout=TIMEOUT, source_address=(source, 0)
    )
    sock.sendall(request)
    reply = b""
    while not answered(reply):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return sock, reply


def answered(reply: bytes) -> bool:
    """Whether ``reply`` holds a whole answer: its head and Content-Length bytes of body."""
    head, found, body = reply.partition(b"\r\n\r\n")
    return bool(found) and len(body) >= int(split(head + found)[1].get("content-length", "0"))


@pytest.fixture
def few_files_proxy(engine: str, tmp_path: Path) -> Iterator[Proxy]:
    """A proxy started under a soft open-file limit of 256 (the hard one as it is), with the
    default ``max_client_connections`` (10,000) and a per-address bound above 256. Its tenants
    may hold more uploads than that bound and wait for their bodies for as long as the test
    runs (HELD_BODY_WAIT): the bound met must be the per-address one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"the hard open-file limit ({hard}) leaves no room above the soft one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        server = {
            "engine": engine,
            "max_connections_per_client": 300,
            "keep_alive_timeout": 60,
            "body_idle_timeout": HELD_BODY_WAIT,
            "limits": {"max_concurrent_requests": 1000},
        }
        proxy = start_proxy(None, None, tmp_path, server=server)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield proxy
    finally:
        proxy.process.stop()


def test_idle_connections_of_one_address_do_not_exhaust_open_files(
    few_files_proxy: Proxy,
) -> None:
    """One address opens connections and holds them. Under a soft limit of 256 open files the
    proxy used to run out of descriptors first: accept() failed and every new connection, any
    tenant's, hung unanswered. Now the hostile address meets its bound (503 SlowDown) and
    another address's tenant is served.

    Each connection is held by an upload whose body never comes, confirmed in progress (its
    ``100 Continue``) before the next connection opens: never idle, so never closed for a new
    one (s3proxy.connection_owners). A connection left idle, or with a head begun, can be
    taken once it has been so for ``GRACE`` (1 s), which a loaded box's 300 connections
    outlast: the bound was then never met (a flake)."""
    proxy = few_files_proxy
    for tenant in ("alice", "bob"):  # the set-up's clients keep their connections open
        proxy.client(tenant).close()
    request = signed_get(proxy, "alice", "docs", "absent")
    held: list[socket.socket] = []
    try:
        refused = b""
        for number in range(400):
            sock, reply = ask(proxy, request)
            held.append(sock)
            if not reply.startswith(b"HTTP/1.1 404 Not Found\r\n"):
                refused = reply
                break
            upload = upload_head(proxy.endpoint, *proxy.keys("alice"), "docs", f"held/{number}")
            assert hold_busy(sock, upload).startswith(CONTINUE)
        status_line, headers, body = split(refused)
        assert status_line == b"HTTP/1.1 503 Service Unavailable"
        assert headers["retry-after"] == "1"
        assert code(body) == "SlowDown"
        assert len(held) == 301  # the per-address bound, reached before any descriptor ran out
        other, reply = ask(proxy, signed_get(proxy, "bob", "shared", "absent"), "127.0.0.2")
        other.close()
        status_line, _, body = split(reply)
        assert status_line == b"HTTP/1.1 404 Not Found"
        assert code(body) == "NoSuchKey"
    finally:
        for sock in held:
            sock.close()


@pytest.fixture
def engine_proxy(engine: str, tmp_path: Path) -> Iterator[Proxy]:
    proxy = start_proxy(None, None, tmp_path, server={"engine": engine})
    try:
        yield proxy
    finally:
        proxy.process.stop()


def resident(proxy: Proxy) -> int:
    return int(psutil.Process(proxy.process.pid).memory_info().rss)


def test_pipelined_requests_whose_answers_are_not_read_do_not_grow_memory(
    engine_proxy: Proxy, engine: str
) -> None:
    """1,200 pipelined GETs of 6 KB each (7 MB), sent while the answers are read. uvicorn used
    to parse and queue every one of them (their heads and about 3.5 KB of memory each, growing
    with what the client sends); then it answered those queued behind the first up to
    MAX_PIPELINED, then 503 SlowDown, and closed. Now it keeps what does not fit in its queue
    unparsed and reads no more until half of it is answered (s3proxy.uvicorn_pipeline), so all
    are answered in order with flat memory. Hypercorn reads one request at a time and answers
    its per-connection maximum (1,000)."""
    proxy = engine_proxy
    pad = b"\r\nx-w13e-pad: " + b"p" * 6000  # not signed: a header the proxy ignores
    request = signed_get(proxy, "alice", "docs", "absent").replace(b"\r\n", pad + b"\r\n", 1)
    count = 1200
    proxy.client("alice").head_bucket(Bucket="docs")  # the tenant's first-use work done
    before = resident(proxy)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sender = threading.Thread(target=send_ignoring_close, args=(sock, request * count))
        sender.start()
        replies = read_until_closed(sock, count)
        grown = resident(proxy) - before
        sender.join()
    assert grown < 8 * 1024 * 1024
    served = count
    if engine == "hypercorn":
        served = min(count, HypercornConfig.keep_alive_max_requests)  # then it closes
    assert replies.count(b"HTTP/1.1 404 Not Found\r\n") == served
    assert replies.count(b"HTTP/1.1 ") == served
    assert served > MAX_PIPELINED
    other, reply = ask(proxy, signed_get(proxy, "bob", "shared", "absent"))
    other.close()
    assert reply.startswith(b"HTTP/1.1 404 Not Found\r\n")


def send_ignoring_close(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the proxy may close before all was sent
        sock.sendall(data)


def read_until_closed(sock: socket.socket, answers: int) -> bytes:
    """What the proxy sends until it closes or ``answers`` answers came (Hypercorn keeps the
    connection open)."""
    replies = b""
    while replies.count(b"HTTP/1.1 ") < answers or not answered(replies[-4096:]):
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        replies += chunk
    return replies
