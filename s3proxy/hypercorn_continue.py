"""``100 Continue`` on the Hypercorn engine only when the application first reads the body, as
on uvicorn (uvicorn_cycle.S3Cycle.receive) and as S3 does.

Hypercorn sent ``100 Continue`` as soon as it had parsed a head with ``Expect: 100-continue``,
so a request the proxy refuses before reading its body (403 for a bad signature, 503 SlowDown
for a tenant over its slots or rates, a quota error) reached the client only after the client
had sent the whole body: for a 5 GiB part, 5 GiB sent for nothing, and for a client whose body
cannot be sent twice, no retry. Now Hypercorn never sends it by itself; the application's first
``receive`` sends it, if the client still waits for it and no answer has begun. A refusal is
then the client's first answer, with ``Connection: close`` (the app adds it), and the body is
never sent. Installed by :func:`s3proxy.hypercorn_patch.install`."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import hypercorn.asyncio.task_group
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream

_PATCHED = "_s3proxy_patched"
_MANUAL = "_s3proxy_manual_continue"
"""Set on a Hypercorn connection's h11 state: its ``100 Continue`` is sent by the application's
first read, never by Hypercorn's event loop."""
CONTINUE = "s3proxy.continue"
"""The ASGI scope's entry for a request whose client waits for ``100 Continue``: the coroutine
function that sends it, called (once) by the first ``receive``."""


async def _send_continue(protocol: Any) -> None:
    connection = protocol.connection
    if connection.client_is_waiting_for_100_continue and connection.our_state is h11.SEND_RESPONSE:
        headers = protocol.config.response_headers("h11")
        await H11Protocol._send_h11_event(
            protocol, h11.InformationalResponse(status_code=100, headers=headers)
        )


def continue_on_first_read() -> None:
    """Patch h11's ``they_are_waiting_for_100_continue`` (what Hypercorn's loop reads before
    sending it) to say no on Hypercorn's connections, Hypercorn's stream creation to hand the
    request the sender (:data:`CONTINUE`), and the task running the application to send it at
    the first ``receive``. Idempotent."""
    waiting: Any = vars(h11.Connection)["they_are_waiting_for_100_continue"]  # a property
    if getattr(waiting.fget, _PATCHED, False):
        return

    def they_are_waiting(self: h11.Connection) -> bool:
        return not getattr(self, _MANUAL, False) and bool(waiting.fget(self))

    create_stream: Callable[[Any, h11.Request], Awaitable[None]] = H11Protocol._create_stream

    async def stream_with_continue(self: Any, request: h11.Request) -> None:
        with contextlib.suppress(AttributeError):
            setattr(self.connection, _MANUAL, True)
        await create_stream(self, request)
        # The application's task exists but has not run: nothing above yields to the loop.
        stream = getattr(self, "stream", None)
        connection: Any = getattr(self, "connection", None)
        if isinstance(stream, HTTPStream) and connection.client_is_waiting_for_100_continue:
            protocol = self

            async def send_continue() -> None:
                await _send_continue(protocol)

            stream.scope[CONTINUE] = send_continue  # type: ignore[literal-required]

    handle: Callable[..., Awaitable[None]] = hypercorn.asyncio.task_group._handle

    async def handle_with_continue(
        app: Any, config: Any, scope: Any, receive: Callable[[], Awaitable[Any]], *rest: Any
    ) -> None:
        if scope.get(CONTINUE) is None:
            await handle(app, config, scope, receive, *rest)
            return

        async def first_receive() -> Any:
            send_continue = scope.pop(CONTINUE, None)
            if send_continue is not None:
                await send_continue()
            return await receive()

        await handle(app, config, scope, first_receive, *rest)

    for function in (they_are_waiting, stream_with_continue, handle_with_continue):
        setattr(function, _PATCHED, True)
    h11.Connection.they_are_waiting_for_100_continue = property(they_are_waiting)  # type: ignore[method-assign,assignment]
    H11Protocol._create_stream = stream_with_continue  # type: ignore[method-assign]
    hypercorn.asyncio.task_group._handle = handle_with_continue  # type: ignore[assignment]
