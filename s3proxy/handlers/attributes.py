"""GetObjectAttributes: ETag, Checksum, ObjectParts, StorageClass, ObjectSize.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html. Everything comes
from what HeadObject already reports, so every lane answers the same way:

- one HEAD (with checksum mode when Checksum or ObjectParts is asked for) gives the ETag, size,
  storage class and the object's checksum;
- a multipart object's part count is its ETag's ``-N`` suffix (CompleteMultipartUpload's ETag
  is always of that form here); a single-PUT object has no ObjectParts, as on S3;
- S3 lists the parts themselves only for an object with a COMPOSITE checksum (otherwise
  ObjectParts is PartsCount alone); each part of the asked page is a ``?partNumber=`` HEAD,
  in parallel, giving its size and checksum. An upstream that cannot serve ``partNumber`` (Ceph
  RGW 16), or that reports no checksum for a part, gets 501 rather than a made-up page.
- an SSE-C object is read with its key, as HeadObject reads it (S3 asks for the key here too):
  the key goes on the HEAD and on each part's, and a key for a plain object, a missing or
  wrong key get HeadObject's answers.

S3's quirks kept: the ETag comes without its quotes, and a COMPOSITE checksum without its
``-N`` suffix.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from xml.sax.saxutils import escape

from s3proxy import expensive
from s3proxy.checksums import ALGORITHMS, HEADER_PREFIX, TYPE_HEADER, checksum_type_of
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import check_version, read_conditions
from s3proxy.model import CustomerKey, ObjectInfo, ReadConditions
from s3proxy.responses import S3Response, xml_response
from s3proxy.xmlcodec import document

ATTRIBUTES_HEADER = "x-amz-object-attributes"
MAX_PARTS_HEADER = "x-amz-max-parts"
MARKER_HEADER = "x-amz-part-number-marker"
ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
DEFAULT_MAX_PARTS = 1000
PART_HEADS = 8
"""Part HEADs in flight at once for one request."""


def requested_attributes(values: list[str]) -> frozenset[str]:
    """The attributes named by every ``x-amz-object-attributes`` line (comma-separated)."""
    names = [name.strip() for value in values for name in value.split(",")]
    names = [name for name in names if name]
    if not names:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "The x-amz-object-attributes header specifying the attributes to be retrieved is "
            "either missing or empty",
        )
    for name in names:
        if name not in ATTRIBUTES:
            raise S3Error(
                S3ErrorCode.InvalidArgument,
                "Invalid attribute name specified.",
                ArgumentName=ATTRIBUTES_HEADER,
                ArgumentValue=name,
            )
    return frozenset(names)


def small_integer(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    value = value.strip()
    number = decimal(value)
    if number is None or number > 2**31 - 1:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        )
    return number


def parts_count(etag: str) -> int | None:
    """N from a multipart ETag ``"<md5>-N"``; None for a single-PUT object."""
    _, dash, count = etag.strip('"').rpartition("-")
    return int(count) if dash and count.isascii() and count.isdigit() else None


def _checksums(info: ObjectInfo) -> dict[str, str]:
    """Algorithm → value, from HEAD's ``x-amz-checksum-<alg>`` headers."""
    found: dict[str, str] = {}
    for algorithm in ALGORITHMS:
        value = info.extra_headers.get(HEADER_PREFIX + algorithm.lower())
        if value is not None:
            found[algorithm] = value
    return found


def shown_checksum(value: str) -> str:
    """A COMPOSITE checksum as GetObjectAttributes shows it: without HEAD's ``-N``."""
    return value.rpartition("-")[0] if checksum_type_of(value) == "COMPOSITE" else value


def shown_etag(etag: str) -> str:
    """GetObjectAttributes shows the ETag without its quotes (unlike every other response)."""
    return etag.strip().strip('"')


def _checksum_elements(checksums: dict[str, str]) -> str:
    return "".join(f"<Checksum{a}>{escape(v)}</Checksum{a}>" for a, v in checksums.items())


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    size: int
    checksums: dict[str, str]


