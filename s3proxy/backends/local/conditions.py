"""Dates and conditional requests as S3 evaluates them, for the local store. Pure.

GetObject/HeadObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
If-Match decides alone when present (a true If-Match with a false If-Unmodified-Since is 200),
likewise If-None-Match over If-Modified-Since (a false If-None-Match with a true
If-Modified-Since is 304). A failed If-Match/If-Unmodified-Since is 412, a failed
If-None-Match/If-Modified-Since 304; dates S3 cannot parse are ignored. Dates have whole-second
precision, like the HTTP-date the client compares against.

Conditional writes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html):
``If-None-Match: *`` fails with 412 when the key exists; ``If-Match`` fails with 412 on another
ETag and with 404 NoSuchKey when there is no object at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions, WriteConditions


def http_date(modified_ms: int) -> str:
    return formatdate(modified_ms // 1000, usegmt=True)


def iso_date(modified_ms: int) -> str:
    """ISO 8601 with milliseconds, as listings carry it (whole seconds, like Last-Modified)."""
    moment = datetime.fromtimestamp(modified_ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match value names ``etag`` (``*``, lists, quotes optional)."""
    wanted = etag.strip().strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        candidate = candidate.removeprefix("W/").strip('"')
        if candidate == wanted:
            return True
    return False


def _seconds(header: str | None) -> int | None:
    if header is None:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def check_read(conditions: ReadConditions, etag: str, modified_ms: int) -> None:
    """Raise PreconditionFailed or NotModified when the conditions say so."""
    modified = modified_ms // 1000
    if conditions.if_match is not None:
        if not etag_matches(conditions.if_match, etag):
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
    else:
        since = _seconds(conditions.if_unmodified_since)
        if since is not None and modified > since:
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Unmodified-Since")
    not_modified = False
    if conditions.if_none_match is not None:
        not_modified = etag_matches(conditions.if_none_match, etag)
    else:
        since = _seconds(conditions.if_modified_since)
        not_modified = since is not None and modified <= since
    if not_modified:
        headers = {"ETag": etag, "Last-Modified": http_date(modified_ms)}
        raise S3Error(S3ErrorCode.NotModified, headers=headers)


def check_write(conditions: WriteConditions, current_etag: str | None) -> None:
    """Raise when a conditional write must not happen over the current object (or none)."""
    none_match = conditions.if_none_match
    if (
        none_match is not None
        and current_etag is not None
        and etag_matches(none_match, current_etag)
    ):
        raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-None-Match")
    if conditions.if_match is not None:
        if current_etag is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        if not etag_matches(conditions.if_match, current_etag):
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
