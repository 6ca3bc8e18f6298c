"""Object tags and storage classes on an S3 upstream.

Tags are the upstream's own object tagging (``?tagging``; SeaweedFS 4.48 and Ceph RGW 16 both
store and return it, and report ``x-amz-tagging-count`` on HEAD/GET). Ceph RGW 16 ignores
``x-amz-tagging-directive: REPLACE`` on CopyObject (the copy keeps the source's tags), so a
copy that replaces tags sets them with a PutObjectTagging right after the copy: between the two
requests the copy shows the source's tags. It also drops the source's tags from a copy whose
metadata is replaced (``x-amz-metadata-directive: REPLACE``, which a self-copy that changes
only the class sends too) although the tagging directive is ``COPY``: those tags are read
before the copy and set on it right after (:meth:`S3TaggingMixin.tags_to_keep`). Both only
where the upstream is Ceph RGW or not known yet (``ceph_rgw`` not False): elsewhere the copy
keeps what S3 keeps, and a write of the key between the copy and that PutObjectTagging got the
copy's tags on its own object (an upload's tags, given on Create, alike:
:mod:`.mapped_completion`). A storage class is sent only when the upstream's configuration
lists it (:mod:`s3proxy.storage_classes` says why).
"""

from __future__ import annotations

from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.backends.upstream_results import upstream_result
from s3proxy.backends.wire import xml_body_headers
from s3proxy.errors import S3Error
from s3proxy.model import Tags
from s3proxy.storage_classes import write_headers
from s3proxy.tagging import document
from s3proxy.upstream_xml import parse_tagging


class S3TaggingMixin:
    """Part of :class:`~s3proxy.backends.s3.S3Upstream`, as the multipart mixin is."""

    def class_headers(self: _Transport, storage_class: str, tags: Tags) -> dict[str, str]:
        return write_headers(self._config.storage_classes, storage_class, tags)

    async def get_object_tagging(self: _Transport, bucket: str, key: str) -> Tags:
        response = await self._send("GET", bucket, key, {}, query="tagging=")
        await self._raise_for_status(response)
        return await upstream_result(self, response, parse_tagging)

    async def tags_to_keep(self: _Transport, bucket: str, key: str) -> Tags:
        """The tags of a copy source whose copy replaces the metadata, read before the copy
        (a self-copy loses them in it): S3 keeps them on the copy (tagging directive
        ``COPY``), Ceph RGW 16 drops them. A source that is not there has none (the copy
        itself then answers why), nor has one on an upstream without tagging (501)."""
        try:
            return await S3TaggingMixin.get_object_tagging(self, bucket, key)
        except S3Error as error:
            if error.status in (404, 501):
                return ()
            raise

    async def put_object_tagging(self: _Transport, bucket: str, key: str, tags: Tags) -> None:
        """Replace the object's tags; an empty set deletes them."""
        if not tags:
            response = await self._send("DELETE", bucket, key, {}, query="tagging=")
        else:
            body = document(tags)
            headers, digest = xml_body_headers(body)
            response = await self._send(
                "PUT", bucket, key, headers, query="tagging=", body=body, payload_hash=digest
            )
        await self._raise_for_status(response)
        response.release()
