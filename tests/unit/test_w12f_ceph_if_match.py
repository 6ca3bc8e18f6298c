"""PutObject's If-Match on Ceph RGW 16 (wave 12, F).

RGW 16 compares If-Match with the ETag it stores, which has no quotes: a client's
``"<etag>"`` never matched, so every conditional PUT (and every conditional copy, which the
gateway streams into a conditional PUT) was 412 with the right ETag (measured 2026-12-04: the
bare ETag matches, a wrong one and a missing key are 412). The gateway knows RGW by its request
ids (it sends no Server header) and sends it the one quoted ETag bare; other upstreams get the
header as the client sent it. The integration lane shows it on RGW itself (test_objects,
test_s3tests_objects and test_w10c_copy_conditions, no longer expected to fail there).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from s3proxy.backends.upstream_kind import if_match_for, is_ceph_rgw
from s3proxy.model import ObjectAttributes, PutObjectInput, WriteConditions
from tests.unit.test_s3_multipart import upstream

RGW_ID = "tx00000eb7fe79f068314a8-006b134ff7-1005-default"
ETAG = '"6654c734ccab8f440ff0825eb443dc7f"'


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (ETAG, ETAG.strip('"')),
        (" " + ETAG + " ", ETAG.strip('"')),
        (ETAG.strip('"'), ETAG.strip('"')),
        ("W/" + ETAG, "W/" + ETAG),  # weak: compared strongly, so it must keep failing
        (f"{ETAG}, {ETAG}", f"{ETAG}, {ETAG}"),
        ("*", "*"),
        ('""', ""),
    ],
)
def test_only_one_quoted_etag_is_sent_bare_to_ceph(value: str, sent: str) -> None:
    assert if_match_for(value, ceph_rgw=True) == sent
    assert if_match_for(value, ceph_rgw=False) == value
    assert if_match_for(value, ceph_rgw=None) == value  # not known yet: as sent


def test_ceph_is_known_by_its_request_ids() -> None:
    assert is_ceph_rgw("", RGW_ID)
    assert is_ceph_rgw("  ", RGW_ID)
    assert not is_ceph_rgw("SeaweedFS 4.48", RGW_ID)
    assert not is_ceph_rgw("", "4442587FB7D0A2F9")  # AWS's form
    assert not is_ceph_rgw("", "")


def put_if_match(server: str, request_id: str) -> list[str]:
    """The If-Match values an upstream answering with these headers gets for two PUTs with
    If-Match ``ETAG`` (the first answer teaches the gateway which server it is)."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("If-Match", ""))
        await request.read()
        headers = {"ETag": ETAG, "x-amz-request-id": request_id, "Server": server}
        return web.Response(headers=headers)

    async def body() -> object:
        yield b"v"

    async def go() -> None:
        async with upstream(handler) as backend:
            for _ in range(2):
                await backend.put_object(
                    PutObjectInput(
                        bucket="ub",
                        key="k",
                        body=body(),  # type: ignore[arg-type]
                        content_length=1,
                        attributes=ObjectAttributes(),
                        conditions=WriteConditions(if_match=ETAG),
                    )
                )

    asyncio.run(go())
    return seen


def test_an_upstream_that_answers_as_ceph_gets_the_bare_etag() -> None:
    assert put_if_match("", RGW_ID) == [ETAG, ETAG.strip('"')]


def test_any_other_upstream_gets_if_match_as_sent() -> None:
    assert put_if_match("AmazonS3", "4442587FB7D0A2F9") == [ETAG, ETAG]
    assert put_if_match("", "4442587FB7D0A2F9") == [ETAG, ETAG]
