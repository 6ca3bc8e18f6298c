"""aws-chunked edges wave 12 left (wave 13, D).

Another chunk after the final (empty) one is framing gone wrong: 400 IncompleteBody, as any data
past the end, not MalformedTrailerError; nothing is released. versitygw's suite, which runs
against S3, gives the vectors for the rest of what S3 answers about trailers (a malformed
trailing checksum is "Value for <name> trailing header is invalid."), and that
``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` without ``x-amz-trailer`` and without a trailer is
accepted: S3 stores it.
"""

from __future__ import annotations

import pytest

from s3proxy.auth.chunked import SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD_TRAILER
from s3proxy.errors import S3ErrorCode
from tests.unit.test_chunked import DATA, build, context, decode

CRC64 = "x-amz-checksum-crc64nvme"


@pytest.mark.parametrize("mode", [SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD_TRAILER])
def test_a_chunk_after_the_final_chunk_is_incomplete_body(mode: str) -> None:
    data = DATA[:20_000]
    wire, ctx = build(mode, data, chunk=8192)
    final = wire.rfind(b"0;chunk-signature=") if mode != UNSIGNED_PAYLOAD_TRAILER else None
    final = wire.rfind(b"\r\n0\r\n") + 2 if final is None else final
    end = wire.index(b"\r\n", final) + 2
    for extra in (b"5;chunk-signature=" + b"a" * 64 + b"\r\nhello\r\n", b"5\r\nhello\r\n"):
        outcome = decode(wire[:end] + extra + wire[end:], ctx)
        assert outcome.error is not None and outcome.error.code is S3ErrorCode.IncompleteBody
        assert outcome.trailers is None and len(outcome.data) < len(data)  # never the last block


# (body, x-amz-decoded-content-length, x-amz-trailer, S3's answer), from versitygw's suite
VERSITYGW_UNSIGNED_TRAILER = [
    (b"5\r\nhello\r\n0\r\n\r\n", 5, CRC64, "MalformedTrailerError"),
    (b"5\r\nhello\r\n0\r\n:M3eFcAZSQlc=\r\n\r\n", 5, CRC64, "MalformedTrailerError"),
    (
        b"5\r\nhello\r\n0\r\n" + CRC64.encode() + b":M3eFcAZSQlc=\r\n\r\n",
        5,
        None,
        "MalformedTrailerError",
    ),
    (b"5\r\nhello\r\n0\r\ninvalid_trailer:M3eFcAZSQlc=\r\n\r\n", 5, CRC64, "MalformedTrailerError"),
    (b"5\r\nhello\r\n0\r\n" + CRC64.encode() + b":QFRKMGE3tuw=\r\n\r\n", 5, CRC64, "BadDigest"),
    (b"5\r\nhello\r\n0\r\n" + CRC64.encode() + b":invalid\r\n\r\n", 5, CRC64, "InvalidRequest"),
    (b"B\r\nhello world\r\n0\r\n\r\n", 11, None, None),  # no x-amz-trailer, no trailer: stored
    (b"A\ndummy data\r\n0\r\n\r\n", 10, CRC64, "IncompleteBody"),
    (b"A\r\ndummy data0\r\n\r\n", 10, CRC64, "IncompleteBody"),
    (b"A\r\nXYZ\r\ndummy data\r\n0\r\n\r\n", 10, CRC64, "IncompleteBody"),
    (b"B\r\ndummy data\r\n0\r\n\r\n", 10, CRC64, "IncompleteBody"),
    (b"A\r\ndummy data\r\n0\r\n", 10, CRC64, "IncompleteBody"),
    (b"A\r\n", 10, CRC64, "IncompleteBody"),
    (b"A\r\nA\r\ndummy data\r\n0\r\n\r\n", 10, CRC64, "IncompleteBody"),
    (
        b"A\r\ndummy data\r\nJ\r\n" + CRC64.encode() + b":dPVWc2vU1+Q=\r\n\r\n",
        10,
        CRC64,
        "IncompleteBody",
    ),
    (b"5\r\nhello\r\n0\r\n5\r\nhello\r\n0\r\n\r\n", 5, None, "IncompleteBody"),  # wave 13 D
]


@pytest.mark.parametrize(("body", "length", "trailer", "code"), VERSITYGW_UNSIGNED_TRAILER)
def test_what_s3_answers_an_unsigned_trailer_body(
    body: bytes, length: int, trailer: str | None, code: str | None
) -> None:
    outcome = decode(body, context(UNSIGNED_PAYLOAD_TRAILER, length, trailer))
    assert (outcome.error.code.name if outcome.error else None) == code
    if code == "InvalidRequest":
        assert outcome.error is not None
        assert outcome.error.message == f"Value for {CRC64} trailing header is invalid."
    if code is None:
        assert outcome.data == body[3:14]
