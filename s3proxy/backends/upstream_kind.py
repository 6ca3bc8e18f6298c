"""Which S3 server an upstream is, where its quirks need the proxy to know.

Most servers name themselves in ``Server`` (``AmazonS3``, ``MinIO``, ``SeaweedFS 4.48``); Ceph
RGW 16 sends no ``Server`` header, but its request ids have a form of their own:
``tx`` + hex, then its time, instance and zone group
(``tx00000eb7fe79f068314a8-006b134ff7-1005-default``). What depends on knowing it: its
ListMultipartUploads order (:mod:`~s3proxy.backends.upload_markers`) and its If-Match on
PutObject, which it compares with the bare ETag (:func:`if_match_for`). A ``Server`` header
may be a proxy's own (nginx rewrites it by default), so what can be learnt from an answer's
shape is learnt so (:mod:`~s3proxy.backends.upload_gone`,
:mod:`~s3proxy.backends.s3_copy_learning`); AWS S3 is known by its endpoint too
(:func:`is_aws`), and there the gateway stores an object's metadata as the client sent it
(:func:`~s3proxy.backends.upstream_metadata.stored_headers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

RGW_REQUEST_ID = re.compile(r"tx[0-9a-f]{9,}-[0-9a-f]{8,}-[0-9a-f]+-\S+")

AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn")
"""Where AWS S3 answers (``s3.us-east-1.amazonaws.com``, a VPC endpoint's
``bucket.vpce-….s3.us-east-1.vpce.amazonaws.com``): an S3 endpoint there is AWS S3 whatever
sits between, so it is known before any answer and behind a proxy that rewrites ``Server``."""

_S3_LABEL = re.compile(
    r"s3(-fips|-accesspoint(-fips)?|-external-1|-control|-object-lambda)?"
    r"|s3-(fips-)?[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]"  # legacy s3-eu-west-1
    r"|s3express-(control|[a-z0-9]+-az[0-9]+)"
)
"""The label that names S3 in its endpoints (``s3.``, ``s3-fips.``, ``s3-accesspoint.``,
``s3-us-west-2.``, ``s3express-usw2-az1.``, …). Other names under ``amazonaws.com`` are not S3:
a load balancer's (``my-lb-1234.eu-west-1.elb.amazonaws.com``) or an instance's
(``ec2-203-0-113-5.compute-1.amazonaws.com``) is often where an operator's own SeaweedFS, Ceph
RGW or MinIO answers, and taken for AWS S3 it got metadata stored as sent: empty values that
SeaweedFS drops, ``a_b`` names that Ceph RGW keeps as ``a-b``."""


def is_aws(host: str, server: str) -> bool:
    """Whether the upstream at ``host`` that answered with this ``Server`` header (S3's own
    answer: ``AmazonS3``) is AWS S3."""
    if server.strip().lower() == "amazons3":
        return True
    name = host.lower().rstrip(".")
    suffix = next((end for end in AWS_HOSTS[::-1] if name.endswith(end)), None)
    if suffix is None:
        return False
    labels = name[: -len(suffix)].split(".")
    return any(_S3_LABEL.fullmatch(label) is not None for label in labels)


def is_ceph_rgw(server: str, request_id: str) -> bool:
    """Whether an answer with this ``Server`` header and ``x-amz-request-id`` is Ceph RGW's."""
    return not server.strip() and RGW_REQUEST_ID.fullmatch(request_id.strip()) is not None


def answered_by_rgw(headers: Mapping[str, str]) -> bool:
    return is_ceph_rgw(headers.get("Server", ""), headers.get("x-amz-request-id", ""))


def if_match_for(value: str, ceph_rgw: bool | None) -> str:
    """A PutObject's ``If-Match`` as the upstream compares it. Ceph RGW 16 compares the header
    with its stored ETag, which it keeps without quotes: ``"<etag>"`` never matched, so every
    conditional PUT was 412 (measured: the bare ETag matches, a wrong one is 412, and a key
    with no object is 412). The one ETag is sent bare there, also when the client left out one
    of its quotes: S3 matches ``<etag>"`` (moto's AWS-verified conditional PUT test), and the
    local store and SeaweedFS match ``"<etag>`` too, which RGW answered 412 (wave 17, K).
    Anything else (``W/``, lists, ``*``) goes as the client sent it."""
    if not ceph_rgw:
        return value
    stripped = value.strip()
    inner = stripped.removeprefix('"').removesuffix('"')
    if len(stripped) >= 2 and inner != stripped and '"' not in inner:
        return inner
    return value


def signed_headers_for(headers: Mapping[str, str], ceph_rgw: bool | None) -> Mapping[str, str]:
    """The request headers the gateway signs for the upstream (all by default).

    Ceph RGW 16 fails its own signature check on a request whose signed ``Content-Type`` holds
    a tab between two other characters (``a<TAB>b``: 403 SignatureDoesNotMatch, which the
    client saw as the gateway's 500), however the value is canonicalised — trimmed and
    collapsed as SigV4 says, tabs kept, or tabs as spaces (measured; ``a <TAB>b`` passes).
    SigV4 needs only ``host`` and the ``x-amz-*`` headers signed, and RGW stores an unsigned
    Content-Type byte for byte, so such a Content-Type goes unsigned there (and to an upstream
    not yet known to be another server); every other header, and every other value, is signed
    as before."""
    value = next((v for name, v in headers.items() if name.lower() == "content-type"), None)
    if ceph_rgw is False or value is None or "\t" not in value.strip(" \t"):
        return headers
    return {name: v for name, v in headers.items() if name.lower() != "content-type"}
