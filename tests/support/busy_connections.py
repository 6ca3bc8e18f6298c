"""Connections a probe holds *busy*, so that the proxy can neither take them for a new one nor
close them while the probe counts them.

At a connection bound the proxy closes an idle connection in the new one's place, and takes a
connection whose request head has been arriving for ``s3proxy.connection_owners.GRACE`` (1 s)
as idle too (slowloris). Probes of the bound held their connections with a head's first bytes:
on a loaded box their loop outlasted the grace, the first ones were taken, and the bound was
never met (a flake). A connection whose upload waits for its body is busy for as long as the
body idle timeout allows; its ``100 Continue`` (sent when the proxy first reads the body, on
both engines) says it is so, with no waiting on a clock.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

from tests.support.s3http import object_url, sign

CONTINUE = b"HTTP/1.1 100 Continue\r\n"


def upload_head(endpoint: str, access_key: str, secret_key: str, bucket: str, key: str) -> bytes:
    """The head of a signed one-byte PUT that waits for ``100 Continue``; its body is never
    sent."""
    url = object_url(endpoint, bucket, key)
    extra = {"Content-Length": "1", "Expect": "100-continue"}
    headers = sign("PUT", url, access_key, secret_key, extra, payload_hash="UNSIGNED-PAYLOAD")
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"PUT {urlsplit(url).path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def read_head(sock: socket.socket) -> bytes:
    """What ``sock`` receives up to the end of one answer's head (all of it, if the proxy
    closes first)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer read from ``sock``: its head and Content-Length bytes of body, not to
    the connection's end (a kept connection has none; a closed one may end in a reset)."""
    return _rest_of(sock, read_head(sock))


def hold_busy(sock: socket.socket, upload: bytes) -> bytes:
    """Send ``upload`` (:func:`upload_head`) on ``sock``; the first answer. It is ``100
    Continue`` (:data:`CONTINUE`) once the upload is in progress and ``sock`` busy; anything
    else is the proxy's refusal, read whole (:func:`read_answer`): the proxy closes with the
    upload's head unread, which resets the connection after the answer."""
    sock.sendall(upload)
    reply = read_head(sock)
    if reply.startswith(CONTINUE):
        return reply
    return _rest_of(sock, reply)


def _rest_of(sock: socket.socket, reply: bytes) -> bytes:
    """``reply`` (an answer's head and what came with it) with the rest of its body."""
    head, _, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    while length is not None and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
