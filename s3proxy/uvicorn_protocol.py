"""The uvicorn engine's HTTP/1.1 connection: uvicorn's httptools protocol with the proxy's
refusals, request-head checks, connection bounds and request-body path (what
:mod:`s3proxy.uvicorn_engine`'s docstring lists); its request cycle is
:mod:`s3proxy.uvicorn_cycle`. Split from that module, which starts the server with
:func:`protocol_for`'s class. The bytes' flow (request bodies, the send timeout) is its base
:class:`~s3proxy.uvicorn_flow.FlowProtocol`'s, pipelining :mod:`s3proxy.uvicorn_pipeline`'s, and
the error answers written below the application :mod:`s3proxy.uvicorn_errors`'."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httptools
from uvicorn.protocols.http import httptools_impl

from s3proxy.connection_owners import ACTIVE, Held, UvicornConnection
from s3proxy.connection_writer import ConnectionWriter
from s3proxy.connections import ConnectionCounts, refusal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import (
    MAX_HEAD_BYTES,
    below_s3_error,
    head_too_large,
)
from s3proxy.strict_head import HTTP_VERSIONS, encoded_target, target_error, unknown_method
from s3proxy.uvicorn_cycle import S3Cycle
from s3proxy.uvicorn_errors import UNREADABLE, error_bytes, parser_error
from s3proxy.uvicorn_flow import FlowProtocol
from s3proxy.uvicorn_pipeline import (
    MAX_PIPELINED,
    MAX_STASH,
    ChunkedShadow,
    message_start,
)

MAX_CHUNK_FRAMING = MAX_HEAD_BYTES
"""Bytes of a chunked body's framing (a chunk line with its extensions, or a trailer section)
read with no chunk data between, at most, counted over socket reads: llhttp reads chunk
extensions of any length and hands none of them on, so a client could send an endless chunk
line and be read for as long as it liked. Past it the request is 400 InvalidRequest, as a chunk
line over 16 KiB is on the Hypercorn engine (strict_head.ChunkedReader); a read that carries
chunk data starts the count again, so at most one read (256 KiB) more is parsed."""


class _Refused(Exception):
    """Raised in a parser callback to stop llhttp; the protocol's ``refusal`` says why."""


class _Full(Exception):
    """Raised in a parser callback to stop llhttp at a request that does not fit in the
    connection's queue (s3proxy.uvicorn_pipeline)."""


