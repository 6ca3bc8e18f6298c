"""Quota usage on S3 upstreams: what counts, an object's size, the records' format, their sum.

Parts of :mod:`s3proxy.backends.usage_records` (which re-exports them) that keep no state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from s3proxy.completion import latest_parts
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import CompletedPart, ListEntry, PartInfo, ReadConditions
from s3proxy.quotas import Root, Usage

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend

RECORDS = ".usage/"
BASELINE = "baseline"
NOT_COUNTED = (".buckets/", ".s3proxy-layout", RECORDS)
"""The gateway's own objects under a root (bucket markers, the key encoding marker, these
records): no quota counts them. Directly under a home, every name starting with "." is the
gateway's (client bucket names cannot start with one)."""


# -- pure parts ------------------------------------------------------------------------------


def counted(root: Root, key: str, home: bool) -> bool:
    """Whether an upstream key under ``root`` is a client object (not a gateway record)."""
    rest = key[len(root[2]) :]
    if home and rest.startswith("."):
        return False
    return not any(rest.startswith(name) for name in NOT_COUNTED)


def completed_size(requested: list[CompletedPart], stored: Iterable[PartInfo]) -> int:
    """The size of the object a CompleteMultipartUpload makes: its listed parts' sizes."""
    sizes = {(part.part_number, _bare(part.etag)): part.size for part in stored}
    return sum(sizes.get((part.part_number, _bare(part.etag)), 0) for part in requested)


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _root(item: Any) -> Root | None:
    root = item.get("root") if isinstance(item, dict) else None
    if isinstance(root, list) and len(root) == 3 and all(isinstance(p, str) for p in root):
        return (root[0], root[1], root[2])
    return None


def _pair(value: Any, parts: Any = 0) -> Usage:
    """A ``[objects, bytes]`` pair, and the bytes of parts among them (an additive member
    beside it, so that a release that knows only the pair reads the same totals)."""
    held = int(parts) if isinstance(parts, int) else 0
    if isinstance(value, list) and len(value) == 2:
        return Usage(int(value[0]), int(value[1]), held)
    return Usage()


def _parts_member(usage: Usage) -> dict[str, int]:
    return {"parts": usage.parts} if usage.parts else {}


def _items(data: bytes) -> list[Any]:
    """The ``roots`` list of a record; empty for anything unreadable (a record is advisory:
    a damaged one counts nothing rather than stopping every write)."""
    try:
        loaded = json.loads(data)
    except ValueError:
        return []
    items = loaded.get("roots") if isinstance(loaded, dict) else None
    return items if isinstance(items, list) else []


@dataclass(frozen=True, slots=True)
class Baseline:
    """One root's usage from a listing, and each record's figure for the root at that time."""

    usage: Usage
    offsets: Mapping[str, Usage]


def encode_baseline(baselines: Mapping[Root, Baseline], folded: Iterable[str] = ()) -> bytes:
    roots = []
    for root, base in sorted(baselines.items()):
        offsets = sorted(base.offsets.items())
        held = {name: usage.parts for name, usage in offsets if usage.parts}
        roots.append(
            {
                "root": list(root),
                "usage": [base.usage.objects, base.usage.bytes],
                **_parts_member(base.usage),
                "offsets": {name: [usage.objects, usage.bytes] for name, usage in offsets},
                **({"parts_offsets": held} if held else {}),
            }
        )
    names = sorted(folded)
    document = {"v": 1, "roots": roots, **({"folded": names} if names else {})}
    return json.dumps(document, separators=(",", ":")).encode()


def decode_baseline(data: bytes) -> dict[Root, Baseline]:
    found: dict[Root, Baseline] = {}
    for item in _items(data):
        root = _root(item)
        if root is None:
            continue
        raw = item.get("offsets")
        held = item.get("parts_offsets")
        held = held if isinstance(held, dict) else {}
        offsets = (
            {str(n): _pair(v, held.get(n, 0)) for n, v in raw.items()}
            if isinstance(raw, dict)
            else {}
        )
        found[root] = Baseline(_pair(item.get("usage"), item.get("parts", 0)), offsets)
    return found


def encode_record(figures: Mapping[Root, Usage], seq: int = 0) -> bytes:
    """``seq`` counts the process's writes, so that a heartbeat changes the ETag."""
    roots = [
        {"root": list(root), "usage": [usage.objects, usage.bytes], **_parts_member(usage)}
        for root, usage in sorted(figures.items())
    ]
    return json.dumps({"v": 1, "seq": seq, "roots": roots}, separators=(",", ":")).encode()


def decode_record(data: bytes) -> dict[Root, Usage]:
    found: dict[Root, Usage] = {}
    for item in _items(data):
        root = _root(item)
        if root is not None:
            found[root] = _pair(item.get("usage"), item.get("parts", 0))
    return found


def combine(root: Root, baseline: Baseline, records: Mapping[str, Mapping[Root, Usage]]) -> Usage:
    """A root's usage: the baseline, plus what each record added after it was taken."""
    total = baseline.usage
    for name, figures in records.items():
        now = figures.get(root, Usage())
        then = baseline.offsets.get(name, Usage())
        total += now - then
    return total


