"""What the S3 upstream's mixins need from :class:`~s3proxy.backends.s3.S3Upstream`.

Split from :mod:`s3proxy.backends.s3_multipart` so that every module holding a part of
S3Upstream's methods (multipart, tagging, copy learning, upload answers) types its ``self``
against one protocol, without importing the multipart mixin to get it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.errors import S3Error
from s3proxy.model import ObjectInfo, ReadConditions

if TYPE_CHECKING:
    from s3proxy.config import UpstreamConfig


class _Transport(Protocol):
    """What the mixin needs from :class:`~s3proxy.backends.s3.S3Upstream`."""

    name: str
    _config: UpstreamConfig
    ceph_rgw: bool | None
    aws: bool

    async def _send(
        self,
        method: str,
        bucket: str,
        key: str | None,
        headers: dict[str, str],
        *,
        query: str = "",
        body: AsyncIterator[bytes] | bytes | None = None,
        payload_hash: str = UNSIGNED_PAYLOAD,
    ) -> UpstreamResponse: ...

    async def _raise_for_status(
        self, response: UpstreamResponse, body: bytes | None = None
    ) -> None: ...

    def translate(self, status: int, code_name: str, method: str, detail: str = "") -> S3Error: ...

    def _unavailable(self, method: str, exc: BaseException) -> S3Error: ...

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, checksum_mode: bool = False
    ) -> ObjectInfo: ...
