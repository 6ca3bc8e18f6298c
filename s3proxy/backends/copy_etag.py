"""Whether a CopyObject may stay server-side and still get the ETag S3 gives the copy. Pure.

AWS's Object reference ("ETag"): an object made by PUT, POST or Copy, plaintext or SSE-S3, has
the MD5 digest of its bytes as ETag; one made by a multipart upload or UploadPartCopy has not.
So S3 gives the copy of a multipart object (ETag ``"<hex>-N"``) the MD5 of the bytes copied
(minio/minio#2934 and localstack/localstack#3729, both checked against S3), and clients that
compare an MD5 with a single object's ETag (rclone, aws s3 sync, s3cmd) rely on it.

Why: SeaweedFS 4.48, Ceph RGW 16 and MinIO (minio/minio#20915) keep the source's ``-N`` ETag
on a server-side copy, and the local store copied its row with it. Such a copy passes through
the gateway instead (:func:`s3proxy.backends.part_copy.copy_object_through`): the upstream's
PutObject then gives the MD5. An upstream that answers S3's ETag itself (``copies_md5_etag``:
AWS S3; the local store, which sums the stored bytes, :mod:`.local.copy_digest`) keeps its
server-side copy. An SSE-C copy is left as it is: S3's ETag there is no MD5 either way. A
source over S3's CopyObject limit (5 GiB, :data:`MAX_COPY_SOURCE`) is refused as S3 refuses it.
"""

from __future__ import annotations

from s3proxy.model import CopyObjectInput
from s3proxy.sse import customer_copy

MAX_COPY_SOURCE = 5 * 1024**3
"""The largest source S3 copies with CopyObject (a larger one, necessarily a multipart
object, is copied with UploadPartCopy). Past it S3 answers 400 InvalidRequest with
:data:`TOO_LARGE` (versity/versitygw#1896, rclone/rclone#2375 quote S3's answer); the gateway
copied it server-side, and a copy passing through here would be one PUT past S3's PUT limit."""
TOO_LARGE = (
    "The specified copy source is larger than the maximum allowable size for a copy source: "
    f"{MAX_COPY_SOURCE}"
)


def multipart_etag(etag: str) -> bool:
    """Whether ``etag`` (quoted or not) is a multipart object's: ``<hex>-<part count>``."""
    _, dash, count = etag.strip().strip('"').rpartition("-")
    return bool(dash) and count.isdigit()


def keeps_wrong_etag(etag: str, request: CopyObjectInput, upstream: object) -> bool:
    """Whether a server-side copy of a source whose ETag is ``etag`` on ``upstream`` (a
    :class:`~s3proxy.backends.base.Backend`) would give the copy an ETag S3 would not."""
    if not multipart_etag(etag) or getattr(upstream, "copies_md5_etag", False):
        return False
    return not customer_copy(request)
