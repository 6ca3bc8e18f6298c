"""What one probe per upstream learns about it, kept for the life of the process.

Some S3 behaviour the gateway relies on cannot be told from an upstream's answers to ordinary
requests: whether it refuses a CompleteMultipartUpload whose condition fails
(:mod:`.complete_conditions`), whether it refuses a delete whose ``If-Match`` or ``<ETag>`` fails
(:mod:`.conditional_deletes`). Each is asked once per process and upstream, with a probe object
in the tenant's home (README "The upstream layout"), and the answer kept: concurrent first
requests wait for one probe rather than each sending their own. A tenant without a home on that
upstream has nowhere to probe, so the behaviour counts as not known (the request is refused).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from s3proxy.backends.base import Backend
from s3proxy.layout import UpstreamRoot

log = logging.getLogger("s3proxy.backends")

Probe = Callable[[Backend, str, str], Awaitable[bool]]
"""Asks ``backend`` in the home's bucket under its prefix; whether it behaves as S3 does."""


class ProbedOnce:
    """One learnt yes/no per backend; ``missing`` is logged (with the upstream's name) when a
    probe finds the behaviour absent."""

    def __init__(self, probe: Probe, missing: str) -> None:
        self._probe = probe
        self._missing = missing
        self._known: weakref.WeakKeyDictionary[Backend, bool] = weakref.WeakKeyDictionary()
        self._probing: weakref.WeakKeyDictionary[Backend, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def learnt(self, backend: Backend, upstream: str, home: UpstreamRoot | None) -> bool:
        """Whether ``backend`` (the upstream named ``upstream``) behaves as S3 does, probed in
        ``home`` the first time; False where ``home`` is not on that upstream."""
        known = self._known.get(backend)
        if known is not None:
            return known
        if home is None or home.upstream != upstream:
            return False
        async with self._probing.setdefault(backend, asyncio.Lock()):
            known = self._known.get(backend)
            if known is None:
                known = self._known[backend] = await self._probe(backend, home.bucket, home.prefix)
                if not known:
                    log.warning(self._missing, upstream)
        return known
