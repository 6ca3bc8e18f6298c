"""aws-chunked decoding: AWS's published examples, botocore's own encoder, and every way to fail.

Signed bodies come from a small reference encoder written from the AWS pages (it reproduces the
published signatures, which proves the chain); unsigned-trailer bodies from botocore's
``AwsChunkedWrapper``, with botocore's checksum classes as the oracle.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from botocore.httpchecksum import (
    AwsChunkedWrapper,
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)

from s3proxy.auth.chunked import (
    BLOCK_BYTES,
    SIGNED_PAYLOAD,
    SIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD_TRAILER,
    ChunkedContext,
    decode_aws_chunked,
)
from s3proxy.auth.sigv4 import Credential, VerifiedSigV4, sign, signing_key
from s3proxy.checksums import ChecksumVerifier
from s3proxy.errors import S3Error, S3ErrorCode

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY = signing_key(SECRET, "20130524", "us-east-1")
DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
EMPTY = hashlib.sha256(b"").hexdigest()
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
MODES = (SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD_TRAILER)
SIGNED = (SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER)
BOTOCORE = {
    "CRC32": Crc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}
DATA = random.Random(1).randbytes(3 * BLOCK_BYTES + 12_345)


def checksum_b64(algorithm: str, data: bytes) -> str:
    checksum = BOTOCORE[algorithm]()
    checksum.update(data)
    return str(checksum.b64digest())


def chunk_signature(previous: str, chunk: bytes) -> str:
    digest = hashlib.sha256(chunk).hexdigest()
    return sign(KEY, f"AWS4-HMAC-SHA256-PAYLOAD\n{DATE}\n{SCOPE}\n{previous}\n{EMPTY}\n{digest}")


def encode_signed(
    data: bytes,
    chunk: int = 65536,
    *,
    seed: str = SEED,
    trailers: Sequence[tuple[str, str]] | None = None,
    size_line: str = "{size:x};chunk-signature={signature}",
) -> bytes:
    """A reference encoder for the signed modes, from sigv4-streaming(-trailers).html."""
    wire = bytearray()
    previous = seed
    for offset in [*range(0, len(data), chunk), len(data)]:
        piece = data[offset : offset + chunk]
        previous = chunk_signature(previous, piece)
        wire += size_line.format(size=len(piece), signature=previous).encode() + b"\r\n"
        wire += piece + b"\r\n" if piece else b""
    if trailers is not None:
        canonical = "".join(f"{name}:{value}\n" for name, value in sorted(trailers))
        wire += canonical.replace("\n", "\r\n").encode()
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        signature = sign(KEY, f"AWS4-HMAC-SHA256-TRAILER\n{DATE}\n{SCOPE}\n{previous}\n{digest}")
        wire += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return bytes(wire + b"\r\n")


def encode_unsigned(data: bytes, algorithm: str = "CRC32", chunk: int = 1024 * 1024) -> bytes:
    """What botocore sends for STREAMING-UNSIGNED-PAYLOAD-TRAILER (its own encoder)."""
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=BOTOCORE[algorithm],
        checksum_name=f"x-amz-checksum-{algorithm.lower()}",
        chunk_size=chunk,
    )
    return bytes(wrapper.read())


def context(
    mode: str, length: int | None, trailer: str | None = None, seed: str = SEED
) -> ChunkedContext:
    return ChunkedContext(mode, seed, KEY, DATE, SCOPE, length, trailer)


def build(
    mode: str, data: bytes = DATA, algorithm: str = "CRC32", chunk: int = 65536
) -> tuple[bytes, ChunkedContext]:
    """A correct body and its context in each mode (CRC32 trailer in the trailer modes)."""
    name = f"x-amz-checksum-{algorithm.lower()}"
    if mode == UNSIGNED_PAYLOAD_TRAILER:
        return encode_unsigned(data, algorithm, chunk), context(mode, len(data), name)
    if mode == SIGNED_PAYLOAD:
        return encode_signed(data, chunk), context(mode, len(data))
    trailers = [(name, checksum_b64(algorithm, data))]
    return encode_signed(data, chunk, trailers=trailers), context(mode, len(data), name)


@dataclass
class Outcome:
    blocks: list[bytes] = field(default_factory=list)
    error: S3Error | None = None
    trailers: dict[str, str] | None = None
    consumed: int = 0

    @property
    def data(self) -> bytes:
        return b"".join(self.blocks)


def pieces(wire: bytes, sizes: Sequence[int] | int | None = None, seed: int = 0) -> list[bytes]:
    """``wire`` cut in reads of the given size(s), cycling; None → random sizes 1..70000."""
    rng = random.Random(seed)
    out, pos, i = [], 0, 0
    while pos < len(wire):
        if sizes is None:
            step = rng.choice([1, 2, 3, 17, 100, 8192, 65536, 70000])
        elif isinstance(sizes, int):
            step = sizes
        else:
            step = sizes[i % len(sizes)]
        out.append(wire[pos : pos + step])
        pos, i = pos + step, i + 1
    return out


async def decode_async(
    reads: Sequence[bytes], ctx: ChunkedContext, checksum: ChecksumVerifier | None = None
) -> Outcome:
    outcome = Outcome()

    async def source() -> AsyncIterator[bytes]:
        for read in reads:
            outcome.consumed += len(read)
            yield read

    def on_trailer(trailers: dict[str, str]) -> None:
        outcome.trailers = trailers

    try:
        async for block in decode_aws_chunked(source(), ctx, checksum, on_trailer=on_trailer):
            outcome.blocks.append(block)
    except S3Error as exc:
        outcome.error = exc
    return outcome


def decode(
    wire: bytes,
    ctx: ChunkedContext,
    sizes: Sequence[int] | int | None = None,
    checksum: ChecksumVerifier | None = None,
) -> Outcome:
    return asyncio.run(decode_async(pieces(wire, sizes), ctx, checksum))


def assert_fails(outcome: Outcome, code: S3ErrorCode, data: bytes = DATA) -> None:
    """Failed with ``code``, and what was released is a strict prefix: never the last block."""
    assert outcome.error is not None, "decoding succeeded"
    assert outcome.error.code is code, outcome.error
    assert outcome.trailers is None
    assert len(outcome.data) < len(data)
    assert data.startswith(outcome.data)


# --- AWS's published examples ---------------------------------------------------------------


def test_aws_streaming_example_signatures() -> None:
    data = b"a" * 66560
    wire = encode_signed(data)
    assert len(wire) == 66824  # the example's Content-Length
    assert [line.split(b"=")[1] for line in wire.split(b"\r\n") if b"chunk-signature" in line] == [
        b"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        b"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        b"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]
    outcome = decode(wire, context(SIGNED_PAYLOAD, 66560), sizes=None)
    assert outcome.error is None and outcome.data == data
    assert outcome.trailers == {}


def test_aws_trailer_example_signatures() -> None:
    data = b"a" * 66560
    assert checksum_b64("CRC32C", data) == "sOO8/Q=="
    wire = encode_signed(data, seed=TRAILER_SEED, trailers=[("x-amz-checksum-crc32c", "sOO8/Q==")])
    assert len(wire) == 66946
    assert (
        b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
        in wire
    )
    assert wire.endswith(
        b"\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
        b"\r\n\r\n"
    )
    ctx = context(SIGNED_PAYLOAD_TRAILER, 66560, "x-amz-checksum-crc32c", TRAILER_SEED)
    outcome = decode(wire, ctx, sizes=[5000, 1, 3])
    assert outcome.error is None and outcome.data == data
    assert outcome.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


# --- decoding byte-exact ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sizes", [None, 65536, 1_000_000, [1, 2, 8191, 13, 100_003]])
def test_each_mode_decodes_byte_exact(mode: str, sizes: Sequence[int] | int | None) -> None:
    wire, ctx = build(mode)
    outcome = decode(wire, ctx, sizes)
    assert outcome.error is None
    assert outcome.data == DATA
    assert all(0 < len(block) <= BLOCK_BYTES for block in outcome.blocks)
    assert len(outcome.blocks) > 1


@pytest.mark.parametrize("mode", MODES)
def test_one_byte_reads(mode: str) -> None:
    data = DATA[:30_000]
    wire, ctx = build(mode, data, chunk=8192)
    outcome = decode(wire, ctx, 1)
    assert outcome.error is None and outcome.data == data


@pytest.mark.parametrize("algorithm", list(BOTOCORE))
@pytest.mark.parametrize("chunk", [8192, 65536, 1024 * 1024])
def test_botocore_unsigned_trailer_every_algorithm(algorithm: str, chunk: int) -> None:
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER, algorithm=algorithm, chunk=chunk)
    outcome = decode(wire, ctx)
    assert outcome.error is None and outcome.data == DATA
    name = f"x-amz-checksum-{algorithm.lower()}"
    assert outcome.trailers == {name: checksum_b64(algorithm, DATA)}


@pytest.mark.parametrize("algorithm", list(BOTOCORE))
def test_signed_trailer_every_algorithm(algorithm: str) -> None:
    wire, ctx = build(SIGNED_PAYLOAD_TRAILER, algorithm=algorithm)
    assert decode(wire, ctx).data == DATA


@pytest.mark.parametrize("mode", MODES)
def test_empty_body(mode: str) -> None:
    wire, ctx = build(mode, b"")
    outcome = decode(wire, ctx)
    assert outcome.error is None and outcome.blocks == []


def test_whitespace_and_extensions_are_tolerated() -> None:
    wire = encode_signed(DATA, size_line="{size:x} ;x-ext=1; chunk-signature = {signature} ")
    assert decode(wire, context(SIGNED_PAYLOAD, len(DATA))).data == DATA
    unsigned = encode_unsigned(DATA, chunk=65536).replace(b"10000\r\n", b"10000;ext=v\r\n")
    trailer = "x-amz-checksum-crc32"
    outcome = decode(unsigned, context(UNSIGNED_PAYLOAD_TRAILER, len(DATA), trailer))
    assert outcome.error is None and outcome.data == DATA
    spaced = encode_unsigned(DATA).replace(b"x-amz-checksum-crc32:", b"X-Amz-Checksum-CRC32 :  ")
    outcome = decode(spaced, context(UNSIGNED_PAYLOAD_TRAILER, len(DATA), trailer))
    assert outcome.error is None and outcome.trailers == {trailer: checksum_b64("CRC32", DATA)}


def test_decoded_length_none_skips_the_length_check() -> None:
    wire, _ = build(UNSIGNED_PAYLOAD_TRAILER)
    ctx = context(UNSIGNED_PAYLOAD_TRAILER, None, "x-amz-checksum-crc32")
    assert decode(wire, ctx).data == DATA


# --- tampering --------------------------------------------------------------------------------


def flip(wire: bytes, index: int) -> bytes:
    return wire[:index] + bytes([wire[index] ^ 0x01]) + wire[index + 1 :]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", [0, 70_000, len(DATA) // 2, len(DATA) - 1])
def test_flipped_data_byte(mode: str, where: int) -> None:
    wire, ctx = build(mode)
    start = min(where, len(DATA) - 64)
    index = wire.find(DATA[start : start + 64]) + where - start  # random data: unique
    code = S3ErrorCode.BadDigest if mode == UNSIGNED_PAYLOAD_TRAILER else None
    # Blocks before the failure may carry the flipped byte; the last one never comes.
    tampered = flip(DATA, where)
    assert_fails(
        decode(flip(wire, index), ctx), code or S3ErrorCode.SignatureDoesNotMatch, tampered
    )


@pytest.mark.parametrize("mode", SIGNED)
@pytest.mark.parametrize("which", [0, 5, -1])
def test_flipped_chunk_signature(mode: str, which: int) -> None:
    wire, ctx = build(mode)
    starts = [match.start() for match in re.finditer(b"chunk-signature=", wire)]
    index = starts[which] + len("chunk-signature=") + 10
    assert_fails(decode(flip(wire, index), ctx), S3ErrorCode.SignatureDoesNotMatch)


@pytest.mark.parametrize("mode", SIGNED)
def test_missing_chunk_signature(mode: str) -> None:
    wire, ctx = build(mode)
    stripped = wire.replace(b";chunk-signature=", b";chunk-signaturx=", 1)
    assert_fails(decode(stripped, ctx), S3ErrorCode.SignatureDoesNotMatch)


def test_flipped_trailer_value_signed() -> None:
    wire, ctx = build(SIGNED_PAYLOAD_TRAILER)
    index = wire.rfind(b"x-amz-checksum-crc32:") + len("x-amz-checksum-crc32:") + 2
    assert_fails(decode(flip(wire, index), ctx), S3ErrorCode.SignatureDoesNotMatch)


def test_signed_trailer_with_wrong_checksum_is_bad_digest() -> None:
    name = "x-amz-checksum-crc32"
    wire = encode_signed(DATA, trailers=[(name, checksum_b64("CRC32", b"other"))])
    assert_fails(
        decode(wire, context(SIGNED_PAYLOAD_TRAILER, len(DATA), name)), S3ErrorCode.BadDigest
    )


def test_wrong_trailer_value_unsigned_is_bad_digest() -> None:
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER)
    good = checksum_b64("CRC32", DATA).encode()
    wrong = wire.replace(good, checksum_b64("CRC32", b"other").encode())
    assert_fails(decode(wrong, ctx), S3ErrorCode.BadDigest)
    malformed = wire.replace(good, b"!!!!")
    assert_fails(decode(malformed, ctx), S3ErrorCode.InvalidRequest)


def test_flipped_trailer_signature() -> None:
    wire, ctx = build(SIGNED_PAYLOAD_TRAILER)
    index = wire.rfind(b"x-amz-trailer-signature:") + len("x-amz-trailer-signature:") + 30
    assert_fails(decode(flip(wire, index), ctx), S3ErrorCode.SignatureDoesNotMatch)
    unsigned = wire[: wire.rfind(b"x-amz-trailer-signature:")] + b"\r\n"
    assert_fails(decode(unsigned, ctx), S3ErrorCode.SignatureDoesNotMatch)


def test_trailer_signature_not_allowed_unsigned() -> None:
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER)
    extra = wire[:-2] + b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n"
    assert_fails(decode(extra, ctx), S3ErrorCode.MalformedTrailerError)


# --- truncation, lengths, framing -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_truncated_anywhere_is_incomplete_body(mode: str) -> None:
    data = DATA[:40_000]
    wire, ctx = build(mode, data, chunk=8192)
    rng = random.Random(mode)
    # Every cut in and around the framing, and a sample of cuts inside the data.
    size_lines = list(re.finditer(rb"\r\n[0-9a-f]+(;chunk-signature=[0-9a-f]{64})?\r\n", wire))
    assert len(size_lines) == 5  # chunks 2..5 and the final one
    framing = {i for match in size_lines for i in range(match.start(), match.end() + 1)}
    framing |= set(range(100)) | set(range(len(wire) - 200, len(wire)))  # first line, trailer
    cuts = sorted(framing | set(rng.sample(range(len(wire)), 300)))

    async def all_cuts() -> list[tuple[int, Outcome]]:
        return [(cut, await decode_async(pieces(wire[:cut], 4096), ctx)) for cut in cuts]

    for cut, outcome in asyncio.run(all_cuts()):
        assert outcome.error is not None, cut
        assert outcome.error.code is S3ErrorCode.IncompleteBody, (cut, outcome.error)
        assert outcome.data == b""


@pytest.mark.parametrize("mode", MODES)
def test_decoded_length_mismatch(mode: str) -> None:
    wire, ctx = build(mode)
    for length in (len(DATA) - 1, len(DATA) + 1, 0):
        mismatched = context(mode, length, ctx.trailer)
        assert_fails(decode(wire, mismatched), S3ErrorCode.IncompleteBody)


def test_huge_size_line_rejected_fast() -> None:
    ctx = context(SIGNED_PAYLOAD, len(DATA))
    for reads in ([b"1" * 1_000_000], pieces(b"1" * 1_000_000, 1024)):
        outcome = asyncio.run(decode_async(reads, ctx))
        assert outcome.error is not None and outcome.error.code is S3ErrorCode.IncompleteBody
        assert outcome.consumed <= 8192 or len(reads) == 1


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"fffffffffffffffff;chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
        (b"ffffffffffffffff;chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
        (b"zz;chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
        (b"-1;chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
        (b"0x10;chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
        (b";chunk-signature=" + b"0" * 64, S3ErrorCode.IncompleteBody),
    ],
)
def test_absurd_sizes(line: bytes, code: S3ErrorCode) -> None:
    outcome = decode(line + b"\r\n" + b"a" * 100, context(SIGNED_PAYLOAD, len(DATA)))
    assert_fails(outcome, code)


def test_huge_trailer_line_rejected() -> None:
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER)
    long = wire[:-2] + b"x-amz-meta:" + b"v" * 100_000 + b"\r\n\r\n"
    assert_fails(decode(long, ctx), S3ErrorCode.MalformedTrailerError)


def test_trailer_not_matching_x_amz_trailer() -> None:
    wire, _ = build(UNSIGNED_PAYLOAD_TRAILER, algorithm="CRC32C")
    ctx = context(UNSIGNED_PAYLOAD_TRAILER, len(DATA), "x-amz-checksum-crc32")
    assert_fails(decode(wire, ctx), S3ErrorCode.MalformedTrailerError)
    undeclared = context(UNSIGNED_PAYLOAD_TRAILER, len(DATA), None)
    assert_fails(decode(wire, undeclared), S3ErrorCode.MalformedTrailerError)
    missing = encode_signed(DATA, trailers=[])
    declared = context(SIGNED_PAYLOAD_TRAILER, len(DATA), "x-amz-checksum-crc32")
    assert_fails(decode(missing, declared), S3ErrorCode.MalformedTrailerError)
    doubled = wire[:-2] + wire[wire.rfind(b"x-amz-checksum") :]
    ctx_c = context(UNSIGNED_PAYLOAD_TRAILER, len(DATA), "x-amz-checksum-crc32c")
    assert_fails(decode(doubled, ctx_c), S3ErrorCode.MalformedTrailerError)


def test_trailers_not_allowed_without_trailer_mode() -> None:
    wire = encode_signed(DATA)[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert_fails(
        decode(wire, context(SIGNED_PAYLOAD, len(DATA))), S3ErrorCode.MalformedTrailerError
    )


@pytest.mark.parametrize("mode", SIGNED)
def test_small_non_final_chunk_signed(mode: str) -> None:
    wire, ctx = build(mode, chunk=8191)
    assert_fails(decode(wire, ctx), S3ErrorCode.InvalidChunkSizeError)
    assert decode(*build(mode, chunk=8192)).data == DATA  # 8 KiB chunks, small last one: fine


def test_small_non_final_chunk_unsigned() -> None:
    """S3 refuses them in the unsigned mode too (aws-sdk-js-v3 #6949 met it on AWS)."""
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER, DATA[:50_000], chunk=1000)
    outcome = decode(wire, ctx)
    assert_fails(outcome, S3ErrorCode.InvalidChunkSizeError, DATA[:50_000])
    assert outcome.error is not None
    assert outcome.error.fields == {"Chunk": "2", "BadChunkSize": "1000"}
    assert decode(*build(UNSIGNED_PAYLOAD_TRAILER, chunk=8192)).data == DATA


