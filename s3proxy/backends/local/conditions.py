"""Dates and conditional requests as S3 evaluates them, for the local store. Pure.

GetObject/HeadObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
If-Match decides alone when present (a true If-Match with a false If-Unmodified-Since is 200),
likewise If-None-Match over If-Modified-Since (a false If-None-Match with a true
If-Modified-Since is 304). A failed If-Match/If-Unmodified-Since is 412, a failed
If-None-Match/If-Modified-Since 304; dates S3 cannot parse are ignored. Dates have whole-second
precision, like the HTTP-date the client compares against.

Conditional writes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html):
``If-None-Match: *`` fails with 412 when the key exists; ``If-Match`` fails with 412 on another
ETag and with 404 NoSuchKey when there is no object at all. If-Match compares strongly, on reads
and writes alike: a weak ``W/"…"`` tag never matches (412), as on S3, SeaweedFS and Ceph RGW.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate

from s3proxy.conditions import etag_matches, failed_condition
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions, WriteConditions


def http_date(modified_ms: int) -> str:
    return formatdate(modified_ms // 1000, usegmt=True)


def iso_date(modified_ms: int) -> str:
    """ISO 8601 with milliseconds, as listings carry it (whole seconds, like Last-Modified)."""
    moment = datetime.fromtimestamp(modified_ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check_read(conditions: ReadConditions, etag: str, modified_ms: int) -> None:
    """Raise PreconditionFailed or NotModified when the conditions say so (the rules are
    :func:`s3proxy.conditions.failed_condition`, shared with every backend)."""
    last_modified = http_date(modified_ms)
    failed = failed_condition(conditions, etag, last_modified)
    if failed is S3ErrorCode.NotModified:
        raise S3Error(failed, headers={"ETag": etag, "Last-Modified": last_modified})
    if failed is not None:
        raise S3Error(failed)


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
        if not etag_matches(conditions.if_match, current_etag, strong=True):
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