async def current_object(
    backend: Backend, location: UpstreamLocation
) -> tuple[int, str, bool] | None:
    """(size, ETag, whether a HEAD read them) of the object at ``location``, None if there is
    none: its HEAD, or where the upstream refuses one (an SSE-C object, whose key the request
    may not carry) its listing entry."""
    try:
        info = await backend.head_object(location.bucket, location.key, ReadConditions())
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            return None
        if error.status >= 500:
            raise
        entry = await listed_entry(backend, location)
        return (entry.size, entry.etag, False) if entry is not None else None
    return info.size, info.etag, True


async def head_size(backend: Backend, location: UpstreamLocation) -> int | None:
    """The size of the object at ``location``; None if there is none (:func:`current_object`:
    a HEAD, or the object's listing entry where the upstream refuses one)."""
    found = await current_object(backend, location)
    return found[0] if found is not None else None


async def listed_entry(backend: Backend, location: UpstreamLocation) -> ListEntry | None:
    """The listing entry of the object at ``location`` (None: there is none): the first key
    of a one-key listing from the key itself. For an object whose HEAD the upstream refuses
    (an SSE-C object, whose key the request may not carry)."""
    page = await backend.list_objects(location.bucket, location.key, None, None, 1)
    found = [entry for entry in page.entries if entry.key == location.key]
    return found[0] if found else None


def merge_new(
    taken: Mapping[Root, Baseline], stored: dict[Root, Baseline], folded: frozenset[str]
) -> tuple[dict[Root, Baseline], frozenset[str]] | None:
    """Baselines just taken, into the stored baseline as it is now (conditional: another process
    may have added roots or folded records since); a root already there is kept as it is. None:
    nothing to add."""
    new = {
        root: Baseline(base.usage, {n: u for n, u in base.offsets.items() if n not in folded})
        for root, base in taken.items()
        if root not in stored
    }
    return ({**stored, **new}, folded) if new else None


A = TypeVar("A")
R = TypeVar("R")


async def at_most(limit: int, call: Callable[[A], Awaitable[R]], items: Iterable[A]) -> list[R]:
    """``call`` for each item, at most ``limit`` at once, results in order. Only for reads
    (HEADs, listings): once one fails the others are cancelled, those still waiting for
    their turn too (:func:`~s3proxy.fanout.all_or_none`), rather than each going upstream for
    an answer nobody reads."""
    gate = asyncio.Semaphore(limit)

    async def one(item: A) -> R:
        async with gate:
            return await call(item)

    return await all_or_none(*map(one, items))


PAGE = 1000


async def count_root(backends: Mapping[str, Backend], home: UpstreamRoot, root: Root) -> Usage:
    """Objects and bytes under ``root`` by one listing (one request per 1,000 objects), and the
    parts of the uploads open there (:func:`count_uploads`); the gateway's own objects are not
    counted (:func:`counted`; ``home``: the tenant's home)."""
    backend = backends[root[0]]
    at_home = root == (home.upstream, home.bucket, home.prefix)
    total = Usage()
    token: str | None = None
    while True:
        page = await backend.list_objects(root[1], root[2], None, None, PAGE, token)
        for entry in page.entries:
            if counted(root, entry.key, at_home):
                total += Usage(1, entry.size)
        token = page.next_token
        if token is None or not page.entries:
            break
    return total + await count_uploads(backend, root, at_home)


PARTS_AT_ONCE = 16
"""ListParts requests in flight while a root's first count sizes its open uploads."""


async def count_uploads(backend: Backend, root: Root, at_home: bool) -> Usage:
    """The bytes the parts of the uploads open under ``root`` hold (a ListMultipartUploads per
    1,000 uploads, a ListParts per upload): quotas count parts from the moment they are
    stored, and a Complete or abort frees them. An upstream that cannot page through the
    uploads under one prefix (SeaweedFS past 10,000) leaves them uncounted (README "Quotas")."""
    total = 0
    marker: tuple[str, str] | None = None
    while True:
        try:
            page = await backend.list_multipart_uploads(
                root[1], root[2], None, marker[0] if marker else None,
                marker[1] if marker else None, PAGE,
            )  # fmt: skip
        except S3Error as error:
            if error.code is not S3ErrorCode.NotImplemented:
                raise
            break
        uploads = [
            (UpstreamLocation(root[0], root[1], upload.key), upload.upload_id)
            for upload in page.uploads
            if upload.key.startswith(root[2]) and counted(root, upload.key, at_home)
        ]
        sizes = await at_most(PARTS_AT_ONCE, lambda one: parts_held(backend, *one), uploads)
        total += sum(sizes)
        if page.next_marker is None or not page.uploads:
            break
        marker = page.next_marker
    return Usage(0, total, total)


async def parts_held(backend: Backend, location: UpstreamLocation, upload_id: str) -> int:
    """The bytes all the parts of an upload hold (each part number once, its latest upload),
    read with ListParts before an abort frees them; 0 for an upload that is gone."""
    total: dict[int, int] = {}
    marker = 0
    while True:
        try:
            listed = await backend.list_parts(
                location.bucket, location.key, upload_id, marker, 1000
            )
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchUpload:
                return 0
            raise
        page = latest_parts(listed)
        for part in page.parts:
            total[part.part_number] = part.size
        if page.next_marker is None or not page.parts:
            return sum(total.values())
        marker = page.next_marker
