"""One async function per S3 operation, found through :data:`HANDLERS`."""

from __future__ import annotations

from s3proxy.handlers import bucket, multipart, service
from s3proxy.handlers import object as object_handlers
from s3proxy.handlers.context import Handler
from s3proxy.operations import Operation

HANDLERS: dict[Operation, Handler] = {
    Operation.ListBuckets: service.list_buckets,
    Operation.CreateBucket: bucket.create_bucket,
    Operation.HeadBucket: bucket.head_bucket,
    Operation.DeleteBucket: bucket.delete_bucket,
    Operation.GetBucketLocation: bucket.get_bucket_location,
    Operation.GetBucketVersioning: bucket.get_bucket_versioning,
    Operation.PutBucketVersioning: bucket.put_bucket_versioning,
    Operation.ListObjects: bucket.list_objects,
    Operation.ListObjectsV2: bucket.list_objects_v2,
    Operation.DeleteObjects: bucket.delete_objects,
    Operation.PutObject: object_handlers.put_object,
    Operation.CopyObject: object_handlers.copy_object,
    Operation.GetObject: object_handlers.get_object,
    Operation.HeadObject: object_handlers.head_object,
    Operation.DeleteObject: object_handlers.delete_object,
    Operation.CreateMultipartUpload: multipart.create_multipart_upload,
    Operation.UploadPart: multipart.upload_part,
    Operation.UploadPartCopy: multipart.upload_part_copy,
    Operation.CompleteMultipartUpload: multipart.complete_multipart_upload,
    Operation.AbortMultipartUpload: multipart.abort_multipart_upload,
    Operation.ListParts: multipart.list_parts,
    Operation.ListMultipartUploads: multipart.list_multipart_uploads,
}