async def _part(
    ctx: RequestContext,
    etag: str,
    number: int,
    limit: asyncio.Semaphore,
    customer_key: CustomerKey | None,
) -> Part:
    """Part ``number`` of the object whose ETag is ``etag``: a part of an object that replaced
    it in between is never mixed into the page."""
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    conditions = ReadConditions(if_match=etag, customer_key=customer_key)
    async with limit:
        try:
            info = await ctx.storage.head_object(bucket, key, conditions, True, number)
        except S3Error as error:
            if error.code is not S3ErrorCode.PreconditionFailed:
                raise
            # Overwritten while its parts were read: SDKs retry this, and get one object.
            raise S3Error(
                S3ErrorCode.SlowDown, "The object changed while its parts were read."
            ) from None
    if info.part_range is None:  # part 1 of an object the upstream does not see as multipart
        raise S3Error(S3ErrorCode.NotImplemented, "This upstream does not serve partNumber reads.")
    first, last, _ = info.part_range
    checksums = _checksums(info)
    if not checksums or any(checksum_type_of(v) == "COMPOSITE" for v in checksums.values()):
        # The whole object's checksum, or none: the upstream keeps no per-part checksums.
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "This upstream does not report the checksums of an object's parts.",
        )
    return Part(number, last - first + 1, checksums)


async def _parts_xml(
    ctx: RequestContext,
    etag: str,
    count: int,
    composite: bool,
    max_parts: int,
    marker: int,
    customer_key: CustomerKey | None = None,
) -> str:
    if not composite:  # S3 lists the parts of an object with a COMPOSITE checksum only
        return f"<ObjectParts><PartsCount>{count}</PartsCount></ObjectParts>"
    numbers = range(marker + 1, min(count, marker + max_parts) + 1)
    limit = asyncio.Semaphore(PART_HEADS)
    async with expensive.held():  # one HEAD per part (s3proxy.expensive)
        parts = await all_or_none(
            *(_part(ctx, etag, number, limit, customer_key) for number in numbers)
        )
    truncated = marker + max_parts < count
    items = [
        f"<Part>{_checksum_elements(part.checksums)}<PartNumber>{part.number}</PartNumber>"
        f"<Size>{part.size}</Size></Part>"
        for part in parts
    ]
    next_marker = parts[-1].number if parts else marker
    return (
        f"<ObjectParts><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        f"<MaxParts>{max_parts}</MaxParts><NextPartNumberMarker>{next_marker}"
        f"</NextPartNumberMarker><PartNumberMarker>{marker}</PartNumberMarker>"
        f"{''.join(items)}<PartsCount>{count}</PartsCount></ObjectParts>"
    )


async def get_object_attributes(ctx: RequestContext) -> S3Response:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    wanted = requested_attributes(
        [value for name, value in ctx.request.headers if name == ATTRIBUTES_HEADER]
    )
    header = ctx.request.header
    max_parts = small_integer(MAX_PARTS_HEADER, header(MAX_PARTS_HEADER), DEFAULT_MAX_PARTS)
    marker = small_integer(MARKER_HEADER, header(MARKER_HEADER), 0)
    await check_version(ctx)
    conditions = await read_conditions(ctx)
    customer_key = conditions.customer_key
    checksum_mode = "Checksum" in wanted or "ObjectParts" in wanted
    info = await ctx.storage.head_object(bucket, key, conditions, checksum_mode)
    checksums = _checksums(info) if checksum_mode else {}
    checksum_type = info.extra_headers.get(TYPE_HEADER) or next(
        (checksum_type_of(value) for value in checksums.values()), None
    )
    parts: list[str] = []
    if "ETag" in wanted:
        parts.append(f"<ETag>{escape(shown_etag(info.etag))}</ETag>")
    if "Checksum" in wanted and checksums:
        values = _checksum_elements(
            {algorithm: shown_checksum(value) for algorithm, value in checksums.items()}
        )
        parts.append(f"<Checksum>{values}<ChecksumType>{checksum_type}</ChecksumType></Checksum>")
    count = parts_count(info.etag)
    if "ObjectParts" in wanted and count is not None:
        composite = checksum_type == "COMPOSITE"
        parts.append(
            await _parts_xml(ctx, info.etag, count, composite, max_parts, marker, customer_key)
        )
    if "StorageClass" in wanted:
        parts.append(f"<StorageClass>{escape(info.storage_class)}</StorageClass>")
    if "ObjectSize" in wanted:
        parts.append(f"<ObjectSize>{info.size}</ObjectSize>")
    response = xml_response(document("GetObjectAttributesResponse", parts))
    response.headers.append(("Last-Modified", info.last_modified))
    return response
