"""Pipelined requests on the uvicorn engine: read as the client sends them, held back unparsed
while a connection's queue is full, instead of refused.

llhttp parses every request a read holds in one call, and uvicorn queues each as it is parsed,
so a client that pipelines without reading answers could grow a connection's queue without
bound; the engine used to answer the 33rd request ``503 SlowDown`` and close (a client sending
100 small requests in one write got 33 answers), where Hypercorn, which parses one request at a
time, answered all 100. Now, once :data:`MAX_PIPELINED` requests wait on a connection, the rest
of the read is kept unparsed (:attr:`S3Protocol.stash <s3proxy.uvicorn_protocol.S3Protocol>`),
reading stops, and the kept bytes are parsed again when half the queue has been answered: every
request is answered in order, and a connection holds at most :data:`MAX_PIPELINED` parsed
requests plus one read of bytes.

llhttp cannot be paused at a request's end from Python (httptools gives no position), so the
place where the first request that did not fit begins is found by parsing the read again with a
parser that only counts requests (:func:`after_messages`): a cost paid only by a connection that
has 32 requests waiting. A read that begins inside a chunked body cannot be counted so (the
request's start is in an earlier read): such a body is followed read by read
(:class:`ChunkedShadow`), which finds where it ends; before, that read's requests past the
queue were refused (503 SlowDown, connection closed).
"""

from __future__ import annotations

import contextlib

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from s3proxy.errors import S3Error
from s3proxy.http_errors import MAX_HEAD_BYTES

MAX_PIPELINED = 32
"""Requests queued behind the one in progress on a connection; the rest of what the client sent
waits unparsed until half of them are answered."""

MAX_STASH = 1 << 20
"""Unparsed bytes kept for a connection whose queue is full, at most (one read is 256 KiB, and
reading stops once bytes are kept): past it the next request is refused as before."""

_SLICE = 1024
"""Bytes fed at a time while counting requests: the boundary is then found byte by byte in one
slice."""


class _Counter:
    """A parser protocol that only counts the requests it saw end."""

    __slots__ = ("ended",)

    def __init__(self) -> None:
        self.ended = 0

    def on_message_complete(self) -> None:
        self.ended += 1


def _parser(counter: _Counter) -> httptools.HttpRequestParser:
    parser = httptools.HttpRequestParser(counter)
    with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
        parser.set_dangerous_leniencies(lenient_data_after_close=True)
    return parser


def _feed(
    parser: httptools.HttpRequestParser, counter: _Counter, data: bytes, count: int = 1
) -> None:
    """Feed a slice to a counting parser; what it cannot parse after the ``count``-th
    request's end in it is no matter (it is found again, and answered, when parsed for real)."""
    try:
        parser.feed_data(data)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        if counter.ended < count:
            raise


def after_messages(data: bytes, count: int) -> int | None:
    """The offset in ``data`` (which starts at a request's first byte) just past its first
    ``count`` whole requests; None if it does not hold them, or cannot be parsed so."""
    if count <= 0:
        return 0
    try:
        counter = _Counter()
        parser = _parser(counter)
        start = 0
        while counter.ended < count:
            if start >= len(data):
                return None
            _feed(parser, counter, data[start : start + _SLICE], count)
            start += _SLICE
        start -= _SLICE  # the count was reached in this slice: find where, byte by byte
        counter = _Counter()
        parser = _parser(counter)
        if start:
            parser.feed_data(data[:start])
        for end in range(start + 1, min(start + _SLICE, len(data)) + 1):
            parser.feed_data(data[end - 1 : end])
            if counter.ended >= count:
                return end
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        return None
    return None


class ChunkedShadow:
    """Where a chunked request that began in an earlier read ends in the current one.

    llhttp gives no position, and a read that starts inside a chunked body cannot be counted
    by :func:`after_messages` (which must start at a request's first byte): the end of that
    body is known only to a parser that read the request from its start. Two counting parsers
    follow such a request read by read, each left where the connection's parser was at the
    start of the current read, so that :meth:`end_in` finds, with the same llhttp, just where
    the request ends in it (one scans by slices, the other byte by byte in the slice found).
    The cost, for a chunked request whose body spans reads: two parsers made (a few us each)
    and two more llhttp passes over each of its reads, which skip chunk data without copying
    it (a counting parser has no body callback); a 64 MiB chunked upload in 256 KiB reads
    took no measurably longer."""

    __slots__ = ("_scan", "_scanned", "_step", "_stepped")

    def __init__(self, start: bytes) -> None:
        """``start``: the request's bytes from its first one to the end of the read."""
        self._scanned, self._stepped = _Counter(), _Counter()
        self._scan, self._step = _parser(self._scanned), _parser(self._stepped)
        self.advance(start)

    def advance(self, data: bytes) -> None:
        """A read that did not end the request: both parsers follow it."""
        self._scan.feed_data(data)
        self._step.feed_data(data)

    def end_in(self, data: bytes) -> int | None:
        """The offset just past the request's end in ``data`` (the read after those
        :meth:`advance` saw), or None; once only: the parsers are spent."""
        if self._scanned.ended:  # it ended in a read it was told went on: never so
            return None
        try:
            start = 0
            while not self._scanned.ended:
                if start >= len(data):
                    return None
                _feed(self._scan, self._scanned, data[start : start + _SLICE])
                start += _SLICE
            start -= _SLICE  # the end is in this slice: found byte by byte
            if start:
                self._step.feed_data(data[:start])
            for end in range(start + 1, min(start + _SLICE, len(data)) + 1):
                self._step.feed_data(data[end - 1 : end])
                if self._stepped.ended:
                    return end
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            return None
        return None


