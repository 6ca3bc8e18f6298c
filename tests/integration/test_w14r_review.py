"""Wave 14 review (R): an object whose stored metadata the proxy never wrote is still read.

An object another tool stored in a mapped bucket, or a forged ``s3proxy-meta`` entry an older
release stored for a client, can hold entries that decode to what no header carries. Decoded,
a CR LF in one made uvicorn refuse the answer ("Invalid HTTP header value"): the connection
dropped and a traceback was logged on every GET and HEAD of the object. Such an entry is
answered as stored (:mod:`s3proxy.backends.upstream_metadata`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, upstream_key
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


@pytest.mark.upstream_layout
def test_metadata_the_proxy_never_wrote_is_answered_as_stored(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    s3, bucket = proxy.client("alice"), make_bucket()
    pairs = "x=a%0D%0ASet-Cookie:%20s%3D1"
    stored = {
        "s3proxy-meta": hashlib.sha256(pairs.encode()).hexdigest()[:16] + ";" + pairs,
        "n": "=?UTF-8?Q?=FF?=",
    }
    proxy.upstream.put_object(
        Bucket=proxy.home_bucket,
        Key=upstream_key("alice", bucket, "foreign"),
        Body=b"body",
        Metadata=stored,
    )
    got = s3.get_object(Bucket=bucket, Key="foreign")
    assert (got["Body"].read(), got["Metadata"]) == (b"body", stored)
    assert "set-cookie" not in got["ResponseMetadata"]["HTTPHeaders"]
    assert s3.head_object(Bucket=bucket, Key="foreign")["Metadata"] == stored
