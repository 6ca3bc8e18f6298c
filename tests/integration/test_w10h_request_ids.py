"""What an operator joins a client's report to: every answer of the S3 port carries
``x-amz-request-id`` and ``x-amz-id-2`` (S3 sends both on every response), the request id is in
exactly one access line, with the status the client got, and the refusal is counted by its error
code in /metrics, without an unknown access key ever becoming a label value.

Answers from every layer: the S3 app (success, 403 anonymous, 403 unknown key, 403 bad
signature, 501 NotImplemented, 503 SlowDown, a HEAD's bodiless 404) and the HTTP layer below it
(an unreadable request line, Content-Length with Transfer-Encoding, a header section over 16 KiB,
a connection over the per-client bound), on both engines. A real proxy process on the local
store: all of this is decided before any upstream call.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import HOME_BUCKET, UPSTREAM, Proxy, start_proxy
from tests.support.busy_connections import CONTINUE, hold_busy, upload_head
from tests.support.metrics_scrape import metric_sum, scrape
from tests.support.s3http import RawResponse, object_url, sign, signed
from tests.support.waiting import DEADLINE, wait_for

pytestmark = pytest.mark.integration

CONNECTION_BOUND = 4
UNKNOWN_KEY = "AKUNKNOWNW10H0000001"
CAROL = ("AKCAROLW10H000000001", "carol-secret-key-w10h-cccccccccccc")


@pytest.fixture(params=["uvicorn", "hypercorn"], scope="module")
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    workdir = tmp_path_factory.mktemp(f"w10h-ids-{request.param}")
    proxy = start_proxy(
        None,
        None,
        workdir,
        server={"engine": request.param, "max_connections_per_client": CONNECTION_BOUND},
        tenants={
            "carol": {
                "keys": [{"access_key": CAROL[0], "secret_key": CAROL[1]}],
                "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET},
                "limits": {"requests_per_second": 0.001},  # one request, then SlowDown
            },
        },
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def raw_exchange(port: int, data: bytes) -> RawResponse:
    """Send ``data`` as is and read the one answer (the connection is closed after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return parse(received)


def over_the_connection_bound(proxy: Proxy) -> RawResponse:
    """Open connections until one is refused (the answer comes at once, at accept; other
    connections, the test clients' kept-alive ones included, count towards the bound too).
    Each admitted one is held busy by an upload that waits for its body (its 100 Continue
    read), so none can be closed in a new one's place (s3proxy.connection_owners): idle ones
    can, and so can a head's first byte once it is a second old, which a loaded box's loop
    outlasted (no connection was then refused)."""
    held: list[socket.socket] = []
    try:
        for number in range(3 * CONNECTION_BOUND):
            connection = socket.create_connection(("127.0.0.1", proxy.port), timeout=DEADLINE)
            held.append(connection)
            upload = upload_head(proxy.endpoint, *proxy.keys("alice"), "docs", f"w10h/{number}")
            first = hold_busy(connection, upload)
            if not first.startswith(CONTINUE):
                return parse(first)
            # admitted: it counts, and is busy from now on
        raise AssertionError("no connection was refused")
    finally:
        for connection in held:
            connection.close()


def parse(received: bytes) -> RawResponse:
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return RawResponse(int(status_line.split()[1]), headers, body)  # type: ignore[arg-type]


def access_lines(proxy: Proxy) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in proxy.process.log_text().splitlines()
        if line.startswith('{"time"') and '"request_id"' in line
    ]