def message_start(data: bytes, ended: int, shadow: ChunkedShadow | None) -> int | None:
    """The offset in ``data`` (a read, after the unfinished head kept from earlier ones, if
    any) at which the request that follows its first ``ended`` ends begins, or None.
    ``shadow``: None if ``data`` starts at a request's first byte, else that of the chunked
    request ``data`` starts inside (whose end is the first of the ``ended``)."""
    if shadow is None:
        return after_messages(data, ended)
    end = shadow.end_in(data) if ended > 0 else None
    rest = None if end is None else after_messages(data[end:], ended - 1)
    return None if end is None or rest is None else end + rest


class PipelinedProtocol(HttpToolsProtocol):
    """The part of :class:`s3proxy.uvicorn_protocol.S3Protocol` that keeps what does not fit in
    a connection's queue (its state is set up there, with the rest)."""

    stash: bytes
    """Read, not parsed: the queue was full."""
    partial: bytes
    """The unfinished head's bytes so far (:meth:`keep_partial`)."""
    shadow: ChunkedShadow | None
    """The chunked request the last read ended inside, followed (:meth:`follow_chunked`)."""
    refeeding: bool
    """A parse of :attr:`stash` is scheduled."""
    eof_pending: bool
    """The client half-closed while bytes were kept."""
    in_message: bool
    refusal: S3Error | None
    in_head: bool
    head_bytes: int

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio allows True
        """S3Protocol's: what a half-close does (True: keep the transport open to answer)."""
        super().eof_received()
        return None

    def answering(self) -> bool:
        """Whether a request is still being answered: a head arriving now is pipelined."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete

    def keep_partial(self, whole: bytes, ended: int, follow: ChunkedShadow | None) -> None:
        """A read that ends inside a head: keep that head's bytes (up to the head limit), so
        that the read in which the queue fills can be split at a request's start
        (module docstring). ``whole`` begins with a request, or inside the chunked body
        ``follow`` follows, and holds ``ended`` whole ones before the unfinished one: counted
        again only while a request is answered, as only a pipelining client sends requests
        then."""
        offset = message_start(whole, ended, follow)
        if offset is not None and len(whole) - offset <= MAX_HEAD_BYTES:
            self.partial = whole[offset:]

    def follow_chunked(self, whole: bytes, ended: int, follow: ChunkedShadow | None) -> None:
        """A read that ends inside a chunked body: follow that request into the next read
        (:class:`ChunkedShadow`), so that a read that starts inside its body can be split at a
        request's start too. ``whole`` and ``ended`` as for :meth:`keep_partial`; a request
        whose start cannot be found is not followed (its next read is not split: a full
        queue then refuses the request that does not fit, as before)."""
        try:
            if ended == 0 and follow is not None:  # the same body goes on
                follow.advance(whole)
                self.shadow = follow
                return
            start = message_start(whole, ended, follow)
            if start is not None:
                self.shadow = ChunkedShadow(whole[start:])
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self.shadow = None  # what the connection's parser took: never seen here

    def hold_back(self, rest: bytes) -> None:
        """The queue is full: keep ``rest`` (from the first request that did not fit) unparsed
        and stop reading until half the queue is answered (:meth:`on_response_complete`)."""
        self.stash = rest
        self.shadow = None
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.refusal = None
        self.in_message = False
        self.in_head = True
        self.head_bytes = 0
        self.flow.pause_reading()

    def refeed(self) -> None:
        """Parse the kept bytes, as if they had just been read; read on once none are kept."""
        self.refeeding = False
        if self.transport.is_closing():
            return
        data, self.stash = self.stash, b""
        self.data_received(data)
        if self.stash or self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.eof_pending:  # the client's half-close, now that its requests are parsed
            self.eof_pending = False
            if not self.eof_received():
                self.transport.close()
