"""What a request that writes an object carries: its content headers and user metadata as
sent, and its body verified in whichever payload mode it was signed. Read alike by PutObject
(:mod:`s3proxy.handlers.object`), CopyObject with REPLACE (:mod:`s3proxy.handlers.object_copy`)
and the multipart handlers (:mod:`s3proxy.handlers.multipart`); kept apart from the object
handlers so that module holds only the handlers and the answers they build."""

from __future__ import annotations

from s3proxy.auth.chunked import ChunkedContext, decode_aws_chunked
from s3proxy.auth.payload import PayloadVerifier
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD, VerifiedSigV4
from s3proxy.body import receive_chunks, spooled_body, verified_body, verified_stream
from s3proxy.checksums import ChecksumVerifier
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.context import RequestContext
from s3proxy.model import (
    CONTENT_HEADERS,
    META_PREFIX,
    Body,
    ObjectAttributes,
    without_aws_chunked,
)

MAX_PUT_SIZE = 5 * 1024**3

# Content headers whose value is a list (RFC 9110 §5.3): repeated lines are one value joined
# with ", ", as an HTTP intermediary joins them. The SigV4 canonical form joins them with ","
# (auth/canonical.py); that is only what the signature covers, never what is stored.
LIST_HEADERS = frozenset({"content-encoding", "content-language", "cache-control"})

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
"""The type S3 gives an object whose write named none (PutObject, CreateMultipartUpload,
CopyObject with REPLACE), and returns on every GET/HEAD of it."""


def request_attributes(ctx: RequestContext) -> ObjectAttributes:
    """Content headers and ``x-amz-meta-*`` values exactly as sent: empty values kept, list
    values with their spacing. More than S3's 2 KB of user metadata (names without the prefix
    and values, in UTF-8 bytes of the text S3 reads: each byte sent as a character, as
    headers are decoded here) is MetadataTooLarge."""
    headers: dict[str, str] = {}
    metadata: dict[str, str] = {}
    for name, value in ctx.request.headers:
        if name in CONTENT_HEADERS:
            if name in headers and name in LIST_HEADERS:
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
        elif name.startswith(META_PREFIX):
            meta_name = name[len(META_PREFIX) :]
            metadata[meta_name] = (
                f"{metadata[meta_name]},{value}" if meta_name in metadata else value
            )
    if metadata and sum(len(name) + _utf8_size(value) for name, value in metadata.items()) > 2048:
        raise S3Error(S3ErrorCode.MetadataTooLarge)
    # S3 stores binary/octet-stream when a write names no type. Said here, so that no upstream
    # picks its own (SeaweedFS sniffs the body: text/plain; charset=utf-8).
    headers.setdefault("content-type", DEFAULT_CONTENT_TYPE)
    return ObjectAttributes(headers=headers, metadata=metadata)


def _utf8_size(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _content_length(ctx: RequestContext) -> int:
    value = ctx.request.header("content-length")
    if value is None:
        raise S3Error(S3ErrorCode.MissingContentLength)
    length = decimal(value)
    if length is None:
        raise S3Error(S3ErrorCode.InvalidArgument, "Content-Length is not a number.")
    if length > MAX_PUT_SIZE:
        raise S3Error(S3ErrorCode.EntityTooLarge)
    return length


def literal_sha256(ctx: RequestContext) -> str | None:
    payload_hash = ctx.auth.payload_hash
    if payload_hash == UNSIGNED_PAYLOAD or payload_hash.startswith("STREAMING-"):
        return None
    return payload_hash.lower()


def strip_aws_chunked(attributes: ObjectAttributes) -> ObjectAttributes:
    """``aws-chunked`` describes the transfer, not the object: it is never stored."""
    encoding = attributes.headers.get("content-encoding")
    if encoding is None:
        return attributes
    headers = {k: v for k, v in attributes.headers.items() if k != "content-encoding"}
    kept = without_aws_chunked(encoding)
    if kept is not None:
        headers["content-encoding"] = kept
    return ObjectAttributes(headers=headers, metadata=attributes.metadata)


async def request_body(
    ctx: RequestContext, md5: bytes | None, checksum: ChecksumVerifier | None
) -> tuple[Body, int]:
    """The verified body and its (decoded) length, for every payload mode."""
    if ctx.auth.payload_hash.startswith("STREAMING-"):
        if not isinstance(ctx.auth, VerifiedSigV4):
            raise S3Error(S3ErrorCode.InvalidArgument, "aws-chunked bodies need SigV4.")
        chunked = ChunkedContext.from_request(ctx.auth, ctx.request.header_map)
        framed = ctx.request.header_map.keys() & {"content-length", "transfer-encoding"}
        if chunked.decoded_length is None or not framed:  # no body can follow: S3's 411
            raise S3Error(S3ErrorCode.MissingContentLength)
        length = chunked.decoded_length
        if length > MAX_PUT_SIZE:
            raise S3Error(S3ErrorCode.EntityTooLarge)
        decoded = decode_aws_chunked(receive_chunks(ctx.receive), chunked, checksum)
        return verified_stream(decoded, length, PayloadVerifier(md5_digest=md5)), length
    verifier = PayloadVerifier(literal_sha256(ctx), md5, checksum)
    if "transfer-encoding" in ctx.request.header_map and not ctx.request.header("content-length"):
        return await spooled_body(ctx.receive, verifier, MAX_PUT_SIZE)
    length = _content_length(ctx)
    return verified_body(ctx.receive, length, verifier), length
