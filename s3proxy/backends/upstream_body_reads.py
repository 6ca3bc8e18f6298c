"""Reads of a large upstream body into reused buffers, handed on without a copy.

Split from :mod:`s3proxy.backends.upstream_http` (its module docstring says when a connection
reads this way): once a response head announces at least :data:`LARGE_BODY` bytes of body, the
connection's transport reads through :class:`BodyReads` into the unused tail of a
:data:`LARGE_READ` buffer from the event loop's :class:`ReadBuffers`, and each read goes on as a
memoryview of it. BENCHMARKS.md "Wave 10: large GET".

A loop's body buffers are bounded (:data:`MAX_LIVE`): a buffer stays allocated while any chunk
refers to it, and an answer whose client stopped reading keeps its chunks (waiting in the
response's queue, or in the client transport's unsent bytes) — each pinning a whole 1 MiB buffer,
2–4 per stalled answer. Without a bound, stalled downloads across tenants (each within its own
slots) could take a worker's memory and get the pod killed for every tenant. Past it a body is
read with the transport's plain reads (exact-size copies) and a smaller read-ahead
(:data:`SMALL_AHEAD`): such an answer holds ~0.25 MiB here, about 1 MiB of the worker's memory
with what its client's socket did not take. BENCHMARKS.md "Wave 16 F2".

The bound is shared fairly among owners (the ``CURRENT_TENANT`` whose pool the connection is:
a tenant, or ``(anonymous):owner`` for everyone's reads of that owner's public buckets, never the
owner itself): a buffer pinned by a stalled answer cannot be taken back, so one tenant's stalled
downloads took all 64 and every tenant's large GETs then went the plain way (+6 % CPU) until
they ended. An owner now takes a buffer only while it holds fewer than :meth:`ReadBuffers.share`:
the bound divided among the owners reading a large body and one more, so an owner alone holds
at most half and leaves the other half to whoever comes next. BENCHMARKS.md "Wave 17 A".
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3proxy.backends.upstream_http import Connection

LARGE_READ = 1024 * 1024
"""Size of a body read buffer: a read inside a large body takes up to this much."""
MIN_TAIL = 64 * 1024
"""A buffer whose unused tail is shorter than this is left to its chunks for a fresh one."""
LARGE_BODY = 256 * 1024
"""Body bytes still to come after a head from which the body is read into body buffers."""
KEEP_FREE = 4
"""Body buffers an event loop keeps for reuse (4 MiB at most, idle)."""
MAX_LIVE = 64
"""Body buffers an event loop may have allocated at once (64 MiB), in use, pinned or free."""
SMALL_AHEAD = 64 * 1024
"""Body bytes read ahead for the consumer of a body read without body buffers (module
docstring); a body read into them reads up to ``upstream_response.HIGH_WATER`` ahead."""


class BodyBuffer(bytearray):
    """A body buffer: counted in its loop's :class:`ReadBuffers` while it exists, and as held
    by the owner that took it last (in use, pinned by its chunks, or idle in the free list)."""

    __slots__ = ("owner", "tenant")

    def __init__(self, owner: ReadBuffers, tenant: str) -> None:
        super().__init__(LARGE_READ)
        self.owner = owner
        self.tenant = tenant
        owner.live += 1
        owner.held[tenant] = owner.held.get(tenant, 0) + 1

    def __del__(self) -> None:
        owner = self.owner
        owner.live -= 1
        owner.drop(self.tenant)


class ReadBuffers:
    """An event loop's body buffers (module docstring), handed on as memoryviews and kept for
    reuse up to :data:`KEEP_FREE`, at most :data:`MAX_LIVE` allocated at once, each owner's
    within its :meth:`share`.

    A body buffer is free when nothing but this list refers to it: every chunk handed on is a
    memoryview of it, which holds a reference to it until the last such view is dropped (by the
    consumer, or by the transport that sent it — uvloop keeps a view only of what it could
    not send at once). Until then it is not reused, so no byte handed on is ever overwritten."""

    __slots__ = ("free", "held", "live", "reading")

    def __init__(self) -> None:
        self.free: list[BodyBuffer] = []
        self.live = 0
        """Body buffers allocated and not yet freed (:class:`BodyBuffer`)."""
        self.held: dict[str, int] = {}
        """Owner → the live buffers it took last."""
        self.reading: dict[str, int] = {}
        """Owner → its large bodies being read (:meth:`begin` to :meth:`end`), in body buffers
        or not: the owners that want buffers."""

    def share(self, tenant: str) -> int:
        """Buffers ``tenant`` may hold (module docstring): :data:`MAX_LIVE` divided among the
        other owners reading a large body, ``tenant`` and one more to come."""
        reading = self.reading
        others = len(reading) - (tenant in reading)
        return MAX_LIVE // (others + 2)

    def take(self, tenant: str = "") -> BodyBuffer | None:
        """A free buffer, or a new one; None when :data:`MAX_LIVE` exist and none is free, or
        ``tenant`` holds its :meth:`share` (a free one it took last is still its own)."""
        index = self._free_index()
        if index >= 0:
            buffer = self.free[index]
            if buffer.tenant != tenant:
                if self.held.get(tenant, 0) >= self.share(tenant):
                    return None
                self.drop(buffer.tenant)
                buffer.tenant = tenant
                self.held[tenant] = self.held.get(tenant, 0) + 1
            return self.free.pop(index)
        if self.live >= MAX_LIVE or self.held.get(tenant, 0) >= self.share(tenant):
            return None
        return BodyBuffer(self, tenant)

    def can_take(self, tenant: str = "") -> bool:
        """Whether :meth:`take` would answer a buffer now (a body may begin in body buffers)."""
        if self.held.get(tenant, 0) < self.share(tenant):
            return self.live < MAX_LIVE or self._free_index() >= 0
        index = self._free_index()
        return index >= 0 and self.free[index].tenant == tenant

    def _free_index(self) -> int:
        """Where in :attr:`free` the first buffer nothing else refers to is; -1 if none."""
        free = self.free
        for index in range(len(free)):
            if sys.getrefcount(free[index]) == 2:  # the list's reference and the argument's
                return index
        return -1

    def give(self, buffer: BodyBuffer) -> None:
        if len(self.free) < KEEP_FREE:
            self.free.append(buffer)

    def drop(self, tenant: str) -> None:
        """One buffer fewer held by ``tenant``."""
        held = self.held
        count = held[tenant] - 1
        if count:
            held[tenant] = count
        else:
            del held[tenant]

    def begin(self, tenant: str) -> None:
        """A large body of ``tenant``'s begins to be read (in body buffers or not)."""
        self.reading[tenant] = self.reading.get(tenant, 0) + 1

    def end(self, tenant: str) -> None:
        """A large body :meth:`begin` counted ended, or failed."""
        reading = self.reading
        count = reading[tenant] - 1
        if count:
            reading[tenant] = count
        else:
            del reading[tenant]


_BUFFERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadBuffers] = (
    weakref.WeakKeyDictionary()
)


def read_buffers(loop: asyncio.AbstractEventLoop) -> ReadBuffers:
    """``loop``'s read buffers (they go with the loop)."""
    buffers = _BUFFERS.get(loop)
    if buffers is None:
        buffers = _BUFFERS[loop] = ReadBuffers()
    return buffers


class BodyReads(asyncio.BufferedProtocol):
    """A connection's protocol while it reads a large body (module docstring): reads go into
    its body buffers; everything else is the connection's."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.body_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.conn.body_read(nbytes)

    def data_received(self, data: bytes) -> None:  # a TLS layer may still hand over copies
        self.conn.data_received(data)

    def eof_received(self) -> bool:
        return self.conn.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.connection_lost(exc)

    def pause_writing(self) -> None:
        self.conn.pause_writing()

    def resume_writing(self) -> None:
        self.conn.resume_writing()
