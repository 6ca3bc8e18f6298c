"""Which key encoding a layout root was written with, recorded upstream (README, "Upstream layout").

The encoding is part of the layout: keys written under one cannot be read under the other, so
it never changes in place. A root (a tenant's home, or an explicitly mapped bucket's root) whose
keys are ``flat`` holds a marker object ``R + ".s3proxy-layout"`` whose metadata
``key-encoding`` says so; no client key can collide with it (bucket names and ``flat`` names
never start with "."). Decided once per root and process:

- a marker: its encoding (and a configured ``layout.key_encoding`` that differs is refused);
- no marker, keys present: ``plain`` — a deployment from before encodings existed keeps
  working; a configured ``flat`` is refused, since changing the encoding is a new layout;
- no marker, nothing stored: a new layout, the configured encoding or the upstream's default
  (``flat`` on S3 upstreams, ``plain`` on the local store); ``flat`` writes its marker first,
  with ``If-None-Match: *`` so that replicas racing on one empty root agree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from s3proxy.backends.base import Backend
from s3proxy.backends.records import RACED, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import KeyEncoding, UpstreamRoot
from s3proxy.model import ObjectAttributes, ReadConditions, WriteConditions

log = logging.getLogger("s3proxy")

MARKER = ".s3proxy-layout"
METADATA = "key-encoding"
ENCODINGS: tuple[KeyEncoding, ...] = ("plain", "flat")


class LayoutConflict(Exception):
    """The configured key encoding is not the one a root's keys were written with."""


class KeyEncodings:
    """The key encoding of each layout root, as recorded upstream; cached for the process."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        configured: KeyEncoding | None = None,
        defaults: Mapping[str, KeyEncoding] | None = None,
    ) -> None:
        self._backends = backends
        self._configured = configured
        self._defaults = defaults or {}
        self._known: dict[UpstreamRoot, KeyEncoding | LayoutConflict] = {}
        self._locks: dict[UpstreamRoot, asyncio.Lock] = {}
        """One per root (roots are the configuration's homes and mappings: bounded): a root whose
        decision waits on a slow or unreachable upstream holds up no other tenant's root."""
        self._fixed: KeyEncoding | None = None

    @classmethod
    def fixed(cls, encoding: KeyEncoding) -> KeyEncodings:
        """Every root uses ``encoding``, no marker read: for a store made and used by one
        caller (tests, tools), never for a deployment."""
        encodings = cls({}, encoding)
        encodings._fixed = encoding
        return encodings

    def for_new(self, root: UpstreamRoot) -> KeyEncoding:
        """The encoding a new (empty) root gets."""
        return self._configured or self._defaults.get(root.upstream, "plain")

    def known(self, root: UpstreamRoot) -> KeyEncoding | None:
        found = self._fixed or self._known.get(root)
        return found if isinstance(found, str) else None

    async def of(self, root: UpstreamRoot, home: bool) -> KeyEncoding:
        """The encoding of ``root``'s keys; InternalError (logged once) on a conflict."""
        found = self._known.get(root)
        if found is None:
            async with self._locks.setdefault(root, asyncio.Lock()):
                found = self._known.get(root)
                if found is None:
                    try:
                        found = await self._decide(root, home)
                    except LayoutConflict as conflict:
                        log.error("%s", conflict)
                        found = conflict
                    self._known[root] = found
        if isinstance(found, LayoutConflict):
            raise S3Error(S3ErrorCode.InternalError)
        return found

    async def _decide(self, root: UpstreamRoot, home: bool) -> KeyEncoding:
        backend = self._backends[root.upstream]
        recorded = await self._recorded(backend, root)
        where = f"{root.upstream}:{root.bucket}/{root.prefix}"
        if recorded is None and await _holds_keys(backend, root, home):
            # A process recording ``flat`` writes the marker before any key, so keys seen now
            # are an old plain root's, or come after a marker written since the read above.
            recorded = await self._recorded(backend, root) or "plain"
        if recorded is not None:
            if self._configured is not None and self._configured != recorded:
                raise LayoutConflict(
                    f"layout.key_encoding is {self._configured!r}, but the keys under {where} "
                    f"are written with {recorded!r}. Changing the key encoding is a new layout, "
                    "not an in-place change: use a new, empty home prefix (or upstream bucket) "
                    f"for {self._configured!r}, or set layout.key_encoding: {recorded}."
                )
            return recorded
        encoding = self.for_new(root)
        if encoding == "flat" and not await self._record(backend, root):
            return await self._decide(root, home)  # another replica recorded one first
        log.info("new layout root %s: key encoding %s", where, encoding)
        return encoding

    async def _recorded(self, backend: Backend, root: UpstreamRoot) -> KeyEncoding | None:
        try:
            info = await backend.head_object(root.bucket, root.prefix + MARKER, ReadConditions())
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchKey:
                return None
            raise
        value = info.attributes.metadata.get(METADATA, "")
        for encoding in ENCODINGS:
            if value == encoding:
                return encoding
        raise LayoutConflict(
            f"{root.upstream}:{root.bucket}/{root.prefix}{MARKER} records key encoding "
            f"{value!r}, which this version does not know: upgrade s3proxy"
        )

    async def _record(self, backend: Backend, root: UpstreamRoot) -> bool:
        """Write the ``flat`` marker; False when one was there first."""
        try:
            await write_record(
                backend,
                root.bucket,
                root.prefix + MARKER,
                attributes=ObjectAttributes(metadata={METADATA: "flat"}),
                conditions=WriteConditions(if_none_match="*"),
            )
        except S3Error as error:
            if error.code in RACED:  # there, or being written (409)
                return False
            raise
        return True


async def _holds_keys(backend: Backend, root: UpstreamRoot, home: bool) -> bool:
    """Whether anything but s3proxy's own records (names starting with "." in a home: bucket
    records, the marker) is stored under the root, or an upload is in progress there."""
    delimiter = "/" if home else None
    page = await backend.list_objects(root.bucket, root.prefix, delimiter, None, 10)
    cut = len(root.prefix)
    names = [entry.key[cut:] for entry in page.entries] + [p[cut:] for p in page.prefixes]
    if any(not (home and name.startswith(".")) for name in names):
        return True
    if page.next_token is not None and home:
        return True  # more than a few records: do not guess
    return await backend.has_uploads(root.bucket, root.prefix)
