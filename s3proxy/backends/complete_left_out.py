"""A CompleteMultipartUpload that leaves stored parts out, where the upstream cannot do it.

S3 completes an upload from the parts the request lists and frees the others. Ceph RGW 16
refuses any Complete whose list does not name every stored part (400 InvalidPart, "One or more
of the specified parts could not be found"; measured: the last, a middle or the first part left
out, and parts 1 of 2). Passed on, that answer tells the client one of its parts is wrong when
each is right, and a client that trusts it re-uploads for nothing. The upstream keeps no way to
drop a part of an upload, so the gateway cannot complete it exactly: after such an InvalidPart
it lists the upload's parts and, when every part the request names is stored with its ETag,
answers 501 NotImplemented saying why (the upload is left as it was: the client may complete it
with every part, or abort it). Any other InvalidPart (a part missing, an ETag that differs) is
the upstream's own answer and passes as it is. Costs nothing unless the upstream said InvalidPart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartsPage

LEFT_OUT = (
    "This upstream cannot complete an upload leaving stored parts out: list every part, "
    "or upload the parts wanted into a new upload."
)
PAGE = 1000


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


async def only_left_out(
    requested: list[CompletedPart], list_page: Callable[[int, int], Awaitable[PartsPage]]
) -> bool:
    """Whether every requested part is stored under its number with its ETag and some stored
    part is not requested: the one reason such an InvalidPart can have. ``list_page`` is
    ListParts (part-number marker, 0 for the first page; page size)."""
    named = {part.part_number: _bare(part.etag) for part in requested}
    found: set[int] = set()
    extra = False
    marker = 0
    while True:
        page = await list_page(marker, PAGE)
        for part in page.parts:
            if named.get(part.part_number) == _bare(part.etag):
                found.add(part.part_number)
            elif part.part_number not in named:
                extra = True
        if page.next_marker is None or page.next_marker <= marker:
            break
        marker = page.next_marker
    return extra and len(found) == len(named)


async def refuse_left_out(
    error: S3Error,
    requested: list[CompletedPart],
    list_page: Callable[[int, int], Awaitable[PartsPage]],
) -> S3Error:
    """The error to answer for an upstream's failed Complete: 501 NotImplemented for an
    InvalidPart that only means "parts left out" (the module's docstring), else ``error``."""
    if error.code is not S3ErrorCode.InvalidPart:
        return error
    try:
        left_out = await only_left_out(requested, list_page)
    except S3Error:
        return error  # the upload could not be listed: the upstream's answer stands
    return S3Error(S3ErrorCode.NotImplemented, LEFT_OUT) if left_out else error
