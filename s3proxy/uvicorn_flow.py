"""The flow of bytes through a uvicorn-engine connection (:mod:`s3proxy.uvicorn_protocol`), both
ways: a request body handed to its request as it is read (a Content-Length body past the
parser, reading paused above uvicorn's high-water mark), and an answer the client stops reading
(the send timeout). Kept apart from the protocol's request-head checks, refusals and
pipelining: these methods only move bytes and bound how long they may wait, and
:class:`~s3proxy.uvicorn_protocol.S3Protocol` sets up their state with the rest."""

from __future__ import annotations

import asyncio
import contextlib

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT

from s3proxy.stalled_answers import STALLS, Waiter, reset
from s3proxy.uvicorn_cycle import S3Cycle
from s3proxy.uvicorn_pipeline import PipelinedProtocol


class FlowProtocol(PipelinedProtocol):
    """The part of :class:`s3proxy.uvicorn_protocol.S3Protocol` that moves body bytes in and
    answer bytes out (its state is set up there, with the rest)."""

    send_timeout: float | None = None
    """Seconds a response write may wait for the client to read (server.body_idle_timeout):
    see :meth:`pause_writing`. Set with ``counts`` by
    :func:`~s3proxy.uvicorn_protocol.protocol_for`."""

    stalled: asyncio.TimerHandle | None
    """The send timer (:meth:`pause_writing`)."""
    paused_at: float | None
    """The loop's time writing last paused, if it is."""
    waiter: Waiter | None = None
    """The answer as :data:`~s3proxy.stalled_answers.STALLS` sees it (its first wait makes it)."""
    body_left: int
    """Content-Length body bytes still to come that bypass the parser (:meth:`body_received`);
    -1 while the parser reads, -2 for a body it must frame."""
    body_seen: int
    """Of the current request's body."""
    chunk_progress: bool
    """Chunk data or a chunk header parsed in this read."""
    in_trailers: bool
    """The last (empty) chunk's line was read: trailers follow."""

    def pause_writing(self) -> None:
        """The client stopped reading: the answer waits in the transport's buffer (above its
        high-water mark) and the request that writes it waits with it, holding its tenant's
        slot and its upstream connection; nothing else would ever end it (a client that keeps
        its receive window at zero is alive to TCP). If the client reads nothing that brings
        the buffer back below its low-water mark for :attr:`send_timeout` seconds, the
        connection is aborted (:meth:`send_stalled`), as S3 drops a socket "not read from or
        written to within the timeout period"; the request's next ``send`` then raises
        ClientGone, which releases both. Time the proxy spends waiting on its upstream never
        counts: nothing is being written then. A pause only notes its time: the timer is armed
        once per timeout at most (a timer set and cancelled at every pause cost ~6 us, and a
        download to a client slower than the proxy pauses at every write)."""
        super().pause_writing()
        if self.send_timeout is not None:
            now = self.paused_at = self.loop.time()
            if self.stalled is None:
                self.stalled = self.loop.call_later(self.send_timeout, self.send_stalled)
            waiter = self.waiter  # and bounded per worker with the others (stalled_answers)
            if waiter is None:
                waiter = self.waiter = Waiter(self.client, self.transport)
            waiter.since = now
            if not waiter.noted:
                STALLS.note(waiter)

    def resume_writing(self) -> None:
        self.paused_at = None
        if self.waiter is not None:
            self.waiter.since = None
        super().resume_writing()

    def send_stalled(self) -> None:
        """The send timer: abort if writing has been paused for the whole timeout, else wait
        for the rest of it from the latest pause (or for nothing, if writing goes on)."""
        self.stalled = None
        paused_at = self.paused_at
        if paused_at is None or self.send_timeout is None:
            return
        left = paused_at + self.send_timeout - self.loop.time()
        if left > 0:
            self.stalled = self.loop.call_later(left, self.send_stalled)
        else:
            reset(self.transport)  # the buffered answer cannot go: a reset, not a FIN after it

    def body_to_come(self) -> int:
        """Once per request whose body goes on past a read: the Content-Length bytes still to
        come, which :meth:`body_received` takes without the parser; -2 for a chunked body."""
        for name, value in self.headers:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    return int(value) - self.body_seen
        return -2

    def body_received(self, data: bytes) -> None:
        """A read inside a Content-Length body: handed on as it came, without passing through
        llhttp (which would copy it into a new bytes object, one more copy of every uploaded
        byte: issue 18). The read that ends the body ends the request, and a fresh parser
        takes what follows (a pipelined request): the old one still counts body bytes."""
        left = self.body_left
        if len(data) < left:
            self.body_left = left - len(data)
            self.on_body(data)
            return
        self.body_left = -1
        rest = b""
        if len(data) > left:
            data, rest = data[:left], data[left:]
        self.on_body(data)
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.on_message_complete()
        if rest:
            self.data_received(rest)

    def on_chunk_header(self) -> None:
        self.chunk_progress = True
        self.in_trailers = True  # until data comes: only the last chunk has none

    def on_body(self, body: bytes) -> None:
        self.chunk_progress = True
        self.in_trailers = False
        self.body_seen += len(body)
        cycle = self.cycle
        if cycle.response_complete:
            return
        assert isinstance(cycle, S3Cycle)
        cycle.chunks.append(body)
        cycle.pending += len(body)
        if cycle.pending > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()
