"""AWS S3's 409 ConditionalRequestConflict reaches clients as S3's, and a claim's conditional PUT
that meets another waits its turn (wave 15 review, R3).

AWS S3 answers a conditional write (``If-None-Match: *`` / ``If-Match`` on PutObject, a
Complete, a copy) that meets a concurrent operation on its key 409 ConditionalRequestConflict
("retry on 409", the SDK references say). The gateway knew no such code: an upstream 409 became
400 InvalidRequest ("the storage refused"), a refusal no client retries, for a client's own
conditional PUT and for the gateway's own conditional writes alike. It is now passed on as S3's
409; and an upload's ``.ending/`` claim (:mod:`s3proxy.backends.upload_claims`), written under
``If-None-Match: *``, takes a 409 as what it is, another holder writing the claim at that
moment, and waits for it as for its 412, where it made the client's Complete or abort fail.
"""

from __future__ import annotations

import asyncio

from s3proxy.backends import upload_claims
from s3proxy.backends.upstream_errors import translate
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import PutObjectInput, PutObjectOutput


def test_an_upstream_409_conditional_request_conflict_is_passed_on_as_s3s() -> None:
    """Before: 400 InvalidRequest, which SDKs never retry."""
    error = translate(409, "ConditionalRequestConflict", bodied=True)
    assert (error.code.name, error.status) == ("ConditionalRequestConflict", 409)
    assert "storage" not in error.message.lower()  # S3's message, not the gateway's refusal


class Keeper:
    """The home's upstream: the first claim PUT meets another's conditional write (409), the
    next finds that claim (412), the third takes it."""

    def __init__(self) -> None:
        self.answers = [
            S3Error(S3ErrorCode.ConditionalRequestConflict),
            S3Error(S3ErrorCode.PreconditionFailed),
        ]
        self.puts: list[str] = []
        self.deleted: list[str] = []

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        assert request.conditions.if_none_match == "*"
        self.puts.append(request.key)
        if self.answers:
            raise self.answers.pop(0)
        return PutObjectOutput(etag='"d41d8cd98f00b204e9800998ecf8427e"')

    async def delete_object(self, bucket: str, key: str) -> None:
        self.deleted.append(key)

    async def head_object(self, bucket: str, key: str, conditions: object) -> None:
        raise S3Error(S3ErrorCode.NoSuchKey)  # the other's claim, being written (a waiter reads it)


def test_a_claim_that_meets_a_concurrent_claim_409_waits_for_it() -> None:
    """Before: the 409 went to the client as its Complete's or abort's answer."""

    async def scenario() -> list[str]:
        keeper = Keeper()
        home = UpstreamRoot("up", "homes", "t/")
        location = UpstreamLocation("up", "b", "k")
        ran: list[str] = []
        async with upload_claims.claimed(keeper, home, location, "u1"):  # type: ignore[arg-type]
            ran.append("body")
        key = upload_claims.claim_key(home, location, "u1")
        assert keeper.puts == [key] * 3 and keeper.deleted == [key]
        return ran

    assert asyncio.run(scenario()) == ["body"]
