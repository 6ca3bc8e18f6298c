"""Times in XML answers as S3 writes them: ``2026-12-04T21:41:45.000Z``.

S3 writes every ISO 8601 time of a document (a listing's LastModified, ListBuckets'
CreationDate, ListMultipartUploads' Initiated, a copy's LastModified) in UTC with exactly three
fractional digits, as the example answers of the S3 API reference show
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html). Upstreams differ:
SeaweedFS lists whole seconds (``…:45Z``) and answers a copy with Go's trimmed nanoseconds
(``…:45.73Z``); others may write an offset instead of ``Z``. A client comparing listings as
text, or parsing with a fixed format, must not see an upstream's own. Ceph RGW and the local
store already write S3's form, which the check below passes on without parsing (a listing
renders one per key: a string test, never a datetime per key).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:[.,](\d+))?([Zz]|[+-]\d\d:?\d\d)")


def s3_time(value: str) -> str:
    """``value`` in S3's ``YYYY-MM-DDTHH:MM:SS.mmmZ``: more fractional digits are cut (S3 keeps
    milliseconds), fewer filled with zeros, an offset turned into UTC. A value that is no ISO
    8601 time at all is returned as it came: the proxy cannot know the time it meant."""
    if len(value) == 24 and value[19] == "." and value[23] == "Z":
        return value
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":  # SeaweedFS's listings
        return value[:19] + ".000Z"
    found = _ISO.fullmatch(value)
    if found is None:
        return value
    day, clock, fraction, zone = found.groups()
    millis = ((fraction or "") + "000")[:3]
    if zone in ("Z", "z"):
        return f"{day}T{clock}.{millis}Z"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:  # a month 13, an hour 25: no time to convert
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis}Z"
