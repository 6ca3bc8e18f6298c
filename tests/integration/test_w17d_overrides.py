"""``response-*`` override values with outer blanks, on the wire (wave 17, D).

A field value has no leading or trailing whitespace (RFC 9110, 5.5): Hypercorn's h11 trims it
as it writes the head, uvicorn wrote ``content-type:  text/plain `` as given, so the two engines
answered the same signed request with different bytes. The gateway now trims spaces and tabs
at both ends of an override before it goes out; inner runs are kept (S3 answers the value as
asked). Default engine (uvicorn), where the bytes differed; one lane, no backend decides this.
"""

from __future__ import annotations

import socket

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

OVERRIDES = (
    "response-content-type=%20text%2Fplain%20"
    "&response-cache-control=%09no-cache%09"
    "&response-content-language=%20a%20%20b%20"
)


def _head_lines(proxy: Proxy, url: str) -> list[bytes]:
    headers = sign("GET", url, *proxy.keys("alice"))
    target = url.removeprefix(proxy.endpoint)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {target} HTTP/1.1\r\n{lines}Connection: close\r\n\r\n".encode("latin-1")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply and (chunk := sock.recv(65536)):
            reply += chunk
    return reply.partition(b"\r\n\r\n")[0].split(b"\r\n")


@pytest.mark.one_lane
def test_override_values_go_out_without_outer_blanks(proxy: Proxy) -> None:
    proxy.client("alice").put_object(Bucket="docs", Key="w17d-overrides", Body=b"x")
    lines = _head_lines(proxy, object_url(proxy.endpoint, "docs", "w17d-overrides", OVERRIDES))
    assert lines[0].startswith(b"HTTP/1.1 200"), lines
    fields = {name.lower(): value for name, _, value in (line.partition(b":") for line in lines)}
    assert fields[b"content-type"] == b" text/plain"
    assert fields[b"cache-control"] == b" no-cache"
    assert fields[b"content-language"] == b" a  b"
