"""How a client's trailer checksum reaches the upstream, so that the upstream keeps it.

A trailer's value (boto3 ≥ 1.36 and aws-cli v2 send a CRC32 one on every PutObject over TLS)
is known only at the end of the body, and S3 keeps it with the object: HEAD/GET with
``x-amz-checksum-mode: ENABLED`` and GetObjectAttributes answer it. A plain upstream body
(Content-Length) carries a checksum only as a header, sent before the body. So:

- a body small enough to be read whole before it goes upstream
  (``s3_object_reads.WHOLE_BODY_LIMIT``) is verified by then, and its trailer's value goes as
  the ``x-amz-checksum-*`` header, on any upstream and either ``request_style``: no extra byte
  or request;
- a larger one goes as ``aws-chunked`` with the same trailer, written only after the body
  iterator is exhausted, that is after every check on it has passed (if one fails, the upstream
  sees a chunked stream without its last chunk and commits nothing). That needs an upstream that
  accepts it: one configured ``request_style: aws-chunked``, or under the default ``plain`` one
  whose ``Server`` header says it does (:func:`takes_trailers`; learnt from the upstream's first
  answer, and asked for with a HEAD of the bucket when such a PUT comes before any: a large
  trailer PUT sent first once went plain and kept no checksum, so whether a checksum was kept
  depended on timing). Ceph RGW 16 refuses aws-chunked (and keeps no flexible checksum
  anyway), and a server that does not know aws-chunked could store the chunk framing as the
  object's bytes, so any other server keeps getting a plain body and no checksum: a read then
  claims none (README "Over HTTPS").

UploadPart takes the same paths (S3 refuses a part without its checksum in an upload created
with a COMPOSITE one, MinIO in any upload created with one; a part's trailer went upstream only
under ``aws-chunked``), and so does a CopyObject whose bytes pass through the gateway, for the
checksum it sums as they pass (:func:`s3proxy.backends.part_copy.copy_object_through`).

Only a request whose client sent a trailer takes either path: every other request is sent as
before, at no cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

#: ``Server`` headers (lowercase prefixes) of upstreams that store an aws-chunked body's
#: trailer checksum, over plain HTTP too (SeaweedFS 4.48, measured).
TRAILERS_KEPT_BY = ("seaweedfs",)
#: Those that take unsigned trailers over TLS: exactly what boto3 ≥ 1.36 sends them itself on
#: every PutObject over https (AWS documents it; MinIO has taken it since 2023), so a server that
#: names itself so and refused it would already fail those clients without the gateway.
TRAILERS_KEPT_OVER_TLS_BY = ("amazons3", "minio")


def takes_trailers(style: str, server: str | None, tls: bool) -> bool:
    """Whether an upstream with this ``request_style``, first-answer ``Server`` header (None:
    none seen yet) and scheme is sent a client's trailer checksum as an aws-chunked trailer."""
    if style == "aws-chunked":
        return True
    name = (server or "").strip().lower()
    kept = TRAILERS_KEPT_BY + (TRAILERS_KEPT_OVER_TLS_BY if tls else ())
    return bool(name) and name.startswith(kept)


async def encode_with_trailer(
    body: AsyncIterator[bytes], trailer: str, value: Callable[[], str]
) -> AsyncIterator[bytes]:
    """``hex-size CRLF data CRLF`` per block, then ``0 CRLF trailer:value CRLF CRLF``."""
    async for block in body:
        if block:
            yield b"%x\r\n" % len(block)
            yield block
            yield b"\r\n"
    yield f"0\r\n{trailer}:{value()}\r\n\r\n".encode("ascii")


def chunked_headers(
    content_encoding: str | None, decoded_length: int, trailer: str
) -> dict[str, str]:
    """The headers that announce an aws-chunked body (the object's own encoding kept after)."""
    encoding = "aws-chunked" if not content_encoding else f"aws-chunked,{content_encoding}"
    return {
        "content-encoding": encoding,
        "x-amz-decoded-content-length": str(decoded_length),
        "x-amz-trailer": trailer,
    }
