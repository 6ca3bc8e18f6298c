"""An access line stays under 16 KiB whatever the request (wave 15 E).

The line held the request's bucket name and key as sent. A request head may carry 16 KiB of
either, and JSON escapes a control byte (``%01`` in the path) as six characters, so one
request made a ~31 KiB line: over the 16 KiB at which Docker's json-file driver and containerd
split log lines, leaving shippers two halves that are not JSON. A line over 4 KiB now clips a
bucket name past 255 characters and a key past 1,024 (no valid name is longer) and says how
long each was.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import sign
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.one_lane]

LINE_LIMIT = 16 * 1024


def _answer(proxy: Proxy, path: str) -> bytes:
    headers = sign("GET", proxy.endpoint + path, *proxy.keys("alice"), {})
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as connection:
        connection.sendall(head.encode() + b"Connection: close\r\n\r\n")
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return reply


def _line(proxy: Proxy, request_id: str) -> tuple[str, dict[str, Any]]:
    def found() -> list[str]:  # written once the answer is sent: it may trail a little
        return [line for line in proxy.process.log_text().splitlines() if f'"{request_id}"' in line]

    [line] = wait_for(found, f"the access line of {request_id}")
    return line, json.loads(line)


def test_a_long_bucket_and_key_of_control_bytes_are_clipped(proxy: Proxy) -> None:
    """One request whose bucket and key are 2,400 control bytes each (JSON: 14 KiB apiece)."""
    reply = _answer(proxy, "/" + "%01" * 2400 + "/" + "%01" * 2400)
    request_id = reply.split(b"x-amz-request-id: ", 1)[1].split(b"\r\n", 1)[0].decode()
    line, entry = _line(proxy, request_id)
    assert len(line.encode()) < LINE_LIMIT
    assert (entry["bucket"], entry["bucket_chars"]) == ("\x01" * 255, 2400)
    assert (entry["key"], entry["key_chars"]) == ("\x01" * 1024, 2400)
