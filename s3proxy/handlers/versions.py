"""ListObjectVersions on buckets that are never versioned.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html. Buckets here are
never versioned, so each object has exactly one version, ``null``, and it is the latest: the
listing is the same merged, byte-ordered listing as ListObjects (``key-marker`` resumes as
``marker`` does), each key shown as a ``<Version>`` with ``VersionId`` ``null`` and
``IsLatest`` true, and there are no delete markers. Cleanup tools (``rclone --s3-versions``,
``aws s3api list-object-versions``) call it whatever the bucket's versioning state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape

from s3proxy import expensive
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import max_keys_of, url_encoding
from s3proxy.handlers.context import RequestContext
from s3proxy.listing import ListQuery, MergedPage
from s3proxy.owner import Owner
from s3proxy.responses import S3Response, xml_stream
from s3proxy.timestamps import s3_time
from s3proxy.xmlcodec import document_pieces, url_encode, xml_text

NULL_VERSION = "null"
_VERSION_ID_MARKER = "version-id-marker"


def version_id_marker(key_marker: str | None, value: str | None) -> str | None:
    """The ``version-id-marker`` checks S3 makes, in its order. ``null`` names the one version
    each key has here; any other id names no version of this bucket, so it gets S3's answer to
    an invalid id rather than a page that could only guess where that version would sort."""
    if value is None:
        return None
    if not key_marker:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName=_VERSION_ID_MARKER,
            ArgumentValue=value,
        )
    if not value:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "A version-id marker cannot be empty.",
            ArgumentName=_VERSION_ID_MARKER,
            ArgumentValue=value,
        )
    if value != NULL_VERSION:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Invalid version id specified",
            ArgumentName=_VERSION_ID_MARKER,
            ArgumentValue=value,
        )
    return value


async def list_object_versions(ctx: RequestContext) -> S3Response:
    bucket = ctx.request.bucket
    assert bucket is not None
    query = ctx.request.query
    max_keys = max_keys_of(query.get("max-keys"))  # S3 checks max-keys first
    key_marker = query.get("key-marker") or None
    version_marker = version_id_marker(key_marker, query.get(_VERSION_ID_MARKER))
    encode = url_encoding(ctx)
    # One version per key: after (key, null) is after the key, as after key-marker alone.
    list_query = ListQuery(
        prefix=query.get("prefix", ""),
        delimiter=query.get("delimiter") or None,
        start_after=key_marker,
        max_keys=max_keys,
    )
    async with expensive.held():  # the merge over shards (s3proxy.expensive)
        page = await ctx.storage.list_objects(bucket, list_query)
    pieces = list_versions_pieces(
        bucket=bucket,
        prefix=list_query.prefix,
        delimiter=list_query.delimiter,
        max_keys=list_query.max_keys,
        key_marker=key_marker or "",
        version_marker=version_marker or "",
        page=page,
        owner=ctx.owner,
        encode=encode,
    )
    return xml_stream(pieces)  # rendered as sent: ~5 MiB for long keys


def list_versions_pieces(
    *,
    bucket: str,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    key_marker: str,
    version_marker: str,
    page: MergedPage,
    owner: Owner,
    encode: bool,
) -> Iterator[str]:
    """ListVersionsResult in S3's element order, piece by piece. With ``encode``, S3
    URL-encodes Key, Prefix, Delimiter, KeyMarker and NextKeyMarker (botocore decodes exactly
    those)."""
    code = url_encode if encode else xml_text
    parts = [
        f"<Name>{escape(bucket)}</Name>",
        f"<Prefix>{code(prefix)}</Prefix>",
        f"<KeyMarker>{code(key_marker)}</KeyMarker>",
        f"<VersionIdMarker>{escape(version_marker)}</VersionIdMarker>",
    ]
    if page.is_truncated and page.last is not None:
        parts.append(f"<NextKeyMarker>{code(page.last)}</NextKeyMarker>")
        if page.entries and page.entries[-1].key == page.last:  # a key, not a common prefix
            parts.append(f"<NextVersionIdMarker>{NULL_VERSION}</NextVersionIdMarker>")
    parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        parts.append(f"<Delimiter>{code(delimiter)}</Delimiter>")
    parts.append(f"<IsTruncated>{'true' if page.is_truncated else 'false'}</IsTruncated>")
    shown = owner.display_name  # none to anyone but the owner (Owner.unnamed)
    owner_xml = (
        f"<Owner><ID>{escape(owner.id)}</ID>"
        + (f"<DisplayName>{escape(shown)}</DisplayName>" if shown else "")
        + "</Owner>"
    )
    return document_pieces("ListVersionsResult", _versions(parts, page, owner_xml, code, encode))


def _versions(
    head: list[str], page: MergedPage, owner_xml: str, code: Callable[[str], str], encode: bool
) -> Iterator[str]:
    yield "".join(head)
    for entry in page.entries:
        yield (
            f"<Version><Key>{code(entry.key)}</Key><VersionId>{NULL_VERSION}</VersionId>"
            f"<IsLatest>true</IsLatest>"
            f"<LastModified>{escape(s3_time(entry.last_modified))}</LastModified>"
            f"<ETag>{escape(entry.etag)}</ETag><Size>{entry.size}</Size>"
            f"<StorageClass>{escape(entry.storage_class)}</StorageClass>{owner_xml}</Version>"
        )
    for common in page.prefixes:
        yield f"<CommonPrefixes><Prefix>{code(common)}</Prefix></CommonPrefixes>"
    if encode:
        yield "<EncodingType>url</EncodingType>"
