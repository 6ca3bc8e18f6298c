"""aws-chunked request bodies (``Content-Encoding: aws-chunked``), decoded and verified. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
sigv4-streaming-trailers.html. The wire forms, by ``x-amz-content-sha256``::

    STREAMING-AWS4-HMAC-SHA256-PAYLOAD
        hex;chunk-signature=SIG CRLF data CRLF … 0;chunk-signature=SIG CRLF CRLF
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
        … 0;chunk-signature=SIG CRLF name:value CRLF x-amz-trailer-signature:SIG CRLF CRLF
    STREAMING-UNSIGNED-PAYLOAD-TRAILER
        hex CRLF data CRLF … 0 CRLF name:value CRLF CRLF

Chunk signatures chain from the seed (header) signature, the final empty chunk included; the
trailer signature chains from the final chunk's and covers the trailers as sorted
``name:value\\n`` lines (aws-c-auth's canonical form; it reproduces AWS's published example).

Like :mod:`s3proxy.body`, the decoder holds its last block back until the final chunk, the
trailer, its signature, the decoded length and the checksum have all been verified, so an
upstream that is streamed the output never completes an object from a bad upload.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field

from s3proxy.auth.mismatch import signature_mismatch
from s3proxy.auth.sigv4 import EMPTY_SHA256, VerifiedSigV4
from s3proxy.checksums import ChecksumVerifier, algorithm_of_header, decode_value
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode

SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MODES = frozenset({SIGNED_PAYLOAD, SIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD_TRAILER})

BLOCK_BYTES = 256 * 1024
"""Decoded data is yielded in blocks of at most this size."""
MAX_LINE = 4096
"""Longest chunk-size or trailer line accepted, CRLF excluded."""
MAX_TRAILER_BYTES = 16 * 1024
MIN_CHUNK = 8192
"""Every mode: every chunk but the last must carry at least this many bytes."""

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIGNATURE = re.compile(rb"[0-9a-fA-F]{64}")
_OWS = b" \t"
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


@dataclass(frozen=True, slots=True)
class ChunkedContext:
    """What the decoder needs from the request's (already verified) header auth."""

    mode: str
    """The ``x-amz-content-sha256`` value."""
    seed_signature: str
    signing_key: bytes
    amz_date: str
    scope: str
    decoded_length: int | None
    """``x-amz-decoded-content-length``; None skips the length check."""
    trailer: str | None
    """The ``x-amz-trailer`` value, lower-case (``x-amz-checksum-crc32``)."""
    access_key: str = field(default="", compare=False)
    canonical_request: str = field(default="", compare=False)
    """The seed request's: a chunk or trailer signature that does not verify is answered with
    them (:mod:`s3proxy.auth.mismatch`); not part of what is verified."""

    @classmethod
    def from_request(cls, auth: VerifiedSigV4, headers: Mapping[str, str]) -> ChunkedContext:
        """From the verified auth and the headers (lower-case keys) of an aws-chunked request."""
        length = headers.get("x-amz-decoded-content-length")
        # S3 answers a missing and a non-numeric value alike (measured by versitygw's suite).
        decoded_length = decimal(length.strip()) if length and length.isascii() else None
        if decoded_length is None:
            raise S3Error(S3ErrorCode.MissingContentLength)
        trailer = headers.get("x-amz-trailer")
        return cls(
            mode=auth.payload_hash,
            seed_signature=auth.signature,
            signing_key=auth.signing_key,
            amz_date=auth.amz_date,
            scope=auth.credential.scope,
            decoded_length=decoded_length,
            trailer=trailer.strip().lower() if trailer is not None else None,
            access_key=auth.access_key,
            canonical_request=auth.canonical_request,
        )


def _framing(message: str) -> S3Error:
    """A request header that contradicts the framing (refused before any body is read)."""
    return S3Error(S3ErrorCode.InvalidRequest, message)


