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
size is bounded by the request head (16 KiB), never by a body, and the four computed fields
together by :data:`MAX_SHOWN`: a canonical request can be several times its request (15,000
``!`` in a query become ``%21``, then ``25 32 31`` in its ``…Bytes``), and an error twelve times
the size of a request anyone holding an access key id can send was an amplifier (wave 18 R3F).
Past the bound the fields that do not fit are left out, in S3's order; ``AWSAccessKeyId`` and
``SignatureProvided`` (each at most the head) always stay.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from s3proxy.errors import S3Error, S3ErrorCode

MAX_SHOWN = 16 * 1024
"""Bytes of ``StringToSign``, ``StringToSignBytes``, ``CanonicalRequest`` and
``CanonicalRequestBytes`` together, as written in the error document."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot carry even as references: shown as U+FFFD, so the document stays
one every parser (botocore's included) reads, and the error's code reaches the client."""


def _text(data: bytes) -> str:
    """Bytes as text to show: UTF-8, anything else U+FFFD (the exact bytes are in ``…Bytes``)."""
    return _NOT_XML.sub("\ufffd", data.decode("utf-8", "replace"))


MAX_KEY_SHOWN = 128
"""Characters of a client's access key id an error echoes: AWS's are 16 to 128 long, and a
longer one echoed whole (escaped up to 5x) made a head of 16 KiB draw an error of ~80 KB from
anyone, no valid key needed."""


def _shown(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def key_error(access_key: str) -> S3Error:
    """S3's InvalidAccessKeyId naming the key sent, as far as :data:`MAX_KEY_SHOWN` shows it."""
    return S3Error(S3ErrorCode.InvalidAccessKeyId, AWSAccessKeyId=access_key[:MAX_KEY_SHOWN])


def _written_size(value: str) -> int:
    """Bytes ``value`` (shown: no control character but CR, LF, tab) takes in the error
    document: escaped as :func:`s3proxy.xmlcodec.xml_text` writes it, CR as ``&#13;``."""
    return len(escape(value).encode()) + 4 * value.count("\r")


def signature_mismatch(
    access_key: str,
    string_to_sign: bytes,
    provided: str,
    canonical_request: bytes | None = None,
) -> S3Error:
    """403 SignatureDoesNotMatch with S3's fields. ``string_to_sign``: the very bytes the
    HMAC was computed over; ``canonical_request``: the bytes whose SHA-256 is in it (SigV4;
    None for SigV2, which has none)."""
    computed = [("StringToSign", _text(string_to_sign))]
    computed.append(("StringToSignBytes", string_to_sign.hex(" ")))
    if canonical_request is not None:
        computed.append(("CanonicalRequest", _text(canonical_request)))
        computed.append(("CanonicalRequestBytes", canonical_request.hex(" ")))
    shown: dict[str, str] = {}
    room = MAX_SHOWN
    for name, value in computed:
        room -= _written_size(value)
        if room < 0:  # this one and the rest left out: never an answer many times its request
            break
        shown[name] = value
    error = S3Error(
        S3ErrorCode.SignatureDoesNotMatch, AWSAccessKeyId=_shown(access_key[:MAX_KEY_SHOWN])
    )
    if "StringToSign" in shown:
        error.fields["StringToSign"] = shown.pop("StringToSign")
    error.fields["SignatureProvided"] = _shown(provided)
    error.fields.update(shown)
    return error
