"""Which S3 server an upstream is, where its quirks need the proxy to know.

Most servers name themselves in ``Server`` (``AmazonS3``, ``MinIO``, ``SeaweedFS 4.48``); Ceph
RGW 16 sends no ``Server`` header, but its request ids have a form of their own:
``tx`` + hex, then its time, instance and zone group
(``tx00000eb7fe79f068314a8-006b134ff7-1005-default``). What depends on knowing it: its
ListMultipartUploads order (:mod:`~s3proxy.backends.upload_markers`) and its If-Match on
PutObject, which it compares with the bare ETag (:func:`if_match_for`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

RGW_REQUEST_ID = re.compile(r"tx[0-9a-f]{9,}-[0-9a-f]{8,}-[0-9a-f]+-\S+")


def is_ceph_rgw(server: str, request_id: str) -> bool:
    """Whether an answer with this ``Server`` header and ``x-amz-request-id`` is Ceph RGW's."""
    return not server.strip() and RGW_REQUEST_ID.fullmatch(request_id.strip()) is not None


def answered_by_rgw(headers: Mapping[str, str]) -> bool:
    return is_ceph_rgw(headers.get("Server", ""), headers.get("x-amz-request-id", ""))


def if_match_for(value: str, ceph_rgw: bool | None) -> str:
    """A PutObject's ``If-Match`` as the upstream compares it. Ceph RGW 16 compares the header
    with its stored ETag, which it keeps without quotes: ``"<etag>"`` never matched, so every
    conditional PUT was 412 (measured: the bare ETag matches, a wrong one is 412, and a key
    with no object is 412). The one quoted ETag is sent bare there; anything else (``W/``,
    lists, ``*``) as the client sent it."""
    if not ceph_rgw:
        return value
    stripped = value.strip()
    inner = stripped[1:-1]
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"' and '"' not in inner:
        return inner
    return value
