"""``?partNumber=1`` of an empty object on an S3 upstream, answered as S3 answers it.

S3 counts an object that was not uploaded in parts as one part, the whole of it, and an empty
object's part 1 is its 200 with no byte (:mod:`s3proxy.part_reads`; the local store and Ceph
RGW 16 answer so). SeaweedFS 4.48 answers 416 InvalidPartNumber there, so a client that reads
objects by parts (the AWS SDKs' multipart downloads ask for part 1 first) failed on every empty
object, directory markers included. On that answer alone the read is asked again without the
part number: an empty object that is not a multipart one is its own part 1; anything else keeps
the upstream's 416.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from s3proxy.errors import S3Error
from s3proxy.model import GetObjectOutput, ObjectInfo

Read = TypeVar("Read", bound=Callable[..., Awaitable[Any]])

NOT_SATISFIABLE = 416


def part_one_of_nothing(position: int) -> Callable[[Read], Read]:
    """Decorate a HEAD or GET whose ``part_number`` is argument ``position`` (``self`` is 0)
    or a keyword: a part 1 the upstream refuses 416 is the whole object's answer when that
    object is empty and plain."""

    def decorate(read: Read) -> Read:
        @functools.wraps(read)
        async def served(*args: Any, **kwargs: Any) -> Any:
            part = kwargs.get("part_number", args[position] if len(args) > position else None)
            try:
                return await read(*args, **kwargs)
            except S3Error as error:
                if part != 1 or error.status != NOT_SATISFIABLE:
                    raise
                whole = {name: value for name, value in kwargs.items() if name != "part_number"}
                answer = await read(*args[:position], **whole)
                info: ObjectInfo = answer.info if isinstance(answer, GetObjectOutput) else answer
                if info.size == 0 and "-" not in info.etag:
                    return answer
                if isinstance(answer, GetObjectOutput):
                    await answer.aclose()
                raise error from None

        return cast(Read, served)

    return decorate