@pytest.mark.parametrize("mode", MODES)
def test_framing_errors(mode: str) -> None:
    wire, ctx = build(mode)
    assert_fails(decode(wire + b"x", ctx), S3ErrorCode.IncompleteBody)  # bytes after the end
    assert_fails(decode(wire.replace(b"\r\n", b"\n"), ctx), S3ErrorCode.IncompleteBody)
    first_end = wire.find(b"\r\n") + 2 + 65536
    assert wire[first_end : first_end + 2] == b"\r\n"
    longer = wire[:first_end] + b"Z" + wire[first_end:]  # chunk longer than its size
    assert_fails(decode(longer, ctx), S3ErrorCode.IncompleteBody)


def test_large_block_output_is_bounded_and_held_back() -> None:
    """A failure in the last chunk after many blocks: every earlier block released, not the last."""
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER)
    good = checksum_b64("CRC32", DATA).encode()
    outcome = decode(wire.replace(good, checksum_b64("CRC32", b"x").encode()), ctx, 65536)
    assert_fails(outcome, S3ErrorCode.BadDigest)
    # Three full blocks and a tail: the third (held) and the tail (pending) are never released.
    assert [len(block) for block in outcome.blocks] == [BLOCK_BYTES, BLOCK_BYTES]


# --- contexts and explicit verifiers ----------------------------------------------------------


