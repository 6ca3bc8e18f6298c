"""Folding the quota usage records of exited processes into the baseline (README, "Quotas").

Every process writes its own record under ``home.prefix + ".usage/"``
(:mod:`s3proxy.backends.usage_records`); processes come and go, so without folding the records
grow without bound and every re-read lists them all. Folding moves an exited process's figures
into the shared baseline and removes its record, with nothing lost or counted twice, while any
number of processes fold at once. It uses only S3's conditional PUT (``If-None-Match: *`` and
``If-Match``), and only where a probe shows the upstream honours both; elsewhere nothing is
folded (records are kept, as before folding existed).

A process is taken for gone when a reader has seen its record unchanged for
``server.quota_fold_after_seconds`` by its own clock (no clocks are compared across machines):
a live process rewrites its record at least every sixth of that (a heartbeat), even when it
wrote nothing. Being wrong about it costs nothing, because the steps below never race a live
writer silently:

1. **Close.** The folder rewrites the record with the same figures, marked closed, on the
   condition ``If-Match`` the ETag it read. A process writes its record on the same condition
   (its own last ETag), so of the two exactly one wins: if the owner wrote since, the close
   fails and nothing is folded; if the close won, the owner's next write fails and it learns it
   was folded (it then reads the closed figures, starts a record under a new name and keeps
   only what it counted beyond them). A closed record still counts like any other record.
2. **Fold.** The baseline gains, for each of its roots, what the closed record added after the
   baseline's offset for it, and lists the record's name as folded (readers skip folded
   records). The baseline is rewritten on ``If-Match`` its ETag, retried on a conflict, and a
   record already listed as folded is never added twice: two folders fold once.
3. **Remove.** A closed, folded record is deleted once it too has been seen unchanged for the
   same time (a paused owner that wakes in between reads what was folded from it), and its
   name then leaves the folded list (a deleted record cannot come back: its owner's writes are
   conditional on an ETag that no longer exists).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3proxy.backends.records import RACED, read_record, write_record
from s3proxy.backends.usage_figures import (
    BASELINE,
    Baseline,
    decode_baseline,
    decode_record,
    encode_baseline,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ObjectAttributes, WriteConditions
from s3proxy.quotas import Root, Usage

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend

    Baselines = dict[Root, Baseline]
    Change = Callable[[Baselines, frozenset[str]], tuple[Baselines, frozenset[str]] | None]

log = logging.getLogger("s3proxy.quotas")

PROBE = ".conditional-probe"
"""Under ``.usage/``: an empty object the probe writes (names starting with "." are no
process's record)."""
ATTEMPTS = 5
MAX_RECORD = 64 * 1024 * 1024
_JSON = ObjectAttributes({"content-type": "application/json"})
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'


@dataclass(slots=True)
class Place:
    """Where a tenant's records live, and which form of ``If-Match`` its upstream takes."""

    backend: Backend
    bucket: str
    prefix: str
    """``home.prefix + ".usage/"``."""
    bare_first: bool = False
    """SeaweedFS matches only the quoted ETag, Ceph RGW 16 only the bare one: the form that
    worked last is tried first."""
    unconditional: bool = False
    """The upstream refused a conditional PUT as not implemented: records are written as
    before folding existed (each by its own process only), and nothing is folded."""

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def listed(self) -> dict[str, str]:
        """Every name under ``.usage/``, with its ETag."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            page = await self.backend.list_objects(
                self.bucket, self.prefix, None, None, 1000, token
            )
            for entry in page.entries:
                found[entry.key[len(self.prefix) :]] = entry.etag
            token = page.next_token
            if token is None or not page.entries:
                return found

    async def get(self, name: str) -> tuple[bytes, str] | None:
        return await read_record(self.backend, self.bucket, self.key(name), MAX_RECORD)

    async def put_if(self, name: str, body: bytes, etag: str | None) -> str | None:
        """Write ``body`` only over the version ``etag`` (None: only where there is none). The
        new ETag; None when the condition did not hold. Each form of ``If-Match`` is an atomic
        check where it is understood and fails where it is not, so trying both never writes
        over another version."""
        if self.unconditional:
            forms = [WriteConditions()]
        elif etag is None:
            forms = [WriteConditions(if_none_match="*")]
        else:
            bare = etag.strip('"')
            quoted = [WriteConditions(if_match=f'"{bare}"'), WriteConditions(if_match=bare)]
            forms = quoted[::-1] if self.bare_first else quoted
        for conditions in forms:
            try:
                written = await write_record(
                    self.backend,
                    self.bucket,
                    self.key(name),
                    body,
                    attributes=_JSON,
                    conditions=conditions,
                )
            except S3Error as error:
                if error.code in RACED or error.code is S3ErrorCode.NoSuchKey:
                    continue
                if error.code is S3ErrorCode.NotImplemented and not self.unconditional:
                    log.warning("quota usage: upstream refuses conditional PUTs; nothing folded")
                    self.unconditional = True  # the probe then finds no conditions honoured
                    return await self.put_if(name, body, etag)
                raise
            if etag is not None:
                self.bare_first = conditions.if_match == etag.strip('"')
            if written.etag:
                return written.etag
            found = await self.get(name)  # an upstream that answers no ETag
            return found[1] if found is not None else None
        return None

    async def honours_conditions(self) -> bool:
        """Whether the upstream refuses a PUT whose condition fails, both forms (a probe of
        two or three small PUTs, once per process and tenant)."""
        await self.put_if(PROBE, b"", None)  # create it, or find it there
        if await self.put_if(PROBE, b"", None) is not None:
            return False
        return await self.put_if(PROBE, b"", _NO_SUCH_ETAG) is None


# -- the records' extra members ---------------------------------------------------------------


def closed(data: bytes) -> bool:
    """Whether a record was closed by a folder (its figures are final)."""
    try:
        loaded = json.loads(data)
    except ValueError:
        return False
    return isinstance(loaded, dict) and loaded.get("closed") is True


def decode_folded(data: bytes) -> frozenset[str]:
    """The names a baseline lists as folded (their records are skipped)."""
    try:
        loaded = json.loads(data)
    except ValueError:
        return frozenset()
    names = loaded.get("folded") if isinstance(loaded, dict) else None
    if not isinstance(names, list):
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str))


def folded_into(
    baselines: Mapping[Root, Baseline], name: str, figures: Mapping[Root, Usage]
) -> dict[Root, Baseline]:
    """The baselines once the final ``figures`` of record ``name`` are part of them: each root
    gains what the record added after its offset, and the offset goes."""
    result: dict[Root, Baseline] = {}
    for root, base in baselines.items():
        now, then = figures.get(root, Usage()), base.offsets.get(name, Usage())
        added = now - then
        offsets = {n: u for n, u in base.offsets.items() if n != name}
        result[root] = Baseline(base.usage + added, offsets)
    return result


def beyond(mine: Mapping[Root, Usage], folded: Mapping[Root, Usage]) -> dict[Root, Usage]:
    """What a process counted beyond the figures folded from its closed record."""
    result = {}
    for root, usage in mine.items():
        then = folded.get(root, Usage())
        result[root] = usage - then
    return result


async def fold_stale(
    place: Place, stale: Mapping[str, str], closed: set[str], folded: frozenset[str]
) -> None:
    """The three steps for records seen unchanged long enough (``stale``: name → the ETag
    seen): close and fold the open ones, fold the closed ones a folder left unfolded, remove
    the closed and folded ones."""
    removable = [n for n in stale if n in closed and n in folded]
    for name, seen in stale.items():
        if name in removable:
            continue
        if name not in closed:
            found = await place.get(name)
            if found is None or found[1].strip('"') != seen.strip('"'):
                continue  # gone, or its process wrote since: alive
            if not await close(place, name, found[1], found[0]):
                continue  # its process wrote since (or another folder closed it)
        await fold(place, name)
    await remove(place, removable)


# -- the three steps ------------------------------------------------------------------------


async def close(place: Place, name: str, etag: str, body: bytes) -> bool:
    """Step 1: mark the record closed, only if it is still the version ``etag`` (``body``)."""
    try:
        loaded = json.loads(body)
    except ValueError:
        loaded = {}
    if not isinstance(loaded, dict):
        loaded = {}
    loaded["closed"] = True
    data = json.dumps(loaded, separators=(",", ":")).encode()
    return await place.put_if(name, data, etag) is not None


async def rewrite_baseline(place: Place, change: Change) -> tuple[Baselines, frozenset[str], str]:
    """Read-modify-write of the baseline on ``If-Match`` its ETag, retried on a conflict.
    ``change(baselines, folded)`` returns the new (baselines, folded), or None to leave it.
    The version written (or found, when left): baselines, folded names, ETag."""
    for _ in range(ATTEMPTS):
        found = await place.get(BASELINE)
        data, etag = found if found is not None else (b"{}", None)
        baselines, folded = decode_baseline(data), decode_folded(data)
        wanted = change(baselines, folded)
        if wanted is None:
            return baselines, folded, etag or ""
        new_baselines, new_folded = wanted
        written = await place.put_if(BASELINE, encode_baseline(new_baselines, new_folded), etag)
        if written is not None:
            return new_baselines, new_folded, written
    raise S3Error(S3ErrorCode.SlowDown)  # the baseline kept changing under this process


async def fold(place: Place, name: str) -> bool:
    """Step 2 for a closed record: add its figures to the baseline once. False if the record
    is not closed (or gone)."""
    found = await place.get(name)
    if found is None or not closed(found[0]):
        return False
    figures = decode_record(found[0])

    def add(
        baselines: Baselines, folded: frozenset[str]
    ) -> tuple[Baselines, frozenset[str]] | None:
        if name in folded:
            return None
        return folded_into(baselines, name, figures), folded | {name}

    await rewrite_baseline(place, add)
    return True


async def remove(place: Place, names: list[str]) -> None:
    """Step 3: delete closed, folded records, then drop their names from the folded list."""
    if not names:
        return
    for name in names:
        await place.backend.delete_object(place.bucket, place.key(name))
    gone = frozenset(names)

    def prune(
        baselines: Baselines, folded: frozenset[str]
    ) -> tuple[Baselines, frozenset[str]] | None:
        return None if not folded & gone else (baselines, folded - gone)

    await rewrite_baseline(place, prune)
    log.info("quota usage: removed %d folded record(s)", len(names))
