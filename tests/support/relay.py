"""A relay between the proxy and a real S3 server that can misbehave on demand.

Real SeaweedFS and Ceph RGW do not fail on demand, and a fake upstream proves nothing about the
answers a real one gives. So the quirk tests put this relay in front of the real server: each
request goes on byte for byte (its Host too: the proxy signed the relay's, the upstream checks
the signature over what it receives), the real answer comes back, and a test's hooks may answer
instead of the upstream (:attr:`Relay.answer`) or rewrite what it said (:attr:`Relay.rewrite`)
down to the raw bytes, cut short or reset. Every exchange is kept (:attr:`Relay.seen`), so a
test can collect what the upstream sent (request ids, ``Server``) and check none reached the
client. One request per connection, each on its own thread: plain sockets, so that nothing
between the upstream and the proxy tidies a hostile answer up.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass
class Exchange:
    """One request through the relay and, once forwarded, the upstream's answer."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.response_headers if k.lower() == name.lower()), None)

    def set_header(self, name: str, value: str | None) -> None:
        """Replace (or, with None, remove) a response header."""
        kept = [(k, v) for k, v in self.response_headers if k.lower() != name.lower()]
        self.response_headers = kept + ([(name, value)] if value is not None else [])

    def raw(self, content_length: int | None = None) -> bytes:
        """The answer as HTTP/1.1 bytes, closing the connection after it. ``Content-Length``
        is the body's (a HEAD's: the upstream's), unless ``content_length`` says otherwise."""
        lines = [f"HTTP/1.1 {self.status} {self.reason or 'Status'}"]
        lines += [f"{k}: {v}" for k, v in self.response_headers if k.lower() not in HOP_BY_HOP]
        if content_length is None:
            upstream = next(
                (v for k, v in self.response_headers if k.lower() == "content-length"), None
            )
            content_length = (
                int(upstream) if self.method == "HEAD" and upstream else len(self.response_body)
            )
        lines += [f"Content-Length: {content_length}", "Connection: close", "", ""]
        head = "\r\n".join(lines).encode("latin-1")
        return head + (b"" if self.method == "HEAD" else self.response_body)


Hook = Callable[[Exchange], bytes | None]
"""Given an exchange: raw bytes to send the proxy (then close), or None to go on."""


class Relay:
    """Forwards to ``endpoint``; :attr:`answer` runs before forwarding, :attr:`rewrite` after
    (it may edit the exchange in place and return None). Both are reset by :meth:`clear`."""

    def __init__(self, endpoint: str) -> None:
        split = urlsplit(endpoint)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self.answer: Hook | None = None
        self.rewrite: Hook | None = None
        self.seen: list[Exchange] = []
        self._lock = threading.Lock()
        relay = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                relay._handle(self.request)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def clear(self) -> None:
        self.answer = self.rewrite = None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(60)
        exchange = _read_request(connection)
        if exchange is None:
            return
        with self._lock:
            self.seen.append(exchange)
        answer, rewrite = self.answer, self.rewrite
        raw = answer(exchange) if answer is not None else None
        if raw is None:
            _forward(exchange, self._upstream)
            raw = rewrite(exchange) if rewrite is not None else None
            if raw is None:
                raw = exchange.raw()
        with contextlib.suppress(OSError):
            connection.sendall(raw)
            if isinstance(raw, Reset):
                linger = struct.pack("ii", 1, 0)
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                connection.close()
                return
            connection.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _read_request(connection: socket.socket) -> Exchange | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target = lines[0].split(" ")[:2]
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    while len(body) < length:
        chunk = connection.recv(min(length - len(body), 1 << 20))
        if not chunk:
            break
        body += chunk
    return Exchange(method, target, headers, body)


def _forward(exchange: Exchange, upstream: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*upstream, timeout=60)
    try:
        connection.putrequest(
            exchange.method, exchange.target, skip_host=True, skip_accept_encoding=True
        )
        for name, value in exchange.headers:
            if name.lower() not in ("connection", "keep-alive"):
                connection.putheader(name, value)
        connection.endheaders(exchange.body or None)
        response = connection.getresponse()
        exchange.response_body = response.read()
        exchange.status, exchange.reason = response.status, response.reason
        exchange.response_headers = response.getheaders()
    finally:
        connection.close()


@contextlib.contextmanager
def relay_to(endpoint: str) -> Iterator[Relay]:
    relay = Relay(endpoint)
    try:
        yield relay
    finally:
        relay.close()


class Reset(bytes):
    """Raw bytes a hook returns to have them sent and the connection then reset (RST), as
    an upstream that crashes mid-answer leaves it."""
