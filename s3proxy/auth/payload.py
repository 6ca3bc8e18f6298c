"""Verification of a request body against the hashes the client declared. Pure.

A literal ``x-amz-content-sha256`` and a ``Content-MD5`` are checked over the bytes as they
stream; :meth:`PayloadVerifier.verify` runs before the last bytes are released upstream, so a
mismatch leaves nothing stored (see :mod:`s3proxy.body`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from s3proxy.checksums import ChecksumVerifier
from s3proxy.errors import S3Error, S3ErrorCode


def parse_content_md5(value: str | None) -> bytes | None:
    """The 16-byte digest of a Content-MD5 header; malformed → InvalidDigest."""
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error(S3ErrorCode.InvalidDigest) from None
    if len(digest) != 16:
        raise S3Error(S3ErrorCode.InvalidDigest)
    return digest


class PayloadVerifier:
    """Hashes a body as it passes and compares it with what the client declared."""

    __slots__ = ("_checksum", "_expected_md5", "_expected_sha256", "_md5", "_sha256")

    def __init__(
        self,
        sha256_hex: str | None = None,
        md5_digest: bytes | None = None,
        checksum: ChecksumVerifier | None = None,
    ) -> None:
        self._checksum = checksum
        self._expected_sha256 = bytes.fromhex(sha256_hex) if sha256_hex is not None else None
        self._expected_md5 = md5_digest
        self._sha256 = hashlib.sha256() if sha256_hex is not None else None
        self._md5 = hashlib.md5() if md5_digest is not None else None

    @property
    def active(self) -> bool:
        return self._sha256 is not None or self._md5 is not None or self._checksum is not None

    def update(self, chunk: bytes) -> None:
        if self._sha256 is not None:
            self._sha256.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        if self._checksum is not None:
            self._checksum.update(chunk)

    def verify(self) -> None:
        sha256, md5 = self._sha256, self._md5
        expected_sha256, expected_md5 = self._expected_sha256, self._expected_md5
        if sha256 and expected_sha256 and not hmac.compare_digest(sha256.digest(), expected_sha256):
            raise S3Error(S3ErrorCode.XAmzContentSHA256Mismatch)
        if md5 and expected_md5 and not hmac.compare_digest(md5.digest(), expected_md5):
            raise S3Error(S3ErrorCode.BadDigest)
        if self._checksum is not None:
            self._checksum.verify()
