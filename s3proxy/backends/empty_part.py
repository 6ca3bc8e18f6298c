"""``?partNumber=1`` of an empty object on an S3 upstream, answered as S3 answers it.

S3 counts an object that was not uploaded in parts as one part, the whole of it, and an empty
object's part 1 is its 200 with no byte (:mod:`s3proxy.part_reads`; the local store and Ceph
RGW 16 answer so). SeaweedFS 4.48 answers 416 InvalidPartNumber there, so a client that reads
objects by parts (the AWS SDKs' multipart downloads ask for part 1 first) failed on every empty
object, directory markers included. On that answer alone the read is asked again without the
part number: an empty object that is not a multipart one is its own part 1; anything else keeps
the upstream's 416.

The S3 backend's HEAD and GET call :func:`whole_if_empty` on a 416 to a ``part_number`` of 1
only: every other read pays one comparison (a wrapper around every read cost a call each,
BENCHMARKS.md "Wave 16 G").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from s3proxy.errors import S3Error
from s3proxy.model import GetObjectOutput, ObjectInfo

Answer = TypeVar("Answer", GetObjectOutput, ObjectInfo)

NOT_SATISFIABLE = 416


async def whole_if_empty(status: Awaitable[None], whole: Callable[[], Awaitable[Answer]]) -> Answer:
    """After part 1's 416: ``status`` raises its error (the read's own status check of that
    answer), and ``whole()``, the same read without the part number, is the answer when that
    object is empty and plain; else the upstream's error stands, as for any other read."""
    try:
        await status
    except S3Error as error:
        if error.status != NOT_SATISFIABLE:
            raise
        answer = await whole()
        info: ObjectInfo = answer.info if isinstance(answer, GetObjectOutput) else answer
        if info.size == 0 and "-" not in info.etag:
            return answer
        if isinstance(answer, GetObjectOutput):
            await answer.aclose()
        raise error from None
    raise AssertionError("a 416 is an error")  # pragma: no cover - the status check raised
