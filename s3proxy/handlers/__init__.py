"""One async function per S3 operation, found through :data:`HANDLERS`."""

from __future__ import annotations

from s3proxy.handlers import (
    acl,
    attributes,
    bucket,
    default_storage_class,
    lock_ownership,
    multipart,
    object_copy,
    service,
    versions,
)
from s3proxy.handlers import bucket_settings as settings_handlers
from s3proxy.handlers import object as object_handlers
from s3proxy.handlers import tagging as tagging_handlers
from s3proxy.handlers.context import Handler
from s3proxy.operations import Operation

HANDLERS: dict[Operation, Handler] = {
    Operation.ListBuckets: service.list_buckets,
    Operation.CreateBucket: acl.create_bucket,
    Operation.HeadBucket: bucket.head_bucket,
    Operation.DeleteBucket: bucket.delete_bucket,
    Operation.GetBucketLocation: bucket.get_bucket_location,
    Operation.GetBucketVersioning: bucket.get_bucket_versioning,
    Operation.PutBucketVersioning: bucket.put_bucket_versioning,
    Operation.ListObjects: bucket.list_objects,
    Operation.ListObjectsV2: bucket.list_objects_v2,
    Operation.DeleteObjects: bucket.delete_objects,
    Operation.PutObject: acl.object_acls(object_handlers.put_object),
    Operation.CopyObject: acl.object_acls(object_copy.copy_object),
    Operation.GetObject: object_handlers.get_object,
    Operation.HeadObject: object_handlers.head_object,
    Operation.DeleteObject: object_handlers.delete_object,
    Operation.CreateMultipartUpload: multipart.create_multipart_upload,
    Operation.UploadPart: multipart.upload_part,
    Operation.UploadPartCopy: multipart.upload_part_copy,
    Operation.CompleteMultipartUpload: multipart.complete_multipart_upload,
    Operation.AbortMultipartUpload: multipart.abort_multipart_upload,
    Operation.ListParts: multipart.list_parts,
    Operation.PutBucketCors: settings_handlers.put_bucket_cors,
    Operation.GetBucketCors: settings_handlers.get_bucket_cors,
    Operation.DeleteBucketCors: settings_handlers.delete_bucket_cors,
    Operation.PutBucketTagging: settings_handlers.put_bucket_tagging,
    Operation.GetBucketTagging: settings_handlers.get_bucket_tagging,
    Operation.DeleteBucketTagging: settings_handlers.delete_bucket_tagging,
    Operation.GetObjectTagging: tagging_handlers.get_object_tagging,
    Operation.PutObjectTagging: tagging_handlers.put_object_tagging,
    Operation.DeleteObjectTagging: tagging_handlers.delete_object_tagging,
    Operation.ListMultipartUploads: multipart.list_multipart_uploads,
    Operation.ListObjectVersions: versions.list_object_versions,
    Operation.GetObjectAttributes: attributes.get_object_attributes,
    Operation.PutBucketAcl: acl.put_bucket_acl,
    Operation.GetBucketAcl: acl.get_bucket_acl,
    Operation.PutObjectAcl: acl.put_object_acl,
    Operation.GetObjectAcl: acl.get_object_acl,
    Operation.GetObjectLockConfiguration: lock_ownership.get_object_lock_configuration,
    Operation.PutObjectLockConfiguration: lock_ownership.put_object_lock_configuration,
    Operation.GetObjectRetention: lock_ownership.no_object_lock,
    Operation.PutObjectRetention: lock_ownership.no_object_lock,
    Operation.GetObjectLegalHold: lock_ownership.no_object_lock,
    Operation.PutObjectLegalHold: lock_ownership.no_object_lock,
    Operation.GetBucketOwnershipControls: lock_ownership.get_bucket_ownership_controls,
    Operation.PutBucketOwnershipControls: lock_ownership.put_bucket_ownership_controls,
    Operation.DeleteBucketOwnershipControls: lock_ownership.delete_bucket_ownership_controls,
    Operation.GetBucketDefaultStorageClass: (
        default_storage_class.get_bucket_default_storage_class
    ),
    Operation.PutBucketDefaultStorageClass: (
        default_storage_class.put_bucket_default_storage_class
    ),
}
