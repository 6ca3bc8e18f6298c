"""Every operation in botocore's S3 model, called once on each lane: served as itself or refused.

The run is ``conformance/operations_report.py``; its results land in
``build/operations/<lane>.json`` so that ``python -m conformance.operations_report render`` can
regenerate the table in COMPATIBILITY.md from the last run.
"""

from __future__ import annotations

from conformance.operation_outcomes import botocore_operations
from conformance.operations_report import run, write_results
from conformance.operations_section import problems
from tests.integration.conftest import Proxy

# Operations the proxy must keep serving: a guard against a run that refuses everything.
SERVED = (
    "ListBuckets", "CreateBucket", "HeadBucket", "DeleteBucket", "ListObjects", "ListObjectsV2",
    "PutObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject",
    "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "ListParts",
    "AbortMultipartUpload", "ListMultipartUploads", "GetBucketLocation", "GetBucketVersioning",
    "ListObjectVersions", "GetObjectAttributes",
    "PutBucketCors", "GetBucketCors", "DeleteBucketCors", "PutBucketTagging",
    "GetBucketTagging", "DeleteBucketTagging",
    "PutObjectTagging", "GetObjectTagging", "DeleteObjectTagging",
    "PutBucketAcl", "GetBucketAcl", "PutObjectAcl", "GetObjectAcl",
    "GetBucketDefaultStorageClass", "PutBucketDefaultStorageClass",
)  # fmt: skip


def test_every_operation_is_served_as_itself_or_refused(proxy: Proxy, backend: str) -> None:
    document = run(proxy.endpoint, *proxy.keys("alice"), proxy.process.log_text, backend)
    write_results(document)
    outcomes = {o["operation"]: o for o in document["outcomes"]}
    assert sorted(outcomes) == sorted(botocore_operations())
    unreached = [name for name, o in outcomes.items() if o["resolved"] is None]
    assert unreached == [], "calls with no access-log line"
    assert problems(document) == []
    assert [name for name in SERVED if outcomes[name]["verdict"] != "served"] == []
