"""Conditional writes — PutObject, CompleteMultipartUpload, CopyObject's destination — as S3
takes them: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html

S3 takes ``If-Match`` with an ETag and ``If-None-Match`` only as ``*``. Another If-None-Match
value (an ETag) is 501 NotImplemented on AWS (measured in aws-sdk-ruby#3144). Passed on, such a
value was ignored by SeaweedFS 4.48 and the local store: the object was overwritten with a 200
although its ETag was the one named, so it is refused here, before any body byte is read.

``If-Match`` on a key with no object is 404 NoSuchKey on AWS (the page above; versitygw's
EvaluateObjectPutPreconditions answers so too); SeaweedFS 4.48 and Ceph RGW 16 answer 412, so
after a 412 to an If-Match write the key is looked up (:func:`checked_write`).

Both headers on one write are 501 on AWS (``Header`` ``If-Match,If-None-Match``, "Multiple
conditional request headers present in the request": LocalStack's AWS-checked PutObject,
CopyObject and CompleteMultipartUpload, versitygw#1727); the gateway answered 412 (If-None-Match
failing first) or wrote. An ``If-Match`` naming a list of ETags (``"a", "b"``) is not an ETag
"as a string", the only form S3 documents for writes: the local store and SeaweedFS 4.48 took
the list (200 when it named the object's ETag), Ceph RGW 16 took it as one ETag (412). S3's own
answer is not established, and Ceph's cannot be asked for a list, so it is refused the same way
on every lane (501 naming If-Match), never a write S3 might have refused or the reverse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import WriteConditions

NO_CONDITIONS = WriteConditions()


def _not_accepted(header: str, detail: str | None = None) -> S3Error:
    """S3's 501 for a conditional header (or pair) a write does not take."""
    detail = detail or f"We don't accept the provided value of {header} header for this API"
    return S3Error(S3ErrorCode.NotImplemented, Header=header, additionalMessage=detail)


def write_conditions(header: Callable[[str], str | None]) -> WriteConditions:
    """The request's If-Match / If-None-Match, for the backend to check atomically."""
    if_match, if_none_match = header("if-match"), header("if-none-match")
    if if_match is None and if_none_match is None:
        return NO_CONDITIONS
    if if_match is not None and if_none_match is not None:
        detail = "Multiple conditional request headers present in the request"
        raise _not_accepted("If-Match,If-None-Match", detail)
    if if_none_match is not None and if_none_match.strip() != "*":
        raise _not_accepted("If-None-Match")
    if if_match is not None and "," in if_match:  # no ETag holds a comma: a list of them
        raise _not_accepted("If-Match")
    return WriteConditions(if_match=if_match, if_none_match=if_none_match)


_T = TypeVar("_T")


async def checked_write(
    write: Awaitable[_T], conditions: WriteConditions, head: Callable[[], Awaitable[object]]
) -> _T:
    """``write``'s result; its PreconditionFailed under If-Match becomes NoSuchKey when
    ``head`` finds no object (nothing was written either way; only failures pay the HEAD)."""
    try:
        return await write
    except S3Error as error:
        if error.code is not S3ErrorCode.PreconditionFailed or conditions.if_match is None:
            raise
        try:
            await head()
        except S3Error as missing:
            if missing.code is S3ErrorCode.NoSuchKey:
                raise missing from None
        raise


def name_write_condition(error: S3Error, conditions: WriteConditions) -> None:
    """S3's 412 to a conditional write names the header in ``<Condition>``; the local store
    names it, SeaweedFS's and Ceph RGW's 412s do not (both headers never get here:
    :func:`write_conditions` refuses the pair)."""
    if (
        error.code is S3ErrorCode.PreconditionFailed
        and "Condition" not in error.fields
        and conditions != NO_CONDITIONS
    ):
        named = "If-None-Match" if conditions.if_none_match is not None else "If-Match"
        error.fields["Condition"] = named
