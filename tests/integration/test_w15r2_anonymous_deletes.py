"""Anonymous conditional deletes in a ``public-read-write`` bucket (wave 15 R2).

S3's conditional delete (``If-Match`` on DeleteObject, ``<ETag>`` in a DeleteObjects entry)
needs s3:GetObject besides s3:DeleteObject. In a public bucket the gateway serves everyone
its objects (README "Anonymous requests": its objects are readable too, as issue 17 asks), so
an anonymous caller has both there: DeleteObject with If-Match was carried out, but a
DeleteObjects entry with an ``<ETag>`` was answered AccessDenied whatever the ETag, since the
anonymous batch's grants held no read. Now both answer alike: the matching ETag deletes, a
stale one is the entry's PreconditionFailed and the object stays.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send

pytestmark = pytest.mark.integration


@pytest.mark.one_lane  # the grant is decided before the storage; the local store checks ETags
def test_anonymous_batch_deletes_bound_to_an_etag(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    bucket = "anon-etag-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
        etag = s3.put_object(Bucket=bucket, Key="one", Body=b"one")["ETag"]
        s3.put_object(Bucket=bucket, Key="two", Body=b"two")
        body = (
            f"<Delete><Object><Key>one</Key><ETag>{etag}</ETag></Object>"
            f'<Object><Key>two</Key><ETag>"{"0" * 32}"</ETag></Object></Delete>'
        ).encode()
        headers = {
            "Host": proxy.host,
            "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        }
        answer = send("POST", object_url(proxy.endpoint, bucket, None, "delete"), headers, body)
        assert answer.status == 200, answer.body
        assert b"<Deleted><Key>one</Key>" in answer.body, answer.body
        assert b"<Key>two</Key><Code>PreconditionFailed</Code>" in answer.body, answer.body
        assert b"AccessDenied" not in answer.body
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        assert [item["Key"] for item in listed] == ["two"]
        # The single delete answers the same: a stale ETag 412, the right one 204.
        url = object_url(proxy.endpoint, bucket, "two", "")
        stale = send("DELETE", url, {"Host": proxy.host, "If-Match": etag}, b"")
        assert (stale.status, stale.error_code) == (412, "PreconditionFailed")
        right = s3.head_object(Bucket=bucket, Key="two")["ETag"]
        assert send("DELETE", url, {"Host": proxy.host, "If-Match": right}, b"").status == 204
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