def answers(proxy: Proxy) -> dict[str, RawResponse]:
    """One answer of each kind the S3 port gives, by name."""
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", "w10h/ids")
    found: dict[str, RawResponse] = {}
    found["put 200"] = signed("PUT", url, ak, sk, body=b"ids")
    found["head 404"] = signed("HEAD", object_url(proxy.endpoint, "docs", "w10h/none"), ak, sk)
    found["anonymous 403"] = raw_exchange(
        proxy.port, b"GET /docs/w10h/ids HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    found["unknown key 403"] = signed("GET", url, UNKNOWN_KEY, "not-a-secret-key-at-all-000000")
    found["bad signature 403"] = signed("GET", url, ak, sk + "x")
    found["not implemented 501"] = signed("GET", url + "?torrent", ak, sk)
    assert signed("GET", object_url(proxy.endpoint, ""), *CAROL).status == 200  # the one
    found["slow down 503"] = signed("GET", object_url(proxy.endpoint, ""), *CAROL)
    found["bad request line 400"] = raw_exchange(proxy.port, b"GARBAGE\r\n\r\n")
    found["ambiguous framing 400"] = raw_exchange(
        proxy.port,
        b"PUT /docs/w10h/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    found["header too large 400"] = raw_exchange(
        proxy.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    found["too many connections 503"] = over_the_connection_bound(proxy)
    return found


EXPECTED = {
    "put 200": (200, None),
    "head 404": (404, "NoSuchKey"),
    "anonymous 403": (403, "AccessDenied"),
    "unknown key 403": (403, "InvalidAccessKeyId"),
    "bad signature 403": (403, "SignatureDoesNotMatch"),
    "not implemented 501": (501, "NotImplemented"),
    "slow down 503": (503, "SlowDown"),
    "bad request line 400": (400, "InvalidRequest"),
    "ambiguous framing 400": (400, "InvalidRequest"),
    "header too large 400": (400, "RequestHeaderSectionTooLarge"),
    "too many connections 503": (503, "SlowDown"),
}


def test_every_answer_carries_both_ids_and_its_id_is_in_one_access_line(
    engine_proxy: Proxy,
) -> None:
    found = answers(engine_proxy)
    assert {name: response.status for name, response in found.items()} == {
        name: status for name, (status, _) in EXPECTED.items()
    }
    host_ids = set()
    for name, response in found.items():
        request_id = response.header("x-amz-request-id")
        assert request_id is not None and re.fullmatch(r"[0-9A-F]{16}", request_id), name
        host_id = response.header("x-amz-id-2")
        assert host_id, f"{name}: no x-amz-id-2"
        host_ids.add(host_id)
        if response.body:  # the error document names the same request
            assert f"<RequestId>{request_id}</RequestId>".encode() in response.body, name
    assert len(host_ids) == 1, host_ids  # one process answered all of them

    def lines_by_id() -> dict[str, list[dict[str, Any]]]:
        """Access lines by request id once every answer above has one: they are written in
        batches, at most a second late on an idle box (the suite's DEADLINE on a loaded one)."""
        by_id: dict[str, list[dict[str, Any]]] = {}
        for line in access_lines(engine_proxy):
            by_id.setdefault(line["request_id"], []).append(line)
        missing = [name for name, r in found.items() if r.header("x-amz-request-id") not in by_id]
        return {} if missing else by_id

    by_id = wait_for(lines_by_id, "an access line for every answer above")
    for name, response in found.items():
        lines = by_id[response.header("x-amz-request-id") or ""]
        assert len(lines) == 1, (name, lines)
        status, code = EXPECTED[name]
        assert (lines[0]["status"], lines[0].get("error")) == (status, code), name


def test_refusals_are_counted_by_code_and_unknown_keys_make_no_series(
    engine_proxy: Proxy,
) -> None:
    ak, sk = engine_proxy.keys("alice")
    url = object_url(engine_proxy.endpoint, "docs", "w10h/counted")
    for _ in range(3):
        assert signed("GET", url, f"AKUNKNOWN{_}W10H00000", "x" * 40).status == 403
    assert signed("GET", url, ak, sk).status == 404
    assert raw_exchange(engine_proxy.port, b"GARBAGE\r\n\r\n").status == 400

    def count(text: str, operation: str, code: str) -> float:
        return metric_sum(text, "s3proxy_errors_total", code=code, operation=operation)

    def counted() -> str:
        """The exposition once the requests above are in it: each is counted just after its
        answer was sent, so the last ones may trail the client (read at once, a flake)."""
        text = scrape(engine_proxy.admin_endpoint)
        done = (
            count(text, "GetObject", "InvalidAccessKeyId") >= 3
            and count(text, "GetObject", "NoSuchKey") >= 1
            and count(text, "Unknown", "InvalidRequest") >= 1  # refused below the S3 app
        )
        return text if done else ""

    text = wait_for(counted, "the refusals above counted by code")
    assert "AKUNKNOWN" not in text and UNKNOWN_KEY not in text
    tenants = set(re.findall(r'tenant="([^"]*)"', text))
    assert tenants <= {"alice", "bob", "carol", "-"}, tenants
    # The HTTP layer's refusals are requests like any other in the request counters.
    assert re.search(r's3proxy_requests_total\{operation="Unknown",status="400",tenant="-"\}', text)


def test_a_signed_request_names_the_process_in_x_amz_id_2(engine_proxy: Proxy) -> None:
    """The value each process logs at start is the one its answers carry."""
    ak, sk = engine_proxy.keys("alice")
    url = object_url(engine_proxy.endpoint, "docs")
    request = urllib.request.Request(url, headers=sign("GET", url, ak, sk))
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        host_id = response.headers["x-amz-id-2"]
    assert host_id and f"x-amz-id-2 {host_id}" in engine_proxy.process.log_text()
