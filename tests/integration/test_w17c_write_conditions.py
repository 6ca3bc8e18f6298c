"""Conditional writes S3 does not take, refused as S3 refuses them (wave 17 C).

Before: a PutObject or CompleteMultipartUpload with both ``If-Match`` and ``If-None-Match: *``
was 412 on every lane (If-None-Match failing first) where S3 answers 501 NotImplemented naming
the pair; an ``If-Match`` naming a list of ETags that held the object's was a write (200) on
the local store and SeaweedFS and 412 on Ceph RGW (S3's answer unverified): now 501 naming
If-Match on every lane, nothing written. Decided before any backend call: one lane.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET, _plain_client

pytestmark = [pytest.mark.integration, pytest.mark.one_lane]

PAIR = {
    "Code": "NotImplemented",
    "Message": "A header you provided implies functionality that is not implemented",
    "Header": "If-Match,If-None-Match",
    "additionalMessage": "Multiple conditional request headers present in the request",
}
LIST = {
    **PAIR,
    "Header": "If-Match",
    "additionalMessage": "We don't accept the provided value of If-Match header for this API",
}


def _refused(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    answer = refused.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    return {name: answer["Error"].get(name, "") for name in PAIR}


def test_conditional_writes_s3_does_not_take_are_refused(proxy: Proxy) -> None:
    s3 = _plain_client(proxy)
    key = "w17c/conditions"
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"first")["ETag"]
    put = s3.put_object
    assert _refused(put, Bucket=BUCKET, Key=key, Body=b"x", IfMatch=etag, IfNoneMatch="*") == PAIR
    assert _refused(put, Bucket=BUCKET, Key=key, Body=b"x", IfMatch=f'"other", {etag}') == LIST

    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(**ids)["UploadId"]
    part = {"PartNumber": 1, "ETag": s3.upload_part(**ids, PartNumber=1, Body=b"p")["ETag"]}
    done = {**ids, "MultipartUpload": {"Parts": [part]}}
    complete = s3.complete_multipart_upload
    assert _refused(complete, **done, IfMatch=etag, IfNoneMatch="*") == PAIR
    assert _refused(complete, **done, IfMatch=f"{etag},{etag}") == LIST

    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"first"  # nothing written
    assert complete(**done, IfMatch=etag)["ETag"] != etag  # the upload is still there