class S3Protocol(FlowProtocol):
    """uvicorn's httptools protocol with the proxy's refusals and connection bounds. ``counts``
    is set on the subclass :func:`protocol_for` makes per server."""

    counts: ConnectionCounts | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal: S3Error | None = None
        self.refused = False
        self.deferred: S3Error | None = None  # a refusal waiting for an answer (refuse)
        self.head_bytes = 0  # of an unfinished head, counted over reads
        self.head_size = 0  # of the head being parsed: request target and headers
        self.in_head = True  # between requests or inside a head: what arrives is head bytes
        self.head_began = 0.0  # the loop's time the current head's first byte was parsed
        self.messages_done = 0
        self.admitted: Held | None = None
        self.body_left = -1
        """Content-Length body bytes still to come that bypass the parser (see
        :meth:`body_received`); -1 while the parser reads, -2 for a body it must frame."""
        self.body_seen = 0  # of the current request's body
        self.hosts = 0  # Host headers of the current request
        self.upgrade_body = 0  # of an Upgrade request: see upgraded()
        self.stalled: asyncio.TimerHandle | None = None  # see pause_writing()
        self.paused_at: float | None = None  # the loop's time writing last paused, if it is
        self.chunk_framing = 0  # see MAX_CHUNK_FRAMING
        self.chunk_progress = False  # chunk data or a chunk header parsed in this read
        self.in_trailers = False  # the last (empty) chunk's line was read: trailers follow
        self.in_message = False  # between a request's first byte and its end
        self.stash = b""  # read, not parsed: the queue was full (s3proxy.uvicorn_pipeline)
        self.partial = b""  # the unfinished head's bytes so far, kept while requests queue
        self.refeeding = False  # a parse of the stash is scheduled
        self.full = False  # _Full stopped the parser (data_received reads it, then clears it)
        self.eof_pending = False  # the client half-closed while bytes were stashed
        self.input_ended = False  # the client half-closed: nothing more can come to read
        self.shadow: ChunkedShadow | None = None  # the chunked body a read ended in, followed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = ConnectionWriter(transport, self)  # type: ignore[assignment]
        # The keep-alive timeout runs from the connection's start and from each response until
        # a request's head is complete, as Hypercorn's does: a connection that sends nothing,
        # or never finishes a head, is closed after it too (uvicorn times only idle responses).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        if self.counts is None:
            return
        client, port = self.client if self.client else ("", 0)
        self.admitted = self.counts.admit_held(client, (client, port), UvicornConnection(self))
        if self.admitted is None:
            transport.write(refusal())
            transport.close()

    def expects_more_input(self) -> bool:
        """Whether the client may still be sending: a request body not read to its end, or
        the rest of a request refused while it arrived. Never after the client's half-close:
        its input was read to the end, so a close cannot reset the answer, and a lingering
        close would hold the connection (and its slot) for nothing."""
        if self.input_ended:
            return False
        if self.refused:
            return True
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.disconnected

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None:  # no longer waits: let go at the next look (stalled_answers)
            self.waiter.since = None
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None
        if self.admitted is not None and self.counts is not None:
            self.counts.release_held(self.admitted)
            self.admitted = None
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio allows True
        """The client ended its input (a half-close). Inside a request body (shorter than its
        Content-Length, or before the last chunk) the request is refused and nothing stored,
        as on Hypercorn; uvicorn closed without an answer. After a request read whole and not
        answered yet, the answer is sent, then the connection closes (uvicorn closed at once).
        Otherwise the transport closes now."""
        self.input_ended = True
        if self.stash:  # requests still to parse and answer: the end comes after them
            self.eof_pending = True
            return True
        if self.deferred is not None:  # answers still to send before the refusal and the close
            return True
        cycle = self.cycle
        if cycle is None or cycle.disconnected or cycle.response_complete or self.refused:
            return None
        if not self.in_head and cycle.more_body:
            self.refuse(S3Error(S3ErrorCode.InvalidRequest, UNREADABLE))
            return None
        cycle.keep_alive = False  # the last request read: the connection closes after it
        return True

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing() or self.deferred is not None:
            return  # lingering after the last answer, or refused already: dropped unread
        if self.stash:  # the queue is full: after what is kept already
            self.stash += data
            self.flow.pause_reading()
            if len(self.stash) > MAX_STASH:
                self.refuse(S3Error(S3ErrorCode.SlowDown, "Too many pipelined requests."))
            return
        if self.body_left > 0:
            self.body_received(data)
            return
        done = self.messages_done
        prefix, self.partial = self.partial, b""
        between = not self.in_message  # data begins with a request (its method, if refused)
        at_start = between or bool(prefix)  # prefix + data begins with a request
        # else it begins inside a chunked body: where that request ends in it is known to its
        # shadow, if it has one (s3proxy.uvicorn_pipeline.ChunkedShadow)
        follow, self.shadow = (None, None) if at_start else (self.shadow, None)
        known = at_start or follow is not None
        upgrade_at = -1
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            upgrade_at = upgrade.args[0]
        except httptools.HttpParserError as exc:
            raw_target = isinstance(exc, httptools.HttpParserInvalidURLError) and known
            if raw_target and self.reread_raw_target(
                prefix + data, self.messages_done - done, follow
            ):
                return
            full, self.full = self.full, False  # not exc.__context__: a raw target's re-read
            if full:  # runs inside this clause, and its error's context became this one (400)
                whole = prefix + data
                ended = self.messages_done - done
                offset = message_start(whole, ended, follow) if known else None
                if offset is not None:
                    self.hold_back(whole[offset:])
                    return
                self.refusal = S3Error(S3ErrorCode.SlowDown, "Too many pipelined requests.")
            error = self.refusal or parser_error(str(exc))
            if self.refusal is None and known:
                error = (
                    self.method_refused(prefix + data, self.messages_done - done, follow) or error
                )
            self.refuse(error)
            return
        if upgrade_at >= 0:  # not inside the handler, where a later _Full would not be the
            # __context__ of httptools' error: a full queue after it was a 400, not held back
            self.upgraded(data[upgrade_at:])
            return
        if self.in_message and self.in_head and known:
            ended = self.messages_done - done
            if ended == 0 or self.answering():  # a head begun, or a request pipelined
                self.keep_partial(prefix + data, ended, follow)
        if self.in_head and not self.transport.is_closing():
            # An unfinished head: every byte of this read belongs to it, unless a request
            # ended in this read (then part of it was that request's body, and counting starts
            # with the next read: at most one read, 256 KiB, past the limit is parsed).
            self.head_bytes = self.head_bytes + len(data) if self.messages_done == done else 0
            if self.head_bytes > MAX_HEAD_BYTES:
                self.refuse(head_too_large())
        elif self.body_left == -1 and not self.in_head and not self.transport.is_closing():
            self.body_left = self.body_to_come()
        elif self.body_left == -2 and not self.in_head and not self.transport.is_closing():
            framing = 0 if self.chunk_progress else self.chunk_framing + len(data)
            self.chunk_framing = framing
            self.chunk_progress = False
            if framing > MAX_CHUNK_FRAMING:  # trailers: as their size is answered anyway
                too_long = head_too_large() if self.in_trailers else None
                self.refuse(too_long or S3Error(S3ErrorCode.InvalidRequest, UNREADABLE))
        if known and self.body_left == -2 and not self.in_head and not self.transport.is_closing():
            self.follow_chunked(prefix + data, self.messages_done - done, follow)

    def method_refused(
        self, whole: bytes, ended: int, follow: ChunkedShadow | None
    ) -> S3Error | None:
        """405 MethodNotAllowed when the request llhttp refused begins with an upper-case token
        it does not know and a space (strict_head.unknown_method), as the Hypercorn engine
        answers it. ``whole`` and ``ended`` as for :meth:`keep_partial`. Its first word is found
        from the request's start (empty lines skipped), wherever it is in the read: before, only
        a request that began the read was read so, and one after a pipelined request, or begun
        in an earlier read, was 400; a read beginning inside a chunked body took the body's
        first word for a method (405)."""
        offset = message_start(whole, ended, follow)
        if offset is None:
            return None
        method, space, _ = whole[offset:].lstrip(b"\r\n").partition(b" ")
        return S3Error(S3ErrorCode.MethodNotAllowed) if space and unknown_method(method) else None

    def reread_raw_target(self, whole: bytes, ended: int, follow: ChunkedShadow | None) -> bool:
        """A request line whose target holds raw bytes of 0x80 or more (UTF-8 sent unencoded),
        which llhttp refuses: parsed again from that request's start with those bytes
        percent-encoded (strict_head.encoded_target), as S3 reads it and as h11 reads it on the
        Hypercorn engine. ``whole`` and ``ended`` as for :meth:`keep_partial`; False (the
        request is refused as before) when its start cannot be found or its line holds no such
        byte (another character llhttp refuses)."""
        offset = message_start(whole, ended, follow)
        if offset is None:
            return False
        rest = whole[offset:]
        start = len(rest) - len(rest.lstrip(b"\r\n"))
        end = rest.find(b"\n", start)
        line = rest[start:] if end < 0 else rest[start:end]
        if line.isascii():
            return False
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.in_message = False
        self.in_head = True
        self.head_bytes = 0
        self.shadow = None
        self.data_received(encoded_target(line) + rest[start + len(line) :])
        return True

    def upgraded(self, rest: bytes) -> None:
        """No upgrade is served (RFC 9110 §7.8 lets a server ignore Upgrade): a request with
        ``Connection: upgrade`` and an ``Upgrade`` header goes on as plain HTTP/1.1. llhttp
        ends such a request at its head and then reads on as if a new request began there: its
        body was read as requests of its own (a request smuggled past any front end that framed
        it by its Content-Length) and the application saw an empty body. That body is read here
        as any other (:meth:`body_received`); a chunked one, which llhttp cannot be asked to
        decode then, is refused (501) and the connection closed. ``rest``: what followed the
        head in this read."""
        length, self.upgrade_body = self.upgrade_body, 0
        if length < 0:
            self.refuse(S3Error(S3ErrorCode.NotImplemented, Header="Upgrade"))
        elif length > 0:
            self.body_left = length
            if rest:
                self.body_received(rest)
        elif rest:
            self.data_received(rest)

    def declared_body(self) -> int:
        """The body an Upgrade request declares: its Content-Length, -1 if chunked, else 0."""
        length = 0
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return -1
            if name == b"content-length":
                length = int(value)  # llhttp read it as a number
        return length

    def refuse(self, error: S3Error) -> None:
        """Answer ``error`` and close, unless a response is under way (it cannot be cut in
        two): then only close."""
        if self.transport.is_closing() or self.deferred is not None:
            return
        self.refused = True
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            # The request was read whole and is still being answered: what is refused came
            # after it (a pipelined head, or bytes past its Content-Length). Its answer first.
            self.deferred = error
            return
        if cycle is not None and any(queued is cycle for queued, _ in self.pipeline):
            # Refused inside the body of a request queued behind others: it never runs, and
            # its answer comes after theirs (before, it came first and the connection closed,
            # so the client took it for the first one's answer and the others had none).
            self.pipeline.remove(next(item for item in self.pipeline if item[0] is cycle))
            cycle.response_complete = True
            self.deferred = error
            return
        if cycle is None or cycle.response_complete:
            self.transport.write(error_bytes(error))
        elif not cycle.response_started:
            # Inside the body of the request the application is handling: it will find the
            # client gone and log the request's one line, with this answer (error_response).
            self.transport.write(error_bytes(error, cycle.scope))
        self.transport.close()

    def on_response_complete(self) -> None:
        deferred = self.deferred
        waiting = self.pipeline or not (self.cycle is None or self.cycle.response_complete)
        if deferred is not None and not waiting:
            self.deferred = None
            if not self.transport.is_closing():
                self.transport.write(error_bytes(deferred))
                self.transport.close()
        super().on_response_complete()
        if self.stash:  # uvicorn read on: not while bytes are kept
            self.flow.pause_reading()
            if not self.refeeding and len(self.pipeline) <= MAX_PIPELINED // 2:
                self.refeeding = True
                self.loop.call_soon(self.refeed)

    def send_400_response(self, msg: str) -> None:
        self.refuse(S3Error(S3ErrorCode.InvalidRequest, UNREADABLE))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_message = True
        self.body_left = -1
        self.body_seen = 0
        self.in_head = True
        self.head_began = self.loop.time()  # see connection_owners.UvicornConnection
        self.head_bytes = 0
        self.head_size = 0
        self.hosts = 0
        self.chunk_framing = 0
        self.chunk_progress = False
        self.in_trailers = False

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_size += len(url)
        if self.head_size > MAX_HEAD_BYTES:
            self.refusal = head_too_large()
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD_BYTES:
            self.refusal = head_too_large()
            raise _Refused
        if not self.in_head:  # a trailer field: llhttp reports it as a header, and uvicorn
            # appended it to the request's headers (the scope's list), which the application
            # read when the trailer came in the head's read: never merged (RFC 9110 §6.5.1)
            return
        if len(name) == 17 and name.lower() == b"transfer-encoding":
            # llhttp accepts codings before the final "chunked" and leaves them undecoded.
            coding = value.strip(b" \t").lower()
            if coding != b"chunked" or any(n == b"transfer-encoding" for n, _ in self.headers):
                self.refusal = below_s3_error(501)
                raise _Refused
        elif len(name) == 4 and name.lower() == b"host":
            self.hosts += 1
        elif len(value) > 20 and name.lower() == b"content-length" and len(value.strip()) > 20:
            # llhttp reads any number of leading zeros, h11 (Hypercorn) at most 20 characters
            # (2**64 has 20 digits): one answer on both engines, 400 before the body is read
            self.refusal = S3Error(S3ErrorCode.InvalidRequest, UNREADABLE)
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if len(self.pipeline) >= MAX_PIPELINED:  # kept unparsed for later (data_received)
            self.full = True
            raise _Full
        self.refusal = self.head_error()
        if self.refusal is not None:
            raise _Refused
        self.in_head = False
        self.head_size = 0  # from here on: trailers, 16 KiB on their own as on Hypercorn
        if self.expect_100_continue and self.parser.get_http_version() == "1.0":
            self.expect_100_continue = False  # no 1xx to HTTP/1.0 (RFC 9110 §15.2), as h11
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def head_error(self) -> S3Error | None:
        """What llhttp lets through and the Hypercorn engine refuses (RFC 9112 §3.2): an HTTP
        version other than 1.0 and 1.1, an HTTP/1.1 request without a Host or any request with
        two, a target that is not a path (strict_head.target_error)."""
        version = self.parser.get_http_version()
        hosts = self.hosts
        if hosts > 1 or (hosts == 0 and version == "1.1") or version.encode() not in HTTP_VERSIONS:
            return S3Error(S3ErrorCode.InvalidRequest, UNREADABLE)
        return target_error(self.url)

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade() and not self.upgrade_body:
            # llhttp ends an Upgrade request at its head: its body is still to be read
            self.upgrade_body = self.declared_body()
            if self.upgrade_body:
                return
        super().on_message_complete()
        self.in_message = False
        self.in_head = True
        self.head_bytes = 0
        self.messages_done += 1


def install() -> None:
    """Requests on uvicorn's httptools protocol run as :class:`S3Cycle` (uvicorn creates the
    cycle by its module-level name). Idempotent."""
    httptools_impl.RequestResponseCycle = S3Cycle  # type: ignore[misc]


def protocol_for(
    counts: ConnectionCounts | None, send_timeout: float | None = None
) -> type[S3Protocol]:
    """uvicorn builds the protocol itself from a class: the counts and the send timeout ride
    on a subclass."""
    if counts is not None:  # the S3 port's: connection_owners.used_by notes its owners
        ACTIVE[:] = [counts.owners]
    return type("BoundS3Protocol", (S3Protocol,), {"counts": counts, "send_timeout": send_timeout})
