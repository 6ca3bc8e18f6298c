"""Wave 15 R: AWS S3 is known by an S3 endpoint under ``amazonaws.com``, not by any host there.

An operator's own SeaweedFS, Ceph RGW or MinIO often answers at a load balancer's or an
instance's AWS name (a Kubernetes Service of type LoadBalancer on EKS gets
``…elb.amazonaws.com``). Taken for AWS S3, it got the client's metadata as sent: an empty value
that SeaweedFS drops, an ``a_b`` name that Ceph RGW stores as ``a-b``, an ``Expires`` SeaweedFS
refuses.
"""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_kind import is_aws
from s3proxy.backends.upstream_metadata import stored_headers
from s3proxy.model import ObjectAttributes


@pytest.mark.parametrize(
    "host",
    [
        "s3.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "s3.dualstack.us-east-2.amazonaws.com",
        "s3-fips.us-east-2.amazonaws.com",
        "s3-fips-us-gov-west-1.amazonaws.com",
        "s3-eu-west-1.amazonaws.com",
        "s3-external-1.amazonaws.com",
        "mybucket.s3.eu-west-1.amazonaws.com",
        "bucket.vpce-1a2b.s3.eu-west-1.vpce.amazonaws.com",
        "ap-111122223333.s3-accesspoint.us-west-2.amazonaws.com",
        "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com",
        "s3.cn-north-1.amazonaws.com.cn",
        "S3.EU-WEST-1.AMAZONAWS.COM.",
    ],
)
def test_an_s3_endpoint_is_aws(host: str) -> None:
    assert is_aws(host, "") is True


@pytest.mark.parametrize(
    "host",
    [
        "my-lb-1234567890.eu-west-1.elb.amazonaws.com",
        "s3-gw-1234567890.us-east-1.elb.amazonaws.com",
        "s3-us-east-1234567890.us-east-1.elb.amazonaws.com",
        "ec2-203-0-113-5.compute-1.amazonaws.com",
        "ec2-203-0-113-5.eu-west-1.compute.amazonaws.com",
        "minio.internal",
    ],
)
def test_another_host_under_amazonaws_is_not(host: str) -> None:
    assert is_aws(host, "") is False
    assert is_aws(host, "AmazonS3") is True  # S3's own answer still says it


def test_seaweedfs_behind_a_load_balancer_keeps_its_carried_entries() -> None:
    """What the transport stores there: an empty value as an encoded word, and a carried
    ``Expires`` (SeaweedFS takes only one form of date), as on any upstream not AWS S3."""
    aws = is_aws("seaweed-1234567890.eu-west-1.elb.amazonaws.com", "")
    attributes = ObjectAttributes(headers={"expires": "never"}, metadata={"empty": ""})
    stored = stored_headers(attributes, False, aws)
    assert "expires" not in stored
    assert stored["x-amz-meta-empty"] != ""