def _incomplete(message: str) -> S3Error:
    """Body bytes that are not aws-chunked framing: S3 answers every such case 400
    IncompleteBody (bad sizes, missing or bare-LF line ends, data past the declared size or
    after the end), as versitygw's suite measured against S3."""
    return S3Error(S3ErrorCode.IncompleteBody, message)


def _bad_trailer(message: str) -> S3Error:
    """A trailer section S3 refuses with 400 MalformedTrailerError: missing although
    x-amz-trailer named one, not named by x-amz-trailer, another name, or not ``name:value``."""
    return S3Error(S3ErrorCode.MalformedTrailerError, message)


def _sign(key: bytes, string_to_sign: str) -> str:
    return hmac.digest(key, string_to_sign.encode("ascii"), "sha256").hex()


class _Decoder:
    """A push parser: :meth:`feed` wire bytes in any split, it yields full decoded blocks."""

    def __init__(self, ctx: ChunkedContext, checksum: ChecksumVerifier | None) -> None:
        if ctx.mode not in MODES:
            if ctx.mode.startswith("STREAMING-AWS4-ECDSA"):
                raise S3Error(S3ErrorCode.NotImplemented, "SigV4a streaming is not supported.")
            raise S3Error(S3ErrorCode.InvalidArgument, "Unsupported x-amz-content-sha256 value.")
        if ctx.trailer is not None:
            if ctx.mode == SIGNED_PAYLOAD:
                raise _framing("x-amz-trailer requires a -TRAILER x-amz-content-sha256 value.")
            algorithm = algorithm_of_header(ctx.trailer)
            if algorithm is None:
                raise _framing("The value specified in the x-amz-trailer header is not supported")
            if checksum is None:
                checksum = ChecksumVerifier(algorithm)
            elif checksum.algorithm != algorithm or checksum.expected_b64 is not None:
                raise _framing(
                    "Expecting a single x-amz-checksum- header. "
                    "Multiple checksum Types are not allowed."
                )
        if ctx.decoded_length is not None and ctx.decoded_length < 0:
            raise S3Error(S3ErrorCode.InvalidArgument, "Invalid x-amz-decoded-content-length.")
        self._ctx = ctx
        self._checksum = checksum
        self._signed = ctx.mode != UNSIGNED_PAYLOAD_TRAILER
        self._previous = ctx.seed_signature.lower()
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._last_size: int | None = None
        self._chunks = 0
        self._chunk_signature = b""
        self._chunk_hash = hashlib.sha256()
        self._decoded = 0
        self._pending: list[memoryview] = []
        self._pending_size = 0
        self._trailer_bytes = 0
        self.trailers: dict[str, str] = {}
        self._trailer_signature: bytes | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            if self._state == _DATA:
                take = min(self._remaining, end - pos, BLOCK_BYTES - self._pending_size)
                piece = view[pos : pos + take]
                if self._signed:
                    self._chunk_hash.update(piece)
                if self._checksum is not None:
                    self._checksum.update(piece)
                self._pending.append(piece)
                self._pending_size += take
                self._remaining -= take
                pos += take
                if self._remaining == 0:
                    self._state = _DATA_END
                if self._pending_size >= BLOCK_BYTES:
                    yield self._take_block()
            elif self._state == _DONE:
                raise _incomplete("Unexpected data after the end of the aws-chunked body.")
            else:
                line, pos = self._read_line(data, pos)
                if line is not None:
                    self._on_line(line)

    def finish(self) -> bytes:
        """At the end of the wire bytes: the last block (possibly empty), if all went well."""
        if self._state != _DONE:
            raise S3Error(S3ErrorCode.IncompleteBody)
        return self._take_block()

    def _take_block(self) -> bytes:
        block = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return block

    def _read_line(self, data: bytes, pos: int) -> tuple[bytes | None, int]:
        """The next CRLF-terminated line (without CRLF) and the position after it; None if the
        line is not complete yet (the part seen is kept). Scans at most MAX_LINE bytes."""
        budget = MAX_LINE + 2 - len(self._line)
        stop = min(len(data), pos + budget)
        newline = data.find(b"\n", pos, stop)
        if newline < 0:
            if stop - pos >= budget:
                if self._state == _TRAILER:
                    raise _bad_trailer("An aws-chunked trailer line is too long.")
                raise _incomplete("An aws-chunked chunk-size line is too long.")
            self._line += data[pos:stop]
            return None, stop
        if self._line:
            self._line += data[pos:newline]
            line = bytes(self._line)
            self._line.clear()
        else:
            line = data[pos:newline]
        if not line.endswith(b"\r"):
            raise _incomplete("aws-chunked lines must end with CRLF.")
        return line[:-1], newline + 1

    def _on_line(self, line: bytes) -> None:
        if self._state == _SIZE:
            self._on_size_line(line)
        elif self._state == _DATA_END:
            if line:
                raise _incomplete("An aws-chunked chunk is longer than its declared size.")
            if self._signed:
                self._verify_chunk(self._chunk_hash.hexdigest())
            self._state = _SIZE
        else:
            self._on_trailer_line(line)

    def _on_size_line(self, line: bytes) -> None:
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.strip(_OWS)
        if not _HEX_SIZE.fullmatch(size_text):
            raise _incomplete("An aws-chunked chunk size is not valid hexadecimal.")
        size = int(size_text, 16)
        self._chunks += 1
        if self._signed:
            self._chunk_signature = b""
            for extension in extensions.split(b";"):
                name, _, value = extension.partition(b"=")
                if name.strip(_OWS) == b"chunk-signature":
                    self._chunk_signature = value.strip(_OWS)
        # Every mode, the unsigned one too (S3 refuses SDKs' small unsigned chunks likewise).
        if size and self._last_size is not None and self._last_size < MIN_CHUNK:
            raise S3Error(
                S3ErrorCode.InvalidChunkSizeError,
                Chunk=str(self._chunks),
                BadChunkSize=str(self._last_size),
            )
        expected = self._ctx.decoded_length
        self._decoded += size
        if expected is not None and self._decoded > expected:
            raise S3Error(
                S3ErrorCode.IncompleteBody,
                "The aws-chunked body is longer than x-amz-decoded-content-length.",
            )
        if size:
            self._last_size = size
            self._remaining = size
            self._chunk_hash = hashlib.sha256()
            self._state = _DATA
            return
        if self._signed:
            self._verify_chunk(EMPTY_SHA256)
        if expected is not None and self._decoded != expected:
            raise S3Error(S3ErrorCode.IncompleteBody)
        self._state = _TRAILER

    def _verify_chunk(self, digest_hex: str) -> None:
        ctx = self._ctx
        to_sign = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx.amz_date}\n{ctx.scope}\n{self._previous}\n"
            f"{EMPTY_SHA256}\n{digest_hex}"
        )
        expected = _sign(ctx.signing_key, to_sign)
        provided = self._chunk_signature
        if not _SIGNATURE.fullmatch(provided) or not hmac.compare_digest(
            expected.encode("ascii"), provided.lower()
        ):
            raise self._mismatch(to_sign, provided)
        self._previous = expected

    def _mismatch(self, to_sign: str, provided: bytes) -> S3Error:
        """S3's SignatureDoesNotMatch for this chunk or trailer: its string to sign (chained
        from the previous signature, which verified) and the signature sent, with the seed
        request's canonical request, as versitygw answers them."""
        ctx = self._ctx
        return signature_mismatch(
            ctx.access_key,
            to_sign.encode("ascii"),
            provided.decode("latin-1"),
            ctx.canonical_request.encode("latin-1") if ctx.canonical_request else None,
        )

    def _on_trailer_line(self, line: bytes) -> None:
        if not line:
            self._finish_trailers()
            self._state = _DONE
            return
        if b":" not in line and _HEX_SIZE.fullmatch(line.partition(b";")[0].strip(_OWS)):
            # Another chunk after the final one is framing gone wrong, not a trailer: S3
            # answers it as any other data past the end (versitygw's suite measured it).
            raise _incomplete("An aws-chunked chunk follows the final (empty) chunk.")
        if self._ctx.mode == SIGNED_PAYLOAD:
            raise _bad_trailer("Trailing headers are not allowed with this x-amz-content-sha256.")
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise _bad_trailer("The aws-chunked trailer is too long.")
        raw_name, colon, raw_value = line.partition(b":")
        if not colon or self._trailer_signature is not None:
            raise _bad_trailer("The aws-chunked trailer is malformed.")
        try:
            name = raw_name.strip(_OWS).decode("ascii").lower()
            value = raw_value.strip(_OWS).decode("ascii")
        except UnicodeDecodeError:
            raise _bad_trailer("The aws-chunked trailer is malformed.") from None
        if name == _TRAILER_SIGNATURE and self._signed:
            self._trailer_signature = value.encode("ascii")
        elif name != self._ctx.trailer or name in self.trailers:
            raise _bad_trailer(f"The trailer {name} does not match the x-amz-trailer header.")
        else:
            self.trailers[name] = value

    def _finish_trailers(self) -> None:
        ctx = self._ctx
        if ctx.trailer is not None and ctx.trailer not in self.trailers:
            raise _bad_trailer(f"The trailer {ctx.trailer} named by x-amz-trailer is missing.")
        if ctx.mode == SIGNED_PAYLOAD_TRAILER and (self.trailers or self._trailer_signature):
            canonical = "".join(f"{name}:{self.trailers[name]}\n" for name in sorted(self.trailers))
            to_sign = (
                f"AWS4-HMAC-SHA256-TRAILER\n{ctx.amz_date}\n{ctx.scope}\n{self._previous}\n"
                f"{hashlib.sha256(canonical.encode('ascii')).hexdigest()}"
            )
            expected = _sign(ctx.signing_key, to_sign)
            provided = self._trailer_signature or b""
            if not _SIGNATURE.fullmatch(provided) or not hmac.compare_digest(
                expected.encode("ascii"), provided.lower()
            ):
                raise self._mismatch(to_sign, provided)
        if self._checksum is not None:
            value = self.trailers.get(ctx.trailer) if ctx.trailer is not None else None
            if value is not None:  # S3 names a malformed trailer value as a trailing header
                try:
                    decode_value(self._checksum.algorithm, value)
                except S3Error:
                    raise S3Error(
                        S3ErrorCode.InvalidRequest,
                        f"Value for {ctx.trailer} trailing header is invalid.",
                    ) from None
            self._checksum.verify(value)


async def decode_aws_chunked(
    source: AsyncIterable[bytes],
    ctx: ChunkedContext,
    checksum: ChecksumVerifier | None = None,
    *,
    on_trailer: Callable[[dict[str, str]], None] | None = None,
) -> AsyncIterator[bytes]:
    """Decoded data from the aws-chunked wire bytes of ``source``, verified as described above.

    ``checksum`` (from :meth:`ChecksumVerifier.from_headers`) is fed the decoded data and
    verified here, against the trailer when ``ctx.trailer`` names one; without it a verifier is
    made for the trailer. ``on_trailer`` gets the verified trailers (signature excluded) before
    the last block is released. Any failure raises S3Error instead of yielding the last block.
    """
    decoder = _Decoder(ctx, checksum)
    held: bytes | None = None
    async for data in source:
        if not data:
            continue
        # The pending views must not see a reused buffer change under them.
        for block in decoder.feed(data if type(data) is bytes else bytes(data)):
            if held is not None:
                yield held
            held = block
    last = decoder.finish()
    if on_trailer is not None:
        on_trailer(dict(decoder.trailers))
    if held is not None:
        yield held
    if last:
        yield last
