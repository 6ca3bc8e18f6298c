"""One request's ASGI exchange on the uvicorn engine (:class:`S3Cycle`): uvicorn's request
cycle with body parts handed over without a copy, ``send`` after a disconnect raising, and S3's
InternalError document for an application that failed before answering. Split from
:mod:`s3proxy.uvicorn_protocol`, whose protocol feeds it and whose ``install`` makes uvicorn
create it."""

from __future__ import annotations

import contextlib
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from s3proxy.connection_writer import ConnectionWriter
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import ClientGone, error_response


class S3Cycle(RequestResponseCycle):
    """One request's ASGI exchange: ``send`` after a disconnect raises, and an application that
    failed before answering gets S3's InternalError document."""

    transport: ConnectionWriter  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunks: list[bytes] = []  # request body parts not yet received by the application
        self.pending = 0
        self.close_delimited = False  # see _close_delimited

    async def receive(self) -> Any:
        """uvicorn's ``receive``, with the body parts handed over as they are: one part (a
        socket read's worth) is passed on without a copy."""
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.pending = 0
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: Any) -> None:
        if self.disconnected:
            raise ClientGone("the client closed the connection")
        if message["type"] == "http.response.start":
            self.transport.hold()
            if self.scope["http_version"] == "1.0" and not any(
                name.lower() == b"content-length" for name, _ in message.get("headers", ())
            ):
                self._close_delimited()
            await super().send(message)
            return
        if self.close_delimited and not message.get("more_body", False):
            self.expected_content_length = len(message.get("body", b""))  # the last part
        await super().send(message)
        self.transport.flush()  # a head with no body write after it (HEAD, an empty body)
        if self.disconnected and not self.response_complete:
            raise ClientGone("the client closed the connection")

    def _close_delimited(self) -> None:
        """A response of unknown length to an HTTP/1.0 request (a listing streamed as it is
        built) ends with the connection, as on Hypercorn: uvicorn chunked it, and no response to
        an HTTP/1.0 request may carry Transfer-Encoding (RFC 9112 §6.1), its client reads the
        chunk lines as body bytes. uvicorn's length accounting is told the body has no bound
        until its last part; such a connection is never kept alive (HTTP/1.0)."""
        self.close_delimited = True
        self.chunked_encoding = False
        self.expected_content_length = 1 << 62
        self.keep_alive = False

    async def send_500_response(self) -> None:
        if self.disconnected or self.transport.is_closing():
            return
        error = S3Error(S3ErrorCode.InternalError)
        status, headers, body = error_response(error, logged=False)  # the app logged its line
        with contextlib.suppress(OSError):
            await super().send(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            await super().send({"type": "http.response.body", "body": body})
