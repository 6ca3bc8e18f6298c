"""Verification of a request body against the hashes the client declared. Pure.

A literal ``x-amz-content-sha256`` and a ``Content-MD5`` are checked over the bytes as they
stream; :meth:`PayloadVerifier.verify` runs before the last bytes are released upstream, so a
mismatch leaves nothing stored (see :mod:`s3proxy.body`). An aws-chunked body is verified by
its chunk signatures (:mod:`s3proxy.auth.chunked`), for the operations that decode one only:
:func:`check_streaming_body` refuses it everywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from s3proxy.checksums import ChecksumVerifier
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.request import S3Request

CHUNKED_BODIES = frozenset({Operation.PutObject, Operation.UploadPart})
"""The operations whose body is decoded as aws-chunked (s3proxy.auth.chunked)."""


def check_streaming_body(request: S3Request, operation: Operation, payload_hash: str) -> None:
    """Refuse a body announced as aws-chunked (``x-amz-content-sha256: STREAMING-…``) to an
    operation that reads its body whole (DeleteObjects, Complete, tags, ACLs, CORS …).

    Under a STREAMING value the header signature covers no byte of the body: only the chunk
    signatures do, and only PutObject and UploadPart decode and verify them. Anywhere else the
    body would be acted on with nothing verified (a PutObjectTagging whose body no signature
    covered was applied), or its framing read as XML. S3 decodes such a body; no SDK sends one
    outside uploads, so it is 501, before any body byte is read. A request without a body
    (Content-Length 0 or none, no Transfer-Encoding) reads nothing and is not refused."""
    if not payload_hash.startswith("STREAMING-") or operation in CHUNKED_BODIES:
        return
    length = request.header("content-length")
    sized = length is not None and length.strip() not in ("", "0")
    if not sized and request.header("transfer-encoding") is None:
        return
    raise S3Error(
        S3ErrorCode.NotImplemented,
        f"An aws-chunked body ({payload_hash}) is read for PutObject and UploadPart only; "
        "sign this request's body with its SHA-256 or UNSIGNED-PAYLOAD.",
        Header="x-amz-content-sha256",
    )


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
