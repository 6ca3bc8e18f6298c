"""The request body iterator: verified before its last bytes are released."""

import asyncio
import base64
import hashlib
from typing import Any

import pytest

from s3proxy.auth.payload import PayloadVerifier, parse_content_md5
from s3proxy.body import ClientDisconnected, verified_body
from s3proxy.errors import S3Error, S3ErrorCode


def receiver(chunks: list[bytes], disconnect: bool = False):
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1 or disconnect}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    it = iter(messages)

    async def receive() -> dict[str, Any]:
        return next(it)

    return receive


async def collect(
    chunks: list[bytes],
    length: int,
    verifier: PayloadVerifier,
    sink: list[bytes],
    disconnect: bool = False,
) -> None:
    async for block in verified_body(receiver(chunks, disconnect), length, verifier):
        sink.append(block)


def run(
    chunks: list[bytes], length: int, verifier: PayloadVerifier, disconnect: bool = False
) -> tuple[bytes, BaseException | None]:
    sink: list[bytes] = []
    try:
        asyncio.run(collect(chunks, length, verifier, sink, disconnect))
    except (S3Error, ClientDisconnected) as exc:
        return b"".join(sink), exc
    return b"".join(sink), None


DATA = [bytes([i]) * 100_000 for i in range(8)]
WHOLE = b"".join(DATA)


def test_good_body_streams_byte_exact() -> None:
    verifier = PayloadVerifier(hashlib.sha256(WHOLE).hexdigest(), hashlib.md5(WHOLE).digest())
    out, error = run(DATA, len(WHOLE), verifier)
    assert error is None
    assert out == WHOLE


def test_sha256_mismatch_is_raised_before_the_last_bytes() -> None:
    out, error = run(DATA, len(WHOLE), PayloadVerifier(hashlib.sha256(b"other").hexdigest()))
    assert isinstance(error, S3Error)
    assert error.code is S3ErrorCode.XAmzContentSHA256Mismatch
    assert len(out) < len(WHOLE)


def test_md5_mismatch_is_bad_digest_before_the_last_bytes() -> None:
    out, error = run(DATA, len(WHOLE), PayloadVerifier(md5_digest=hashlib.md5(b"x").digest()))
    assert isinstance(error, S3Error)
    assert error.code is S3ErrorCode.BadDigest
    assert len(out) < len(WHOLE)


def test_short_body_is_incomplete_and_not_released_whole() -> None:
    out, error = run(DATA[:-1], len(WHOLE), PayloadVerifier())
    assert isinstance(error, S3Error)
    assert error.code is S3ErrorCode.IncompleteBody
    assert len(out) < len(WHOLE) - len(DATA[-1])


def test_disconnect_is_reported() -> None:
    _out, error = run(DATA[:2], len(WHOLE), PayloadVerifier(), disconnect=True)
    assert isinstance(error, ClientDisconnected)


def test_empty_body_is_verified() -> None:
    out, error = run([b""], 0, PayloadVerifier(hashlib.sha256(b"").hexdigest()))
    assert (out, error) == (b"", None)
    out, error = run([b""], 0, PayloadVerifier(hashlib.sha256(b"x").hexdigest()))
    assert isinstance(error, S3Error)


def test_content_md5_parsing() -> None:
    digest = hashlib.md5(b"abc").digest()
    assert parse_content_md5(base64.b64encode(digest).decode()) == digest
    assert parse_content_md5(None) is None
    for bad in ["not base64!", base64.b64encode(b"short").decode(), ""]:
        with pytest.raises(S3Error) as caught:
            parse_content_md5(bad)
        assert caught.value.code is S3ErrorCode.InvalidDigest


LARGE = [bytes([i]) * 250_000 for i in range(4)]  # a server's socket reads (issue 18)


def blocks_of(chunks: list[bytes], verifier: PayloadVerifier) -> list[bytes]:
    length = sum(map(len, chunks))
    sink: list[bytes] = []
    asyncio.run(collect(chunks, length, verifier, sink))
    return sink


def test_large_reads_pass_on_as_they_came_and_small_ones_are_joined() -> None:
    small = [b"s" * 1000] * 300  # 300,000 bytes in 1,000-byte reads
    chunks = [*LARGE[:2], *small, *LARGE[2:]]
    whole = b"".join(chunks)
    blocks = blocks_of(chunks, PayloadVerifier(hashlib.sha256(whole).hexdigest()))
    assert b"".join(blocks) == whole
    assert blocks[0] is LARGE[0] and blocks[1] is LARGE[1]  # not copied into a joined block
    # Small reads are joined to 256 KiB; a large read joins what is still waiting.
    assert [len(block) for block in blocks[2:-1]] == [263_000, 37_000 + 250_000]
    assert blocks[-1] is LARGE[3]


def test_a_large_last_read_is_held_until_the_body_is_verified() -> None:
    out, error = run(LARGE, 1_000_000, PayloadVerifier(hashlib.sha256(b"other").hexdigest()))
    assert isinstance(error, S3Error)
    assert out == b"".join(LARGE[:-1])
