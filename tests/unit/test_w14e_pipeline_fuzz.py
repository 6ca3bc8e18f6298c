"""The uvicorn engine's request boundaries against llhttp's own (wave 14 E).

The engine does not hand llhttp every byte as it came: a Content-Length body bypasses the parser
(``S3Protocol.body_received``), and the rest of a read that does not fit in a full queue is kept
unparsed and parsed again later (s3proxy.uvicorn_pipeline), split where a second, counting
parser says a request starts. Each is a place where the engine could see a request boundary
where llhttp, reading the same bytes in one go, sees none: a request smuggled past whatever
stands in front, or an answer given to the wrong request.

A differential fuzz: pipelined requests (Content-Length and chunked bodies with extensions and
trailers, odd whitespace, folded lines, bare LFs, bodies that look like requests) go through the
engine in reads cut at random places, with the application answering between some of them.
What the application receives must be what one llhttp parser, fed the whole stream, parses, up
to wherever the engine refuses; and it must not depend on how the stream was cut (the one read
is the reference for the cut ones: a 503 or a missing answer there is a split that failed).

Found by it: a read that filled the queue while it began inside a chunked body could not be
split, and the request that did not fit was answered 503 SlowDown and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import httptools
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3proxy.uvicorn_pipeline import MAX_PIPELINED
from tests.unit.test_uvicorn_engine import app_answering, connect

Request = tuple[str, bytes, tuple[tuple[bytes, bytes], ...], bytes]
"""What a request is to the application: method, target, headers (names lower case), body."""


@dataclass
class _Reference:
    """llhttp fed the whole stream at once, as a plain httptools protocol: the requests in it."""

    requests: list[Request] = field(default_factory=list)
    closes: list[bool] = field(default_factory=list)
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    parser: Any = None

    in_head: bool = True

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.in_head = b"", [], b"", True

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:  # after the head: a trailer field, never one of the request's headers
            self.headers.append((name.lower(), value.strip(b" \t")))  # OWS is no part of it

    def on_headers_complete(self) -> None:
        self.in_head = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        self.requests.append((method, self.url, tuple(self.headers), self.body))
        version = self.parser.get_http_version()
        self.closes.append(version == "1.0" or not self.parser.should_keep_alive())


def reference(stream: bytes) -> list[Request]:
    """The requests llhttp reads in ``stream``, up to the first after which the connection
    closes (what follows is never read as a request) or to what it cannot parse. An Upgrade
    request, at whose head llhttp stops, goes on as plain HTTP/1.1, as the engine serves it
    (S3Protocol.upgraded): its Content-Length body is its own, then requests follow; a chunked
    one is refused there."""
    ref = _Reference()
    start = 0
    while start < len(stream):
        ref.parser = httptools.HttpRequestParser(ref)
        ref.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        try:
            ref.parser.feed_data(stream[start:])
        except httptools.HttpParserUpgrade as upgrade:
            method, url, headers, _ = ref.requests[-1]
            framing = dict(headers)
            if b"transfer-encoding" in framing:
                ref.requests.pop()
                ref.closes.pop()
                break
            start += upgrade.args[0]
            length = int(framing.get(b"content-length", b"0"))
            ref.requests[-1] = (method, url, headers, stream[start : start + length])
            start += length
            continue
        except httptools.HttpParserError:
            pass
        break
    for index, closes in enumerate(ref.closes):
        if closes:
            return ref.requests[: index + 1]
    return ref.requests


def digest(request: Request) -> bytes:
    return hashlib.sha256(repr(request).encode()).hexdigest()[:16].encode()


@dataclass
class Outcome:
    received: list[Request]
    answers: list[tuple[int, bytes]]


def answers_in(reply: bytes) -> list[tuple[int, bytes]]:
    """The answers in what the engine wrote: (status, the request's digest or the error's
    code)."""
    found: list[tuple[int, bytes]] = []

    class Answers:
        body = b""
        said = b""

        def on_message_begin(self) -> None:
            self.body = self.said = b""

        def on_header(self, name: bytes, value: bytes) -> None:
            if name.lower() == b"x-digest":
                self.said = value

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            code = self.body.partition(b"<Code>")[2].partition(b"</Code>")[0]
            if parser.get_status_code() >= 200:  # not an interim 100 Continue
                found.append((parser.get_status_code(), self.said or code))

    parser = httptools.HttpResponseParser(Answers())
    with contextlib.suppress(httptools.HttpParserError):
        parser.feed_data(reply)
    return found


def run(pieces: list[bytes], settles: list[bool]) -> Outcome:
    """The pieces as reads of one connection (never while the engine has stopped reading:
    the application answers until it reads again), letting the application run after those
    ``settles`` marks."""
    received: list[Request] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        target = scope["raw_path"] + (
            b"?" + scope["query_string"] if scope["query_string"] else b""
        )
        headers = tuple((name, value) for name, value in scope["headers"])
        request: Request = (scope["method"], target, headers, body)
        received.append(request)
        said = [(b"content-length", b"0"), (b"x-digest", digest(request))]
        await send({"type": "http.response.start", "status": 200, "headers": said})
        await send({"type": "http.response.body", "body": b""})

    async def go() -> Outcome:
        protocol, transport = connect(app)
        for piece, let_run in zip(pieces, settles, strict=True):
            for _ in range(2000):  # the socket is not read while reading is paused
                if not protocol.flow.read_paused or transport.closed:
                    break
                await asyncio.sleep(0)
            if transport.closed:
                break
            assert not protocol.flow.read_paused, "reading never resumed"
            protocol.data_received(piece)
            if let_run:
                await asyncio.sleep(0)
        progress, still = (-1, -1), 0
        while still < 300:  # until all is answered, or nothing moves (a body never sent whole)
            await asyncio.sleep(0)
            if transport.closed or not (protocol.pipeline or protocol.stash or protocol.tasks):
                break
            now = (len(transport.writes), len(received))
            progress, still = now, (still + 1 if now == progress else 0)
        return Outcome(received, answers_in(b"".join(transport.writes)))

    return asyncio.run(go())


# --- what the client sends ---------------------------------------------------------------

TOKEN = st.sampled_from([b"x-a", b"X-Amz-Meta-B", b"x-c", b"content-type", b"x-amz-date"])
VALUE = st.binary(max_size=12).map(
    lambda raw: bytes(b for b in raw if 0x21 <= b < 0x7F and b not in b"\r\n")
)
EOL = st.sampled_from([b"\r\n"] * 8 + [b"\n"])
OWS = st.sampled_from([b"", b"", b" ", b"\t", b"  ", b" \t"])
LOOKALIKE = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"


ODD_LINES = st.sampled_from(
    [
        b"Content-Length: 3\r\n",
        b"Content-Length: 0\r\n",
        b"Content-Length: 3, 3\r\n",
        b"Content-Length: -1\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Transfer-Encoding: chunked, chunked\r\n",
        b"Transfer-Encoding:\r\n chunked\r\n",
        b"Host : h\r\n",
        b"Host: h2\r\n",
        b"Connection: upgrade\r\nUpgrade: websocket\r\n",
        b"Expect: 100-continue\r\n",
        b"X-Bare: a\rb\r\n",
        b"X-Ctl: a\x01b\r\n",
        b" X-Leading-Space: a\r\n",
    ]
)
"""Lines a request smuggler tries: a second framing, a folded or spaced one, a second Host, an
Upgrade, control characters."""


@st.composite
def header_line(draw: st.DrawFn) -> bytes:
    name, value = draw(TOKEN), draw(VALUE)
    line = name + b":" + draw(OWS) + value + draw(OWS)
    if draw(st.integers(0, 15)) == 0:  # obs-fold: a continuation line
        line += b"\r\n" + draw(st.sampled_from([b" ", b"\t"])) + draw(VALUE)
    return line + draw(EOL)


BODY = st.one_of(
    st.binary(max_size=40),
    st.just(LOOKALIKE),
    st.binary(max_size=8).map(lambda b: b + LOOKALIKE),
    st.integers(0, 3000).map(lambda n: b"z" * n),
)
"""A body: bytes, bytes that read as a request, or enough to span reads."""


@st.composite
def chunked_body(draw: st.DrawFn) -> bytes:
    out = b""
    for data in draw(st.lists(BODY, max_size=4)):
        if not data:
            continue
        size = draw(st.sampled_from(["%x", "%X", "0%x", "00%x"])) % len(data)
        ext = draw(st.sampled_from([b"", b"", b";a=b", b";name", b';q="x y"', b" ;a=b"]))
        out += size.encode() + ext + draw(EOL) + data + b"\r\n"
    out += draw(st.sampled_from([b"0", b"000"])) + draw(st.sampled_from([b"", b";e=1"])) + b"\r\n"
    for _ in range(draw(st.integers(0, 2))):
        out += draw(header_line())
    return out + b"\r\n"


@st.composite
def request(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"PUT", b"POST", b"DELETE", b"HEAD"]))
    target = b"/b/" + draw(st.sampled_from([b"k", b"a%20b", b"k?uploads", b"k?x=1&y=%2B"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 12 + [b"HTTP/1.0"]))
    space = draw(st.sampled_from([b" "] * 20 + [b"  ", b"\t"]))
    lead = draw(st.sampled_from([b""] * 20 + [b"\r\n", b"\n"]))  # empty lines before a request
    head = lead + method + space + target + b" " + version + draw(EOL)
    lines = [b"Host: h" + draw(EOL), *draw(st.lists(header_line(), max_size=3))]
    if draw(st.integers(0, 9)) == 0:
        lines.append(draw(ODD_LINES))
    framing = draw(st.sampled_from(["none", "length", "length", "chunked", "chunked"]))
    body = b""
    if framing == "length":
        body = draw(BODY)
        spelled = draw(st.sampled_from(["%d", "0%d", "%d "])) % len(body)
        lines.append(b"Content-Length: " + spelled.encode() + draw(EOL))
    elif framing == "chunked":
        body = draw(chunked_body())
        lines.append(b"Transfer-Encoding:" + draw(OWS) + b"chunked" + draw(EOL))
    if version == b"HTTP/1.0":
        lines.append(b"Connection: keep-alive\r\n")
    elif draw(st.integers(0, 30)) == 0:
        lines.append(b"Connection: close\r\n")
    lines = draw(st.permutations(lines))
    return head + b"".join(lines) + draw(EOL) + body


GET = b"GET /b/g HTTP/1.1\r\nHost: h\r\n\r\n"


@st.composite
def stream(draw: st.DrawFn) -> bytes:
    """A few requests, and sometimes a run of more than a queue of GETs behind them."""
    out = b"".join(draw(st.lists(request(), min_size=1, max_size=6)))
    if draw(st.booleans()):
        out += GET * draw(st.integers(MAX_PIPELINED - 4, MAX_PIPELINED + 12))
        out += b"".join(draw(st.lists(request(), max_size=3)))
    return out


@st.composite
def cuts(draw: st.DrawFn, data: bytes) -> tuple[list[bytes], list[bool]]:
    points = sorted(set(draw(st.lists(st.integers(1, max(len(data) - 1, 1)), max_size=12))))
    edges = [0, *points, len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(edges) if b > a]
    return pieces, draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))


def check(data: bytes, pieces: list[bytes], settles: list[bool]) -> None:
    whole = run([data], [False])
    parsed = reference(data)
    # The one read: never a request llhttp did not read there (a prefix, up to a refusal).
    assert whole.received == parsed[: len(whole.received)]
    assert [said for _, said in whole.answers[: len(whole.received)]] == [
        digest(r) for r in whole.received
    ]
    # Cut reads: the same requests and the same answers, whatever the cuts.
    cut = run(pieces, settles)
    assert cut.received == whole.received
    assert cut.answers == whole.answers


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_cut_reads_give_llhttps_requests(data: st.DataObject) -> None:
    sent = data.draw(stream())
    pieces, settles = data.draw(cuts(sent))
    check(sent, pieces, settles)


CHUNKED = b"PUT /b/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_full_queue_in_a_read_that_begins_inside_a_chunked_body() -> None:
    """The read that fills the queue begins inside a chunked body (its last chunk, its end
    line or its trailers): every request after it is answered, in order; before, the 33rd was
    503 SlowDown and the connection closed."""
    body = b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nx-t: v\r\n\r\n"
    sent = CHUNKED + body + GET * 40
    for cut in (len(CHUNKED) + 3, len(CHUNKED) + 12, len(CHUNKED) + len(body) - 4):
        pieces = [sent[:cut], sent[cut:]]
        check(sent, pieces, [False, False])
        assert len(run(pieces, [False, False]).received) == 41


def test_a_head_kept_across_reads_after_a_chunked_body() -> None:
    """The read that ends the chunked body ends inside a pipelined head, and the next fills the
    queue: the head was not kept (the read began inside a body), so that split failed too."""
    body = b"4\r\nabcd\r\n0\r\n\r\n"
    sent = GET + CHUNKED + body + GET * 40
    first = len(GET + CHUNKED) + 2
    second = len(GET + CHUNKED + body) + 5 * len(GET) + 7
    pieces = [sent[:first], sent[first:second], sent[second:]]
    check(sent, pieces, [True, False, False])
    assert len(run(pieces, [True, False, False]).received) == 42


def test_earlier_requests_are_answered_before_a_refusal_behind_them() -> None:
    """A request refused inside its body (a bare LF ending a chunk line) while two before it
    wait in the queue: they are answered first, then the refusal. Before, the refusal was
    written at once and the connection closed, so the client read it as the first request's
    answer and the others had none."""
    bad = CHUNKED + b"1\n\x00\r\n0\r\n\r\n"
    outcome = run([GET * 3 + bad], [False])
    assert len(outcome.received) == 3
    assert [status for status, _ in outcome.answers] == [200, 200, 200, 400]
    check(GET * 3 + bad, [GET * 3 + bad[:-9], bad[-9:]], [False, False])


def test_a_framing_error_in_a_read_of_a_body_is_no_unknown_method() -> None:
    """A read beginning inside a chunked body with a chunk line llhttp refuses (a space before
    ';'): 400 InvalidRequest, as in one read. Before, the read's first word (``ET`` of a body
    holding ``GET /...``) was taken for an unknown method: 405 MethodNotAllowed."""
    body = b"5\r\nET /x\r\n23 ;a=b\r\n" + LOOKALIKE + b"\r\n0\r\n\r\n"
    sent = CHUNKED + body
    cut = len(CHUNKED) + 3  # the second read begins with the chunk's data, "ET /x"
    assert run([sent[:cut], sent[cut:]], [False, False]).answers == [(400, b"InvalidRequest")]
    check(sent, [sent[:cut], sent[cut:]], [False, False])


def test_a_half_close_after_a_refused_request_still_gets_the_answers_before_it() -> None:
    """The client half-closes after the requests and the one refused behind them: the answers
    still go, then the refusal, then the close (before, the half-close closed at once)."""

    async def go() -> list[tuple[int, bytes]]:
        protocol, transport = connect(app_answering([]))
        protocol.data_received(GET * 2 + CHUNKED + b"1\n\x00\r\n0\r\n\r\n")
        assert protocol.eof_received()
        for _ in range(200):
            await asyncio.sleep(0)
        assert transport.eof or transport.closed  # the answers, then the end
        return answers_in(b"".join(transport.writes))

    assert [status for status, _ in asyncio.run(go())] == [200, 200, 400]
