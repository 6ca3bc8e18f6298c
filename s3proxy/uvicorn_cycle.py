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
            await super().send(message)
            return
        await super().send(message)
        self.transport.flush()  # a head with no body write after it (HEAD, an empty body)
        if self.disconnected and not self.response_complete:
            raise ClientGone("the client closed the connection")

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
