"""Which upstreams are sent a client's trailer checksum as an aws-chunked trailer (wave 14 A).

Under ``request_style: plain`` only a server known to store it: SeaweedFS (measured), AWS S3 and
MinIO over TLS (as boto3 sends it to them). Any other, or one not yet heard from, gets a plain
body: a server that does not know aws-chunked could store the framing as the object's bytes.
"""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_chunked import takes_trailers


@pytest.mark.parametrize(
    ("style", "server", "tls", "expected"),
    [
        ("aws-chunked", None, False, True),  # the operator said so
        ("aws-chunked", "", True, True),
        ("plain", "SeaweedFS 4.48", False, True),
        ("plain", " seaweedfs", True, True),
        ("plain", "AmazonS3", True, True),
        ("plain", "MinIO", True, True),
        ("plain", "AmazonS3", False, False),  # unsigned trailers: as SDKs send them, over TLS
        ("plain", "MinIO", False, False),
        ("plain", "", True, False),  # Ceph RGW 16 names no server, and refuses aws-chunked
        ("plain", None, True, False),  # no answer seen yet
        ("plain", "nginx", True, False),
        ("plain", "Garage", True, False),
    ],
)
def test_takes_trailers(style: str, server: str | None, tls: bool, expected: bool) -> None:
    assert takes_trailers(style, server, tls) is expected
