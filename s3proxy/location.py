"""CreateBucket's LocationConstraint: buckets live in the one region the proxy serves.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html. A constraint naming
``server.region``, or none, is what the proxy does; another region is refused as a regional S3
endpoint refuses it (IllegalLocationConstraintException), and a value that is no region at all
as S3 refuses it (InvalidLocationConstraint). ``EU`` is S3's legacy name for eu-west-1.
us-east-1 is spelled by sending no constraint: neither ``US`` nor ``us-east-1`` itself is a value
S3 accepts (``us-east-1`` answers InvalidLocationConstraint even on a us-east-1 endpoint, the
answer every SDK user meets there), so both are refused, whatever region the proxy serves.
"""

from __future__ import annotations

import re

from s3proxy.errors import S3Error, S3ErrorCode

ALIASES = {"EU": "eu-west-1"}
NEVER_A_CONSTRAINT = frozenset({"US", "us-east-1"})
"""Spellings of us-east-1, which S3 wants written as no constraint at all."""
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
"""The shape of an AWS region name (us-east-1, us-gov-west-1, ap-southeast-7)."""


def check_location_constraint(constraint: str | None, region: str) -> None:
    """Accept ``None`` (no constraint) and the served ``region`` (unless it is us-east-1, which
    only no constraint spells); refuse everything else."""
    if constraint is None:
        return
    if constraint in NEVER_A_CONSTRAINT:
        raise S3Error(S3ErrorCode.InvalidLocationConstraint, LocationConstraint=constraint)
    if ALIASES.get(constraint, constraint) == region:
        return
    if constraint in ALIASES or REGION_RE.fullmatch(constraint):
        raise S3Error(
            S3ErrorCode.IllegalLocationConstraintException,
            f"The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        )
    raise S3Error(S3ErrorCode.InvalidLocationConstraint, LocationConstraint=constraint)
