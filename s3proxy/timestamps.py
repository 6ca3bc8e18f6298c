"""Times in XML answers as S3 writes them: ``2026-12-04T21:41:45.000Z``.

S3 writes every ISO 8601 time of a document (a listing's LastModified, ListBuckets'
CreationDate, ListMultipartUploads' Initiated, a copy's LastModified) in UTC with three
fractional digits that are always ``000``: its times have whole seconds, the same second its
HTTP ``Last-Modified`` names (listings taken from S3 show ``…:41.000Z`` on every key; minio-go
truncates its listings to match, aws-cli issue 5369 is the Ceph case). Upstreams differ:
SeaweedFS lists whole seconds (``…:45Z``) and answers a copy with Go's trimmed nanoseconds
(``…:45.73Z``); Ceph RGW and MinIO list milliseconds (``…:45.584Z``) while their HEAD says
``…:45``; others may write an offset instead of ``Z``. A client must not see an upstream's
own: ``aws s3 sync --exact-timestamps`` sets a downloaded file's mtime to the whole second and
compares it with the listing's time, so milliseconds there made it download every file again
on every run. The local store already writes S3's form, which the check below passes on
without parsing (a listing renders one per key: a string test, never a datetime per key).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:[.,](\d+))?([Zz]|[+-]\d\d:?\d\d)")


def s3_time(value: str) -> str:
    """``value`` in S3's ``YYYY-MM-DDTHH:MM:SS.000Z``: a fraction of a second is cut (S3's
    times, like its ``Last-Modified``, have whole seconds), an offset turned into UTC. A value
    that is no ISO 8601 time at all is returned as it came: the proxy cannot know the time it
    meant."""
    if len(value) == 24 and value[19] == "." and value[23] == "Z":
        if value[20:23] == "000" or not value[20:23].isdigit():  # S3's, or no time at all
            return value
        return value[:20] + "000Z"
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":  # SeaweedFS's listings
        return value[:19] + ".000Z"
    found = _ISO.fullmatch(value)
    if found is None:
        return value
    day, clock, _fraction, zone = found.groups()
    if zone in ("Z", "z"):
        return f"{day}T{clock}.000Z"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:  # a month 13, an hour 25: no time to convert
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"