def test_header_checksum_verified_in_signed_mode() -> None:
    wire, ctx = build(SIGNED_PAYLOAD)
    good = ChecksumVerifier("SHA256", checksum_b64("SHA256", DATA))
    assert decode(wire, ctx, checksum=good).data == DATA
    bad = ChecksumVerifier("SHA256", checksum_b64("SHA256", b"x"))
    assert_fails(decode(wire, ctx, checksum=bad), S3ErrorCode.BadDigest)


def test_explicit_trailer_verifier_must_agree() -> None:
    wire, ctx = build(UNSIGNED_PAYLOAD_TRAILER)
    assert decode(wire, ctx, checksum=ChecksumVerifier("CRC32")).data == DATA
    assert_fails(decode(wire, ctx, checksum=ChecksumVerifier("SHA1")), S3ErrorCode.InvalidRequest)


@pytest.mark.parametrize(
    ("ctx", "code"),
    [
        (context("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", 1), S3ErrorCode.NotImplemented),
        (context("UNSIGNED-PAYLOAD", 1), S3ErrorCode.InvalidArgument),
        (context(SIGNED_PAYLOAD, 1, "x-amz-checksum-crc32"), S3ErrorCode.InvalidRequest),
        (context(UNSIGNED_PAYLOAD_TRAILER, 1, "x-amz-meta-x"), S3ErrorCode.InvalidRequest),
    ],
)
def test_bad_contexts(ctx: ChunkedContext, code: S3ErrorCode) -> None:
    assert_fails(decode(b"1\r\na\r\n0\r\n\r\n", ctx), code, b"a")


def test_context_from_request() -> None:
    credential = Credential("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3")
    auth = VerifiedSigV4(
        credential.access_key, credential, DATE, SIGNED_PAYLOAD_TRAILER, TRAILER_SEED, KEY
    )
    headers = {"x-amz-decoded-content-length": "66560", "x-amz-trailer": " X-Amz-Checksum-CRC32C"}
    ctx = ChunkedContext.from_request(auth, headers)
    assert ctx == context(SIGNED_PAYLOAD_TRAILER, 66560, "x-amz-checksum-crc32c", TRAILER_SEED)
    with pytest.raises(S3Error) as raised:
        ChunkedContext.from_request(auth, {})
    assert raised.value.code is S3ErrorCode.MissingContentLength
    with pytest.raises(S3Error) as raised:
        ChunkedContext.from_request(auth, {"x-amz-decoded-content-length": "-1"})
    assert raised.value.code is S3ErrorCode.MissingContentLength
