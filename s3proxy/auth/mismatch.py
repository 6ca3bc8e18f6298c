"""S3's SignatureDoesNotMatch, telling the client what the gateway signed. Pure.

S3 answers a signature that does not verify with the strings it computed, so that a client
can compare them with its own: ``AWSAccessKeyId``, ``StringToSign``, ``SignatureProvided``,
``StringToSignBytes`` and, for SigV4, ``CanonicalRequest`` and ``CanonicalRequestBytes``, in
that order, each ``…Bytes`` the bytes as two-digit lower-case hex separated by spaces
(``41 57 53 34 …``). versitygw answers an aws-chunked chunk or trailer signature that does
not verify the same way: that chunk's string to sign and signature, with the seed request's
canonical request.

Nothing secret is in them: the strings are built from what the client sent (the canonical
request holds only headers the client listed as signed; one a proxy in front of the gateway
adds is shown only if the client listed it, as S3 would show it) and, for a chunk, the previous
signature, which already verified. Never the expected signature nor the signing key. Their
size is bounded by the request head (16 KiB), never by a body.
"""

from __future__ import annotations

import re

from s3proxy.errors import S3Error, S3ErrorCode

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot carry even as references: shown as U+FFFD, so the document stays
one every parser (botocore's included) reads, and the error's code reaches the client."""


def _text(data: bytes) -> str:
    """Bytes as text to show: UTF-8, anything else U+FFFD (the exact bytes are in ``…Bytes``)."""
    return _NOT_XML.sub("\ufffd", data.decode("utf-8", "replace"))


def _shown(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def signature_mismatch(
    access_key: str,
    string_to_sign: bytes,
    provided: str,
    canonical_request: bytes | None = None,
) -> S3Error:
    """403 SignatureDoesNotMatch with S3's fields. ``string_to_sign``: the very bytes the
    HMAC was computed over; ``canonical_request``: the bytes whose SHA-256 is in it (SigV4;
    None for SigV2, which has none)."""
    error = S3Error(
        S3ErrorCode.SignatureDoesNotMatch,
        AWSAccessKeyId=_shown(access_key),
        StringToSign=_text(string_to_sign),
        SignatureProvided=_shown(provided),
        StringToSignBytes=string_to_sign.hex(" "),
    )
    if canonical_request is not None:
        error.fields["CanonicalRequest"] = _text(canonical_request)
        error.fields["CanonicalRequestBytes"] = canonical_request.hex(" ")
    return error
