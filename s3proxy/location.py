"""CreateBucket's LocationConstraint: buckets live in the one region the proxy serves.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html. A constraint naming
``server.region``, or none, is what the proxy does; another region is refused as a regional S3
endpoint refuses it (IllegalLocationConstraintException), and a value that is no region at all
as S3 refuses it (InvalidLocationConstraint). ``EU`` is S3's legacy name for eu-west-1. ``US``
is not a LocationConstraint S3 accepts (us-east-1 is spelled by sending none), so it is refused.
"""

from __future__ import annotations

import re

from s3proxy.errors import S3Error, S3ErrorCode

ALIASES = {"EU": "eu-west-1"}
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
"""The shape of an AWS region name (us-east-1, us-gov-west-1, ap-southeast-7)."""


def check_location_constraint(constraint: str | None, region: str) -> None:
    """Accept ``None`` (no constraint) and the served ``region``; refuse everything else."""
    if constraint is None or ALIASES.get(constraint, constraint) == region:
        return
    if constraint in ALIASES or REGION_RE.fullmatch(constraint):
        raise S3Error(
            S3ErrorCode.IllegalLocationConstraintException,
            f"The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        )
    raise S3Error(S3ErrorCode.InvalidLocationConstraint, LocationConstraint=constraint)
